import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A programme: its wallets (points, stamps …) with their return window and lifetime, the money value of a point
  // at the till, its time zone (weekday and hour conditions), and a version that moves with every rule change so
  // that processes know when their cached rules are stale.
  await sql`create table loyalty_programmes (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    key text not null,
    name text not null,
    currency text not null,
    time_zone text not null,
    settings jsonb not null,
    version bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (workspace_id, key)
  )`.execute(db);

  // Earn rules are data: a condition tree of platform/rules, a formula, caps, a date range, a priority.
  await sql`create table loyalty_rules (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes(id) on delete cascade,
    name text not null,
    status text not null check (status in ('active', 'draft', 'archived')),
    trigger text not null check (trigger in ('purchase', 'event')),
    event_name text,
    scope text not null check (scope in ('transaction', 'line')),
    condition jsonb,
    formula jsonb not null,
    wallet text not null,
    priority int not null,
    stop_after boolean not null default false,
    caps jsonb not null default '[]',
    starts_at timestamptz,
    ends_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`.execute(db);
  await sql`create index loyalty_rules_programme on loyalty_rules (workspace_id, programme_id, priority)`.execute(db);

  // Card number ranges: prefix + serial + Luhn check digit. Physical cards are printed from a range and activated
  // at a till; virtual cards take the next serial.
  await sql`create table loyalty_card_ranges (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes(id) on delete cascade,
    kind text not null check (kind in ('physical', 'virtual')),
    prefix text not null,
    length int not null,
    first_serial bigint not null,
    last_serial bigint not null,
    next_serial bigint not null,
    created_at timestamptz not null default now(),
    check (first_serial <= last_serial and next_serial >= first_serial)
  )`.execute(db);
  await sql`create index loyalty_card_ranges_programme on loyalty_card_ranges (workspace_id, programme_id)`.execute(db);

  // A member: one profile in one programme. Its row is the lock every change of its wallets takes.
  await sql`create table loyalty_members (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes(id) on delete cascade,
    profile_id uuid not null,
    status text not null default 'active' check (status in ('active', 'merged')),
    merged_into uuid,
    tier text,
    joined_at timestamptz not null
  )`.execute(db);
  await sql`create unique index loyalty_members_profile on loyalty_members (workspace_id, programme_id, profile_id)
    where status = 'active'`.execute(db);

  // The balance: a projection of the ledger (sum of its entries), updated in the same statement as the entries,
  // never negative.
  await sql`create table loyalty_wallets (
    member_id uuid not null references loyalty_members(id) on delete cascade,
    wallet text not null,
    workspace_id uuid not null,
    balance bigint not null default 0 check (balance >= 0),
    primary key (member_id, wallet)
  )`.execute(db);

  await sql`create table loyalty_cards (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes(id) on delete cascade,
    member_id uuid not null references loyalty_members(id),
    number text not null,
    kind text not null check (kind in ('physical', 'virtual')),
    status text not null check (status in ('active', 'blocked', 'replaced')),
    qr_hash text,
    -- whether the number is the profile's card identifier (the profiles module keeps one card per person)
    is_identifier boolean not null default false,
    replaced_by uuid,
    status_reason text,
    issued_at timestamptz not null,
    status_at timestamptz,
    unique (workspace_id, number)
  )`.execute(db);
  await sql`create unique index loyalty_cards_qr on loyalty_cards (workspace_id, qr_hash) where qr_hash is not null`.execute(
    db,
  );
  await sql`create index loyalty_cards_member on loyalty_cards (member_id)`.execute(db);

  // Till and e-commerce transactions, code registrations and adjustments: what the ledger entries refer to.
  await sql`create table loyalty_transactions (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null,
    member_id uuid not null,
    kind text not null check (kind in ('purchase', 'return', 'event', 'adjustment', 'reversal')),
    original_id uuid,
    external_id text,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null,
    channel text,
    branch text,
    branch_id uuid,
    cashier text,
    recorded_by text,
    currency text,
    amount bigint not null default 0,
    points_spent bigint not null default 0,
    lines jsonb,
    event_name text,
    properties jsonb,
    tier text,
    local_weekday text,
    local_hour int,
    earned bigint not null default 0,
    returned_amount bigint not null default 0,
    reversed_at timestamptz
  )`.execute(db);
  await sql`create index loyalty_transactions_member on loyalty_transactions (member_id, occurred_at desc)`.execute(db);
  await sql`create index loyalty_transactions_time on loyalty_transactions (workspace_id, programme_id, occurred_at)`.execute(
    db,
  );
  await sql`create index loyalty_transactions_external on loyalty_transactions (workspace_id, programme_id, external_id)
    where external_id is not null`.execute(db);

  // The ledger: append-only. `lots` lists the lots an entry took from or gave back to ([[lot id, amount], …]);
  // an entry that creates a lot (earn, positive adjust) is that lot's id.
  await sql`create table loyalty_ledger (
    id uuid primary key,
    workspace_id uuid not null,
    member_id uuid not null,
    wallet text not null,
    kind text not null check (kind in ('earn', 'burn', 'expire', 'adjust', 'reverse')),
    amount bigint not null check (amount <> 0),
    transaction_id uuid,
    rule_id uuid,
    reverses uuid,
    lots jsonb,
    reason text,
    occurred_at timestamptz not null,
    recorded_by text
  )`.execute(db);
  await sql`create index loyalty_ledger_member on loyalty_ledger (member_id, id)`.execute(db);

  // Lots: what each earning still holds. Spent first-in first-out, pending until available_at, void after
  // expires_at. remaining is a projection of the ledger entries that name the lot.
  await sql`create table loyalty_lots (
    id uuid primary key,
    workspace_id uuid not null,
    member_id uuid not null,
    wallet text not null,
    amount bigint not null check (amount > 0),
    remaining bigint not null check (remaining >= 0 and remaining <= amount),
    earned_at timestamptz not null,
    available_at timestamptz not null,
    expires_at timestamptz
  )`.execute(db);
  await sql`create index loyalty_lots_open on loyalty_lots (member_id, wallet, earned_at, id) where remaining > 0`.execute(
    db,
  );
  await sql`create index loyalty_lots_expiring on loyalty_lots (expires_at) where remaining > 0 and expires_at is not null`.execute(
    db,
  );

  // Idempotency: one row per key and workspace with the request's digest and the answer given.
  await sql`create table loyalty_requests (
    workspace_id uuid not null,
    key text not null,
    hash text not null,
    status int not null,
    response jsonb not null,
    created_at timestamptz not null,
    primary key (workspace_id, key)
  )`.execute(db);
  await sql`create index loyalty_requests_age on loyalty_requests (created_at)`.execute(db);

  // Caps per person and period: what each rule gave each member in the current periods.
  await sql`create table loyalty_rule_usage (
    member_id uuid not null,
    rule_id uuid not null,
    period text not null,
    workspace_id uuid not null,
    points bigint not null default 0,
    times int not null default 0,
    primary key (member_id, rule_id, period)
  )`.execute(db);

  // One-time codes that prove the customer is there when points are spent.
  await sql`create table loyalty_verifications (
    id uuid primary key,
    workspace_id uuid not null,
    member_id uuid not null,
    channel text not null,
    code_hash text not null,
    expires_at timestamptz not null,
    attempts int not null default 0,
    used_at timestamptz,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index loyalty_verifications_member on loyalty_verifications (member_id, created_at desc)`.execute(
    db,
  );

  // Until the messaging module sends them, one-time codes are recorded here (the embedded outbox).
  await sql`create table loyalty_outbox (
    id uuid primary key,
    workspace_id uuid not null,
    profile_id uuid not null,
    channel text not null,
    address text not null,
    body text not null,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index loyalty_outbox_recent on loyalty_outbox (workspace_id, created_at desc)`.execute(db);

  // Timeline events written in the ledger's transaction and handed to the events module after the commit.
  await sql`create table loyalty_timeline_outbox (
    id uuid primary key,
    workspace_id uuid not null,
    profile_id uuid not null,
    name text not null,
    properties jsonb not null,
    channel text,
    occurred_at timestamptz not null,
    -- an identifier that leads the event to the profile (the card it came with), when there is one
    identifier_kind text,
    identifier_value text
  )`.execute(db);
}
