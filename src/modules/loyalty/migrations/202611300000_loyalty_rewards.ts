import { type Kysely, sql } from 'kysely';

/**
 * Rewards catalogue with stock, redemptions, coupons (issued by redemptions or in campaign batches) and their uses
 * at tills, clubs with their members.
 *
 * - A redemption is one more part of a ledger change: `loyalty_apply` hands `p_change -> 'reward'` to
 *   `loyalty_apply_reward` in the same statement, which takes one unit of stock (never below 0: the update's
 *   condition, under the reward row's lock), checks the per-member limit, and writes the redemption and its coupon.
 * - A coupon use is one row; the partial unique index on the coupon's live use arbitrates concurrent redemptions of
 *   one code (exactly one wins); a reversal (a cancelled sale) frees the coupon again.
 * - The state read returns the member's clubs (`member.clubs` in earn rules).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table loyalty_clubs (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    key text not null,
    name_en text not null,
    name_ru text,
    description_en text,
    description_ru text,
    earn_multiplier numeric,
    earn_rule_id uuid,
    status text not null check (status in ('active', 'archived')),
    created_at timestamptz not null,
    unique (programme_id, key)
  )`.execute(db);
  await sql`create index loyalty_clubs_ws on loyalty_clubs (workspace_id, programme_id)`.execute(db);

  await sql`create table loyalty_club_members (
    club_id uuid not null references loyalty_clubs (id),
    member_id uuid not null,
    workspace_id uuid not null,
    joined_at timestamptz not null,
    primary key (member_id, club_id)
  )`.execute(db);
  await sql`create index loyalty_club_members_club on loyalty_club_members (club_id, joined_at)`.execute(db);

  await sql`create table loyalty_rewards (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    kind text not null check (kind in ('product', 'discount', 'prize', 'donation', 'coupon')),
    name_en text not null,
    name_ru text,
    description_en text,
    description_ru text,
    wallet text not null,
    cost bigint not null check (cost > 0),
    stock bigint check (stock >= 0),
    redeemed bigint not null default 0,
    per_member_limit int check (per_member_limit > 0),
    starts_at timestamptz,
    ends_at timestamptz,
    tier text,
    club_id uuid references loyalty_clubs (id),
    image_url text check (image_url like 'https://%'),
    coupon_value_minor bigint check (coupon_value_minor > 0),
    coupon_min_basket_minor bigint not null default 0,
    coupon_valid_days int,
    status text not null check (status in ('active', 'draft', 'archived')),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);
  await sql`create index loyalty_rewards_ws on loyalty_rewards (workspace_id, programme_id, id)`.execute(db);

  await sql`create table loyalty_redemptions (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null,
    member_id uuid not null,
    reward_id uuid not null references loyalty_rewards (id),
    entry_id uuid not null,
    wallet text not null,
    points bigint not null,
    channel text,
    branch text,
    branch_id uuid,
    cashier text,
    recorded_by text,
    coupon_id uuid,
    redeemed_at timestamptz not null
  )`.execute(db);
  await sql`create index loyalty_redemptions_member on loyalty_redemptions (member_id, reward_id)`.execute(db);
  await sql`create index loyalty_redemptions_reward on loyalty_redemptions (workspace_id, reward_id, redeemed_at)`.execute(
    db,
  );

  // The coupon key's secret (HMAC keys are derived from it per purpose, as the codes module does for its codes).
  await sql`create table loyalty_coupon_keys (
    workspace_id uuid primary key,
    secret text not null
  )`.execute(db);

  await sql`create table loyalty_coupon_batches (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    label text,
    count int not null,
    value_minor bigint not null,
    min_basket_minor bigint not null default 0,
    valid_from timestamptz,
    valid_until timestamptz,
    sealed_seed text,
    created_by text,
    created_at timestamptz not null,
    downloaded_at timestamptz
  )`.execute(db);
  await sql`create index loyalty_coupon_batches_ws on loyalty_coupon_batches (workspace_id, programme_id, id)`.execute(
    db,
  );

  await sql`create table loyalty_coupons (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null,
    code_hash bigint not null,
    last4 text not null,
    currency text not null,
    value_minor bigint not null check (value_minor > 0),
    min_basket_minor bigint not null default 0,
    valid_from timestamptz,
    valid_until timestamptz,
    member_id uuid,
    redemption_id uuid,
    batch_id uuid,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create unique index loyalty_coupons_code on loyalty_coupons (workspace_id, code_hash)`.execute(db);
  await sql`create index loyalty_coupons_member on loyalty_coupons (member_id) where member_id is not null`.execute(db);
  await sql`create index loyalty_coupons_batch on loyalty_coupons (batch_id) where batch_id is not null`.execute(db);

  await sql`create table loyalty_coupon_uses (
    id uuid primary key,
    workspace_id uuid not null,
    coupon_id uuid not null references loyalty_coupons (id),
    key text not null,
    hash text not null,
    basket_minor bigint not null,
    currency text not null,
    branch text,
    branch_id uuid,
    cashier text,
    recorded_by text,
    external_id text,
    used_at timestamptz not null,
    reversed_at timestamptz,
    reversed_by text,
    unique (workspace_id, key)
  )`.execute(db);
  // Exactly one live use per coupon: concurrent redemptions of one code meet here.
  await sql`create unique index loyalty_coupon_uses_live on loyalty_coupon_uses (coupon_id) where reversed_at is null`.execute(
    db,
  );

  await sql`create function loyalty_apply_reward(p_ws uuid, p_member uuid, p_reward jsonb) returns void
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
          where member_id = p_member and reward_id = (p_reward ->> 'rewardId')::uuid;
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

  // loyalty_apply as in 202611250500, plus the reward part of a change.
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
      if p_change ? 'timeline' then
        insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at,
            identifier_kind, identifier_value)
          select t.id, p_ws, t."profileId", t.name, t.properties, t.channel, t."occurredAt",
            case when t.card is not null then 'card' end, t.card
          from jsonb_to_recordset(p_change -> 'timeline') as t(id uuid, "profileId" uuid, name text, properties jsonb,
            channel text, "occurredAt" timestamptz, card text);
      end if;
    end $$`.execute(db);

  // loyalty_member_state as in 202611250500, plus the member's clubs (keys of active clubs).
  await sql`create or replace function loyalty_member_state(p_ws uuid, p_programme uuid, p_card text, p_qr text,
      p_member uuid, p_periods text[], p_key text, p_since timestamptz) returns jsonb language plpgsql stable as $$
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
          'qualifying', case when p_since is null then null else (select jsonb_build_array(
              coalesce(sum(t.amount - t.returned_amount) filter (where t.kind = 'purchase'), 0), coalesce(sum(t.earned), 0))
            from loyalty_transactions t where t.member_id = m.id and t.occurred_at >= p_since
              and t.kind in ('purchase', 'event') and t.reversed_at is null) end,
          'clubs', (select coalesce(jsonb_agg(c.key order by c.key), '[]'::jsonb)
            from loyalty_club_members cm join loyalty_clubs c on c.id = cm.club_id
            where cm.member_id = m.id and c.status = 'active'))
        into v_result
        from loyalty_members m join loyalty_programmes p on p.id = m.programme_id
        where m.id = v_member and m.workspace_id = p_ws and m.programme_id = p_programme and m.status = 'active';
      return v_result;
    end $$`.execute(db);
}
