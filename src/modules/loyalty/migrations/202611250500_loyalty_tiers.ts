import { type Kysely, sql } from 'kysely';

/**
 * Tiers: a member's status level, reached by money spent or points earned over a rolling window (upgrade at once,
 * with the change that reaches it), lost only after a grace period below the threshold (the daily tier review).
 * The state read returns what counts in the window (`p_since`), the apply sets a tier a change reaches.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table loyalty_members add column tier_since timestamptz, add column tier_at_risk_since timestamptz`.execute(
    db,
  );
  await sql`drop function loyalty_member_state(uuid, uuid, text, text, uuid, text[], text)`.execute(db);

  await sql`create function loyalty_member_state(p_ws uuid, p_programme uuid, p_card text, p_qr text, p_member uuid,
      p_periods text[], p_key text, p_since timestamptz) returns jsonb language plpgsql stable as $$
    declare
      v_member uuid;
      v_card uuid;
      v_status text;
      v_identifier text;
      v_result jsonb;
    begin
      if p_card is not null then
        select c.member_id, c.id, c.status, case when c.is_identifier then c.number end
          into v_member, v_card, v_status, v_identifier
          from loyalty_cards c where c.workspace_id = p_ws and c.programme_id = p_programme and c.number = p_card;
      elsif p_qr is not null then
        select c.member_id, c.id, c.status, case when c.is_identifier then c.number end
          into v_member, v_card, v_status, v_identifier
          from loyalty_cards c where c.workspace_id = p_ws and c.programme_id = p_programme and c.qr_hash = p_qr;
      else
        v_member := p_member;
      end if;
      if v_member is null then
        return null;
      end if;
      select jsonb_build_object(
          'memberId', m.id, 'profileId', m.profile_id, 'tier', m.tier, 'version', m.version,
          'programmeVersion', p.version, 'cardId', v_card, 'cardStatus', v_status, 'cardIdentifier', v_identifier,
          'wallets', (select coalesce(jsonb_agg(jsonb_build_array(w.wallet, w.balance)), '[]'::jsonb)
            from loyalty_wallets w where w.member_id = m.id),
          'lots', (select coalesce(jsonb_agg(jsonb_build_array(l.id, l.wallet, l.amount, l.remaining, l.earned_at,
              l.available_at, l.expires_at) order by l.earned_at, l.id), '[]'::jsonb)
            from loyalty_lots l where l.member_id = m.id and l.remaining > 0),
          'usage', (select coalesce(jsonb_agg(jsonb_build_array(u.rule_id, u.period, u.points, u.times)), '[]'::jsonb)
            from loyalty_rule_usage u where u.member_id = m.id and u.period = any(p_periods)),
          'request', (select jsonb_build_object('hash', r.hash, 'status', r.status, 'response', r.response)
            from loyalty_requests r where r.workspace_id = p_ws and r.key = p_key),
          'tierSince', m.tier_since,
          -- What counts for tiers since p_since (programmes with tiers only): money spent net of returns, points
          -- earned by purchases and events.
          'qualifying', case when p_since is null then null else (select jsonb_build_array(
              coalesce(sum(t.amount - t.returned_amount) filter (where t.kind = 'purchase'), 0), coalesce(sum(t.earned), 0))
            from loyalty_transactions t where t.member_id = m.id and t.occurred_at >= p_since
              and t.kind in ('purchase', 'event') and t.reversed_at is null) end)
        into v_result
        from loyalty_members m join loyalty_programmes p on p.id = m.programme_id
        where m.id = v_member and m.workspace_id = p_ws and m.programme_id = p_programme and m.status = 'active';
      return v_result;
    end $$`.execute(db);

  await sql`create or replace function loyalty_member_states(p_items jsonb) returns jsonb language plpgsql stable as $$
    declare
      v_item jsonb;
      v_out jsonb := '[]'::jsonb;
    begin
      for v_item in select value from jsonb_array_elements(p_items) loop
        v_out := v_out || jsonb_build_array(coalesce(loyalty_member_state((v_item ->> 'ws')::uuid,
          (v_item ->> 'programme')::uuid, v_item ->> 'card', v_item ->> 'qr', (v_item ->> 'member')::uuid,
          array(select jsonb_array_elements_text(v_item -> 'periods')), v_item ->> 'key',
          (v_item ->> 'since')::timestamptz), 'null'::jsonb));
      end loop;
      return v_out;
    end $$`.execute(db);

  await sql`create or replace function loyalty_apply(p_ws uuid, p_member uuid, p_version bigint, p_request jsonb, p_change jsonb)
      returns void language plpgsql as $$
    begin
      if p_request is not null then
        insert into loyalty_requests (workspace_id, key, hash, status, response, created_at)
        values (p_ws, p_request ->> 'key', p_request ->> 'hash', (p_request ->> 'status')::int, p_request -> 'response',
          (p_request ->> 'at')::timestamptz);
      end if;
      -- The version check, and the member's tier when the change moves it (an upgrade earned by this change).
      update loyalty_members set version = version + 1,
          tier = case when p_change ? 'tier' then p_change -> 'tier' ->> 'key' else tier end,
          tier_since = case when p_change ? 'tier' then (p_change -> 'tier' ->> 'since')::timestamptz else tier_since end,
          tier_at_risk_since = case when p_change ? 'tier' then null else tier_at_risk_since end
        where id = p_member and workspace_id = p_ws and version = p_version;
      if not found then
        raise exception 'the loyalty member changed meanwhile' using errcode = '40001';
      end if;
      if p_change ? 'verification' then
        update loyalty_verifications set used_at = (p_change -> 'verification' ->> 'at')::timestamptz
          where workspace_id = p_ws and id = (p_change -> 'verification' ->> 'id')::uuid and member_id = p_member
            and used_at is null and expires_at > (p_change -> 'verification' ->> 'at')::timestamptz;
        if not found then
          raise exception 'the verification was used meanwhile' using errcode = 'LY001';
        end if;
      end if;
      if p_change ? 'transactions' then
        insert into loyalty_transactions (id, workspace_id, programme_id, member_id, kind, original_id, external_id,
            occurred_at, recorded_at, channel, branch, branch_id, cashier, recorded_by, currency, amount, points_spent,
            lines, event_name, properties, tier, local_weekday, local_hour, earned)
          select t.id, p_ws, t."programmeId", t."memberId", t.kind, t."originalId", t."externalId", t."occurredAt",
            t."recordedAt", t.channel, t.branch, t."branchId", t.cashier, t."recordedBy", t.currency, t.amount,
            t."pointsSpent", t.lines, t."eventName", t.properties, t.tier, t."localWeekday", t."localHour", t.earned
          from jsonb_to_recordset(p_change -> 'transactions') as t(id uuid, "programmeId" uuid, "memberId" uuid,
            kind text, "originalId" uuid, "externalId" text, "occurredAt" timestamptz, "recordedAt" timestamptz,
            channel text, branch text, "branchId" uuid, cashier text, "recordedBy" text, currency text, amount bigint,
            "pointsSpent" bigint, lines jsonb, "eventName" text, properties jsonb, tier text, "localWeekday" text,
            "localHour" int, earned bigint);
      end if;
      if p_change ? 'transactionUpdates' then
        update loyalty_transactions t set returned_amount = t.returned_amount + v.returned,
            reversed_at = coalesce(v."reversedAt", t.reversed_at)
          from jsonb_to_recordset(p_change -> 'transactionUpdates') as v(id uuid, returned bigint, "reversedAt" timestamptz)
          where t.workspace_id = p_ws and t.id = v.id;
      end if;
      if p_change ? 'entries' then
        insert into loyalty_ledger (id, workspace_id, member_id, wallet, kind, amount, transaction_id, rule_id, reverses,
            lots, reason, occurred_at, recorded_by)
          select e.id, p_ws, e."memberId", e.wallet, e.kind, e.amount, e."transactionId", e."ruleId", e.reverses, e.lots,
            e.reason, e."occurredAt", e."recordedBy"
          from jsonb_to_recordset(p_change -> 'entries') as e(id uuid, "memberId" uuid, wallet text, kind text,
            amount bigint, "transactionId" uuid, "ruleId" uuid, reverses uuid, lots jsonb, reason text,
            "occurredAt" timestamptz, "recordedBy" text);
      end if;
      if p_change ? 'lots' then
        insert into loyalty_lots (id, workspace_id, member_id, wallet, amount, remaining, earned_at, available_at,
            expires_at)
          select l.id, p_ws, l."memberId", l.wallet, l.amount, l.amount, l."earnedAt", l."availableAt", l."expiresAt"
          from jsonb_to_recordset(p_change -> 'lots') as l(id uuid, "memberId" uuid, wallet text, amount bigint,
            "earnedAt" timestamptz, "availableAt" timestamptz, "expiresAt" timestamptz);
      end if;
      if p_change ? 'lotDeltas' then
        update loyalty_lots l set remaining = l.remaining + (d ->> 1)::bigint
          from jsonb_array_elements(p_change -> 'lotDeltas') d
          where l.workspace_id = p_ws and l.id = (d ->> 0)::uuid;
      end if;
      if p_change ? 'newWallets' then
        -- Wallets added to the programme after the member joined are created by their first credit.
        insert into loyalty_wallets (member_id, wallet, workspace_id, balance)
          select (d ->> 0)::uuid, d ->> 1, p_ws, 0 from jsonb_array_elements(p_change -> 'newWallets') d
          on conflict (member_id, wallet) do nothing;
      end if;
      if p_change ? 'walletDeltas' then
        update loyalty_wallets w set balance = w.balance + (d ->> 2)::bigint
          from jsonb_array_elements(p_change -> 'walletDeltas') d
          where w.member_id = (d ->> 0)::uuid and w.wallet = d ->> 1;
      end if;
      if p_change ? 'usage' then
        insert into loyalty_rule_usage (member_id, rule_id, period, workspace_id, points, times)
          select u."memberId", u."ruleId", u.period, p_ws, u.points, u.times
          from jsonb_to_recordset(p_change -> 'usage') as u("memberId" uuid, "ruleId" uuid, period text, points bigint,
            times int)
          on conflict (member_id, rule_id, period) do update set points = loyalty_rule_usage.points + excluded.points,
            times = loyalty_rule_usage.times + excluded.times;
      end if;
      if p_change ? 'timeline' then
        insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at,
            identifier_kind, identifier_value)
          select t.id, p_ws, t."profileId", t.name, t.properties, t.channel, t."occurredAt",
            case when t.card is not null then 'card' end, t.card
          from jsonb_to_recordset(p_change -> 'timeline') as t(id uuid, "profileId" uuid, name text, properties jsonb,
            channel text, "occurredAt" timestamptz, card text);
      end if;
    end $$`.execute(db);
}
