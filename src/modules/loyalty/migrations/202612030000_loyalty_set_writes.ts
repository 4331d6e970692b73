import { type Kysely, sql } from 'kysely';

// Group commit wrote a group's changes one by one: loyalty_apply per change, each in its own subtransaction, each of
// its seven or eight single-row statements paying executor start-up and a function scan of its part of the document
// (≈ 490 µs a purchase in PostgreSQL, of which ≈ 130 µs overhead). Here a group of plain changes is written as sets:
// one statement per table for the whole group. The member-state reads of a group become one statement too.
//
// loyalty_apply_set: the changes of a group in one pass.
//   1. Lock the group's members in id order (two groups sharing members cannot deadlock) and keep, per member, the
//      first change made on the version the member still has; the others failed with 40001 (read again, plan again).
//   2. Claim the idempotency keys of those changes; a key already held (or claimed by an earlier change of the same
//      group) fails its change with 23505, as loyalty_apply's insert would.
//   3. Write every part of the changes that remain, one statement per table.
// Any error (a CHECK that refuses a negative balance, a key claimed by another member's change meanwhile …) leaves
// the set path: loyalty_apply_many then writes the group one change at a time, each in its own subtransaction, so
// that the failing change alone fails and says why. Changes that use a verification or redeem a reward (checks that
// raise per change) always go one at a time.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create or replace function loyalty_apply_set(p_items jsonb) returns jsonb language plpgsql as $$
    declare
      v_ok bigint[];
      v_taken bigint[];
    begin
      select coalesce(array_agg(s.n), '{}') into v_ok from (
        select distinct on (it.member) it.n
          from (select a.n, (a.v ->> 'ws')::uuid ws, (a.v ->> 'member')::uuid member, (a.v ->> 'version')::bigint version
              from jsonb_array_elements(p_items) with ordinality a(v, n)) it
          join (select m.id, m.workspace_id, m.version from loyalty_members m
              where m.id = any(array(select (e ->> 'member')::uuid from jsonb_array_elements(p_items) e))
              order by m.id for update) l
            on l.id = it.member and l.workspace_id = it.ws and l.version = it.version
          order by it.member, it.n) s;

      with want as (
          select a.n, (a.v ->> 'ws')::uuid ws, a.v -> 'request' r,
              row_number() over (partition by a.v ->> 'ws', a.v -> 'request' ->> 'key' order by a.n) k
            from jsonb_array_elements(p_items) with ordinality a(v, n)
            where a.n = any(v_ok) and a.v ? 'request'),
        claimed as (
          insert into loyalty_requests (workspace_id, key, hash, status, response, created_at)
            select w.ws, w.r ->> 'key', w.r ->> 'hash', (w.r ->> 'status')::int, w.r -> 'response',
                (w.r ->> 'at')::timestamptz
              from want w where w.k = 1
            on conflict do nothing
            returning workspace_id, key)
      select coalesce(array_agg(w.n), '{}') into v_taken from want w
        where w.k > 1 or not exists (select 1 from claimed c where c.workspace_id = w.ws and c.key = w.r ->> 'key');
      if cardinality(v_taken) > 0 then
        v_ok := array(select unnest(v_ok) except select unnest(v_taken));
      end if;

      if cardinality(v_ok) > 0 then
        perform loyalty_apply_set_rows(p_items, v_ok);
      end if;

      return (select coalesce(jsonb_agg(case
            when a.n = any(v_ok) then '{"ok": true}'::jsonb
            when a.n = any(v_taken) then jsonb_build_object('ok', false, 'code', '23505',
              'constraint', 'loyalty_requests_pkey', 'message', 'the idempotency key was taken meanwhile')
            else jsonb_build_object('ok', false, 'code', '40001', 'message', 'the loyalty member changed meanwhile')
          end order by a.n), '[]'::jsonb)
        from jsonb_array_elements(p_items) with ordinality a(v, n));
    end $$`.execute(db);

  // The rows of the changes kept (p_ok: their positions in p_items), one statement per table.
  await sql`create or replace function loyalty_apply_set_rows(p_items jsonb, p_ok bigint[]) returns void
      language plpgsql as $$
    begin
        update loyalty_members m set version = m.version + 1,
            tier = case when x.c ? 'tier' then x.c -> 'tier' ->> 'key' else m.tier end,
            tier_since = case when x.c ? 'tier' then (x.c -> 'tier' ->> 'since')::timestamptz else m.tier_since end,
            tier_at_risk_since = case when x.c ? 'tier' then null else m.tier_at_risk_since end
          from (select (a.v ->> 'member')::uuid member, a.v -> 'change' c
              from jsonb_array_elements(p_items) with ordinality a(v, n) where a.n = any(p_ok)) x
          where m.id = x.member;

        insert into loyalty_transactions (id, workspace_id, programme_id, member_id, kind, original_id, external_id,
            occurred_at, recorded_at, channel, branch, branch_id, cashier, recorded_by, currency, amount, points_spent,
            lines, event_name, properties, tier, local_weekday, local_hour, earned)
          select t.id, (a.v ->> 'ws')::uuid, t."programmeId", t."memberId", t.kind, t."originalId", t."externalId",
              t."occurredAt", t."recordedAt", t.channel, t.branch, t."branchId", t.cashier, t."recordedBy", t.currency,
              t.amount, t."pointsSpent", t.lines, t."eventName", t.properties, t.tier, t."localWeekday", t."localHour",
              t.earned
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_to_recordset(a.v -> 'change' -> 'transactions') as t(id uuid, "programmeId" uuid, "memberId" uuid,
                kind text, "originalId" uuid, "externalId" text, "occurredAt" timestamptz, "recordedAt" timestamptz,
                channel text, branch text, "branchId" uuid, cashier text, "recordedBy" text, currency text,
                amount bigint, "pointsSpent" bigint, lines jsonb, "eventName" text, properties jsonb, tier text,
                "localWeekday" text, "localHour" int, earned bigint)
            where a.n = any(p_ok) and a.v -> 'change' ? 'transactions';

        update loyalty_transactions t set returned_amount = t.returned_amount + v.returned,
            reversed_at = coalesce(v."reversedAt", t.reversed_at)
          from jsonb_array_elements(p_items) with ordinality a(v, n),
            jsonb_to_recordset(a.v -> 'change' -> 'transactionUpdates') as v(id uuid, returned bigint,
              "reversedAt" timestamptz)
          where a.n = any(p_ok) and a.v -> 'change' ? 'transactionUpdates'
            and t.workspace_id = (a.v ->> 'ws')::uuid and t.id = v.id;

        insert into loyalty_ledger (id, workspace_id, member_id, wallet, kind, amount, transaction_id, rule_id, reverses,
            lots, reason, occurred_at, recorded_by)
          select e.id, (a.v ->> 'ws')::uuid, e."memberId", e.wallet, e.kind, e.amount, e."transactionId", e."ruleId",
              e.reverses, e.lots, e.reason, e."occurredAt", e."recordedBy"
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_to_recordset(a.v -> 'change' -> 'entries') as e(id uuid, "memberId" uuid, wallet text, kind text,
                amount bigint, "transactionId" uuid, "ruleId" uuid, reverses uuid, lots jsonb, reason text,
                "occurredAt" timestamptz, "recordedBy" text)
            where a.n = any(p_ok) and a.v -> 'change' ? 'entries';

        insert into loyalty_lots (id, workspace_id, member_id, wallet, amount, remaining, earned_at, available_at,
            expires_at)
          select l.id, (a.v ->> 'ws')::uuid, l."memberId", l.wallet, l.amount, l.amount, l."earnedAt", l."availableAt",
              l."expiresAt"
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_to_recordset(a.v -> 'change' -> 'lots') as l(id uuid, "memberId" uuid, wallet text, amount bigint,
                "earnedAt" timestamptz, "availableAt" timestamptz, "expiresAt" timestamptz)
            where a.n = any(p_ok) and a.v -> 'change' ? 'lots';

        update loyalty_lots l set remaining = l.remaining + (d ->> 1)::bigint
          from jsonb_array_elements(p_items) with ordinality a(v, n),
            jsonb_array_elements(a.v -> 'change' -> 'lotDeltas') d
          where a.n = any(p_ok) and a.v -> 'change' ? 'lotDeltas'
            and l.workspace_id = (a.v ->> 'ws')::uuid and l.id = (d ->> 0)::uuid;

        insert into loyalty_wallets (member_id, wallet, workspace_id, balance)
          select (d ->> 0)::uuid, d ->> 1, (a.v ->> 'ws')::uuid, 0
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_array_elements(a.v -> 'change' -> 'newWallets') d
            where a.n = any(p_ok) and a.v -> 'change' ? 'newWallets'
          on conflict (member_id, wallet) do nothing;

        update loyalty_wallets w set balance = w.balance + (d ->> 2)::bigint
          from jsonb_array_elements(p_items) with ordinality a(v, n),
            jsonb_array_elements(a.v -> 'change' -> 'walletDeltas') d
          where a.n = any(p_ok) and a.v -> 'change' ? 'walletDeltas'
            and w.member_id = (d ->> 0)::uuid and w.wallet = d ->> 1;

        insert into loyalty_rule_usage (member_id, rule_id, period, workspace_id, points, times)
          select u."memberId", u."ruleId", u.period, (a.v ->> 'ws')::uuid, sum(u.points), sum(u.times)
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_to_recordset(a.v -> 'change' -> 'usage') as u("memberId" uuid, "ruleId" uuid, period text,
                points bigint, times int)
            where a.n = any(p_ok) and a.v -> 'change' ? 'usage'
            group by u."memberId", u."ruleId", u.period, (a.v ->> 'ws')::uuid
          on conflict (member_id, rule_id, period) do update set points = loyalty_rule_usage.points + excluded.points,
            times = loyalty_rule_usage.times + excluded.times;

        insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at,
            identifier_kind, identifier_value)
          select t.id, (a.v ->> 'ws')::uuid, t."profileId", t.name, t.properties, t.channel, t."occurredAt",
              case when t.card is not null then 'card' end, t.card
            from jsonb_array_elements(p_items) with ordinality a(v, n),
              jsonb_to_recordset(a.v -> 'change' -> 'timeline') as t(id uuid, "profileId" uuid, name text,
                properties jsonb, channel text, "occurredAt" timestamptz, card text)
            where a.n = any(p_ok) and a.v -> 'change' ? 'timeline';
    end $$`.execute(db);

  await sql`create or replace function loyalty_apply_many(p_items jsonb) returns jsonb language plpgsql as $$
    declare
      v_item jsonb;
      v_out jsonb := '[]'::jsonb;
      v_state text;
      v_constraint text;
      v_message text;
    begin
      if not exists (select 1 from jsonb_array_elements(p_items) e
          where e -> 'change' ? 'verification' or e -> 'change' ? 'reward') then
        begin
          return loyalty_apply_set(p_items);
        exception when others then
          -- Below, one change at a time: the failing change alone fails, with its own reason.
          null;
        end;
      end if;
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

  // The state reads of a group in one statement (as loyalty_member_state for each item, in the items' order; null
  // where the card or member is unknown).
  await sql`create or replace function loyalty_member_states(p_items jsonb) returns jsonb language plpgsql stable as $$
    begin
      return (select coalesce(jsonb_agg(coalesce((
            select jsonb_build_object(
                'memberId', m.id, 'profileId', m.profile_id, 'tier', m.tier, 'version', m.version,
                'programmeVersion', p.version, 'cardId', c.id, 'cardStatus', c.status,
                'cardIdentifier', case when c.is_identifier then c.number end,
                'wallets', (select coalesce(jsonb_agg(jsonb_build_array(w.wallet, w.balance)), '[]'::jsonb)
                  from loyalty_wallets w where w.member_id = m.id),
                'lots', (select coalesce(jsonb_agg(jsonb_build_array(l.id, l.wallet, l.amount, l.remaining, l.earned_at,
                    l.available_at, l.expires_at) order by l.earned_at, l.id), '[]'::jsonb)
                  from loyalty_lots l where l.member_id = m.id and l.remaining > 0),
                'usage', (select coalesce(jsonb_agg(jsonb_build_array(u.rule_id, u.period, u.points, u.times)),
                    '[]'::jsonb)
                  from loyalty_rule_usage u where u.member_id = m.id and u.period = any(it.periods)),
                'request', (select jsonb_build_object('hash', r.hash, 'status', r.status, 'response', r.response)
                  from loyalty_requests r where r.workspace_id = it.ws and r.key = it.key),
                'tierSince', m.tier_since,
                'qualifying', case when it.since is null then null else (select jsonb_build_array(
                    coalesce(sum(t.amount - t.returned_amount) filter (where t.kind = 'purchase'), 0),
                    coalesce(sum(t.earned), 0))
                  from loyalty_transactions t where t.member_id = m.id and t.occurred_at >= it.since
                    and t.kind in ('purchase', 'event') and t.reversed_at is null) end,
                'clubs', (select coalesce(jsonb_agg(cl.key order by cl.key), '[]'::jsonb)
                  from loyalty_club_members cm join loyalty_clubs cl on cl.id = cm.club_id
                  where cm.member_id = m.id and cl.status = 'active'))
              from loyalty_members m join loyalty_programmes p on p.id = m.programme_id
              where m.id = case when it.card is null and it.qr is null then it.member else c.member_id end
                and m.workspace_id = it.ws and m.programme_id = it.programme and m.status = 'active'),
            'null'::jsonb) order by it.n), '[]'::jsonb)
        from (select a.n, (a.v ->> 'ws')::uuid ws, (a.v ->> 'programme')::uuid programme, a.v ->> 'card' card,
              a.v ->> 'qr' qr, (a.v ->> 'member')::uuid member,
              array(select jsonb_array_elements_text(a.v -> 'periods')) periods, a.v ->> 'key' key,
              (a.v ->> 'since')::timestamptz since
            from jsonb_array_elements(p_items) with ordinality a(v, n)) it
          left join lateral (
            select c.id, c.member_id, c.status, c.is_identifier, c.number from loyalty_cards c
              where it.card is not null and c.workspace_id = it.ws and c.programme_id = it.programme
                and c.number = it.card
            union all
            select c.id, c.member_id, c.status, c.is_identifier, c.number from loyalty_cards c
              where it.card is null and it.qr is not null and c.workspace_id = it.ws and c.programme_id = it.programme
                and c.qr_hash = it.qr) c on true);
    end $$`.execute(db);
  // Every row the writes and the reads touch is found by key. The planner, counting 100 rows per JSON array and a few
  // rows in a young table, would otherwise hash a whole table (the wallets' update took 2.3 ms for 32 changes so).
  await sql`alter function loyalty_apply_set(jsonb) set plan_cache_mode = force_generic_plan`.execute(db);
  for (const fn of ['loyalty_member_states(jsonb)', 'loyalty_apply_set_rows(jsonb, bigint[])']) {
    await sql.raw(`alter function ${fn} set plan_cache_mode = force_generic_plan`).execute(db);
    await sql.raw(`alter function ${fn} set enable_seqscan = off`).execute(db);
    await sql.raw(`alter function ${fn} set enable_hashjoin = off`).execute(db);
    await sql.raw(`alter function ${fn} set enable_mergejoin = off`).execute(db);
  }
}
