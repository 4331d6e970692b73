import { type Kysely, sql } from 'kysely';

/**
 * Group commit of till changes: many members' state reads in one call, many changes in one call. Each change is
 * applied in its own subtransaction (an exception block), so a stale version (40001), a reused idempotency key
 * (23505), a used verification (LY001) or a deadlock fails that change alone and is reported per item; the others
 * commit together.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create function loyalty_member_states(p_items jsonb) returns jsonb language plpgsql stable as $$
    declare
      v_item jsonb;
      v_out jsonb := '[]'::jsonb;
    begin
      for v_item in select value from jsonb_array_elements(p_items) loop
        v_out := v_out || jsonb_build_array(coalesce(loyalty_member_state((v_item ->> 'ws')::uuid,
          (v_item ->> 'programme')::uuid, v_item ->> 'card', v_item ->> 'qr', (v_item ->> 'member')::uuid,
          array(select jsonb_array_elements_text(v_item -> 'periods')), v_item ->> 'key'), 'null'::jsonb));
      end loop;
      return v_out;
    end $$`.execute(db);

  await sql`create function loyalty_apply_many(p_items jsonb) returns jsonb language plpgsql as $$
    declare
      v_item jsonb;
      v_out jsonb := '[]'::jsonb;
      v_state text;
      v_constraint text;
      v_message text;
    begin
      for v_item in select value from jsonb_array_elements(p_items) loop
        begin
          perform loyalty_apply((v_item ->> 'ws')::uuid, (v_item ->> 'member')::uuid, (v_item ->> 'version')::bigint,
            v_item -> 'request', v_item -> 'change');
          v_out := v_out || jsonb_build_array(jsonb_build_object('ok', true));
        exception when others then
          get stacked diagnostics v_state = returned_sqlstate, v_constraint = constraint_name, v_message = message_text;
          v_out := v_out || jsonb_build_array(jsonb_build_object('ok', false, 'code', v_state,
            'constraint', v_constraint, 'message', v_message));
        end;
      end loop;
      return v_out;
    end $$`.execute(db);
}
