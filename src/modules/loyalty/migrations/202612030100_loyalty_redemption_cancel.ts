import { type Kysely, sql } from 'kysely';

// A redemption can be cancelled (the customer changed their mind at the till, the prize could not be delivered): the
// points go back to the lots they came from, the unit of stock returns, and an issued coupon is void — unless it has
// been used, which makes the cancellation impossible. A cancelled redemption no longer counts towards the reward's
// per-member limit.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table loyalty_redemptions add column cancelled_at timestamptz, add column cancelled_by text,
    add column cancel_reason text`.execute(db);
  await sql`alter table loyalty_coupons add column voided_at timestamptz`.execute(db);

  // Raises LY103 when the redemption was cancelled meanwhile, LY104 when its coupon has a live use. The coupon row is
  // locked first: a use being recorded (which share-locks it, loyalty.coupons.repo.ts) is waited for and then seen.
  await sql`create function loyalty_cancel_reward(p_ws uuid, p_member uuid, p_cancel jsonb) returns void
      language plpgsql as $$
    declare
      v_reward uuid;
      v_coupon uuid;
    begin
      select coupon_id into v_coupon from loyalty_redemptions
        where workspace_id = p_ws and id = (p_cancel ->> 'id')::uuid and member_id = p_member;
      if v_coupon is not null then
        perform 1 from loyalty_coupons where workspace_id = p_ws and id = v_coupon for update;
        if exists (select 1 from loyalty_coupon_uses where coupon_id = v_coupon and reversed_at is null) then
          raise exception 'the reward''s coupon has been used' using errcode = 'LY104';
        end if;
        update loyalty_coupons set voided_at = (p_cancel ->> 'at')::timestamptz where id = v_coupon;
      end if;
      update loyalty_redemptions set cancelled_at = (p_cancel ->> 'at')::timestamptz, cancelled_by = p_cancel ->> 'by',
          cancel_reason = p_cancel ->> 'reason'
        where workspace_id = p_ws and id = (p_cancel ->> 'id')::uuid and member_id = p_member and cancelled_at is null
        returning reward_id into v_reward;
      if not found then
        raise exception 'the redemption has been cancelled' using errcode = 'LY103';
      end if;
      update loyalty_rewards set stock = case when stock is null then null else stock + 1 end,
          redeemed = greatest(redeemed - 1, 0)
        where workspace_id = p_ws and id = v_reward;
    end $$`.execute(db);

  // loyalty_apply_reward as in 202611300000, but cancelled redemptions do not count towards the limit.
  await sql`create or replace function loyalty_apply_reward(p_ws uuid, p_member uuid, p_reward jsonb) returns void
      language plpgsql as $$
    declare
      v_limit int;
      v_used bigint;
    begin
      update loyalty_rewards set stock = case when stock is null then null else stock - 1 end, redeemed = redeemed + 1
        where workspace_id = p_ws and id = (p_reward ->> 'rewardId')::uuid and (stock is null or stock >= 1)
        returning per_member_limit into v_limit;
      if not found then
        raise exception 'the reward is out of stock' using errcode = 'LY102';
      end if;
      if v_limit is not null then
        select count(*) into v_used from loyalty_redemptions
          where member_id = p_member and reward_id = (p_reward ->> 'rewardId')::uuid and cancelled_at is null;
        if v_used >= v_limit then
          raise exception 'the member reached the reward''s limit' using errcode = 'LY101';
        end if;
      end if;
      insert into loyalty_redemptions (id, workspace_id, programme_id, member_id, reward_id, entry_id, wallet, points,
          channel, branch, branch_id, cashier, recorded_by, coupon_id, redeemed_at)
        values ((p_reward ->> 'id')::uuid, p_ws, (p_reward ->> 'programmeId')::uuid, p_member,
          (p_reward ->> 'rewardId')::uuid, (p_reward ->> 'entryId')::uuid, p_reward ->> 'wallet',
          (p_reward ->> 'points')::bigint, p_reward ->> 'channel', p_reward ->> 'branch',
          (p_reward ->> 'branchId')::uuid, p_reward ->> 'cashier', p_reward ->> 'recordedBy',
          (p_reward -> 'coupon' ->> 'id')::uuid, (p_reward ->> 'at')::timestamptz);
      if p_reward ? 'coupon' then
        insert into loyalty_coupons (id, workspace_id, programme_id, code_hash, last4, currency, value_minor,
            min_basket_minor, valid_from, valid_until, member_id, redemption_id, created_at)
          values ((p_reward -> 'coupon' ->> 'id')::uuid, p_ws, (p_reward ->> 'programmeId')::uuid,
            (p_reward -> 'coupon' ->> 'codeHash')::bigint, p_reward -> 'coupon' ->> 'last4',
            p_reward -> 'coupon' ->> 'currency', (p_reward -> 'coupon' ->> 'valueMinor')::bigint,
            (p_reward -> 'coupon' ->> 'minBasketMinor')::bigint, (p_reward -> 'coupon' ->> 'validFrom')::timestamptz,
            (p_reward -> 'coupon' ->> 'validUntil')::timestamptz, p_member, (p_reward ->> 'id')::uuid,
            (p_reward ->> 'at')::timestamptz);
      end if;
    end $$`.execute(db);

  // loyalty_apply as in 202611300000, plus a cancelled redemption.
  await sql`create or replace function loyalty_apply(p_ws uuid, p_member uuid, p_version bigint, p_request jsonb, p_change jsonb)
      returns void language plpgsql as $$
    begin
      if p_request is not null then
        insert into loyalty_requests (workspace_id, key, hash, status, response, created_at)
        values (p_ws, p_request ->> 'key', p_request ->> 'hash', (p_request ->> 'status')::int, p_request -> 'response',
          (p_request ->> 'at')::timestamptz);
      end if;
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
      if p_change ? 'reward' then
        perform loyalty_apply_reward(p_ws, p_member, p_change -> 'reward');
      end if;
      if p_change ? 'cancelReward' then
        perform loyalty_cancel_reward(p_ws, p_member, p_change -> 'cancelReward');
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

  // Replacing a function drops its settings: loyalty_apply keeps its generic plans (202612010000).
  await sql`alter function loyalty_apply(uuid, uuid, bigint, jsonb, jsonb) set plan_cache_mode = force_generic_plan`.execute(
    db,
  );

  // loyalty_apply_many as in 202612030000: a cancellation, like a redemption, goes one change at a time.
  await sql`create or replace function loyalty_apply_many(p_items jsonb) returns jsonb language plpgsql as $$
    declare
      v_item jsonb;
      v_out jsonb := '[]'::jsonb;
      v_state text;
      v_constraint text;
      v_message text;
    begin
      if not exists (select 1 from jsonb_array_elements(p_items) e
          where e -> 'change' ?| array['verification', 'reward', 'cancelReward']) then
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
}
