import { type Kysely, sql } from 'kysely';

/** The till's balance read: one pass over the member's open lots per wallet instead of two. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create or replace function loyalty_card_balance(p_ws uuid, p_number text, p_now timestamptz) returns jsonb
      language plpgsql stable as $$
    declare
      v_card record;
    begin
      select c.status, c.member_id, m.profile_id, p.key into v_card
        from loyalty_cards c join loyalty_members m on m.id = c.member_id join loyalty_programmes p on p.id = c.programme_id
        where c.workspace_id = p_ws and c.number = p_number;
      if not found then
        return null;
      end if;
      return jsonb_build_object('status', v_card.status, 'memberId', v_card.member_id, 'profileId', v_card.profile_id,
        'programme', v_card.key, 'wallets', (
          select coalesce(jsonb_agg(jsonb_build_array(w.wallet, w.balance, o.pending, o.expired) order by w.wallet),
            '[]'::jsonb)
          from loyalty_wallets w
          cross join lateral (
            select coalesce(sum(l.remaining) filter (where l.available_at > p_now), 0) as pending,
              coalesce(sum(l.remaining) filter (where l.available_at <= p_now and l.expires_at <= p_now), 0) as expired
            from loyalty_lots l where l.member_id = w.member_id and l.wallet = w.wallet and l.remaining > 0) o
          where w.member_id = v_card.member_id));
    end $$`.execute(db);
}
