import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Per workspace: the secret from which the code hash key, the identifier hash key and the seed-sealing key are
  // derived (never shown), the limit on well-formed guesses that name no promotion, and overrides of the
  // per-person, device, IP and network limits.
  await sql`create table code_settings (
    workspace_id uuid primary key references workspaces(id) on delete cascade,
    secret text not null,
    guesses_per_minute int not null default 300 check (guesses_per_minute between 1 and 100000),
    limits jsonb not null default '{}',
    created_at timestamptz not null default now()
  )`.execute(db);

  await sql`create table code_promotions (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    key text not null,
    name text not null,
    time_zone text not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    reward jsonb not null,
    per_person_per_day int check (per_person_per_day > 0),
    per_person_total int check (per_person_total > 0),
    budget int check (budget > 0),
    budget_used int not null default 0,
    guesses_per_minute int not null default 300 check (guesses_per_minute between 1 and 100000),
    status text not null default 'active' check (status in ('active', 'paused')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (ends_at > starts_at),
    unique (workspace_id, key)
  )`.execute(db);

  // A batch is generated here (seed kept sealed for the owner's re-export) or imported (codes printed elsewhere).
  await sql`create table code_batches (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    promotion_id uuid not null references code_promotions(id),
    source text not null check (source in ('generated', 'imported')),
    label text,
    size int not null,
    loaded int not null default 0,
    length int,
    min_length int,
    max_length int,
    sealed_seed text,
    skipped bigint[] not null default '{}',
    status text not null check (status in ('pending', 'generating', 'active', 'failed', 'revoked')),
    attack_budget bigint,
    expected_guessable double precision,
    exports int not null default 0,
    created_by text,
    created_at timestamptz not null default now(),
    completed_at timestamptz
  )`.execute(db);
  await sql`create index code_batches_promotion on code_batches (workspace_id, promotion_id, created_at)`.execute(db);

  // The codes themselves: only the first 64 bits of HMAC-SHA-256(workspace key, code). Written once by COPY, never
  // updated (redemptions live in their own table), so the table stays packed. The hash is unique across the
  // database; a generated code whose hash is taken is replaced by another.
  await sql`create table codes (
    hash bigint primary key,
    workspace_id uuid not null,
    batch_id uuid not null
  ) with (fillfactor = 100)`.execute(db);

  // One row per accepted code: the unique hash is what makes a code redeemable exactly once.
  await sql`create table code_redemptions (
    id uuid primary key,
    workspace_id uuid not null,
    code_hash bigint not null unique,
    promotion_id uuid not null,
    batch_id uuid not null,
    profile_id uuid not null,
    channel text not null,
    reward jsonb not null,
    registered_at timestamptz not null
  )`.execute(db);
  await sql`create index code_redemptions_promotion on code_redemptions (workspace_id, promotion_id, registered_at)`.execute(
    db,
  );
  await sql`create index code_redemptions_profile on code_redemptions (workspace_id, profile_id)`.execute(db);

  // Accepted codes per person and promotion, per local day and in total. `subject` is 'p:<profile id>' or
  // 'i:<identifier hash>' (what was typed, checked before the code is looked at).
  await sql`create table code_person_counts (
    workspace_id uuid not null,
    promotion_id uuid not null,
    subject text not null,
    period text not null,
    n int not null,
    primary key (workspace_id, promotion_id, subject, period)
  )`.execute(db);

  // Every attempt, for the fraud screen. Identifiers and devices as keyed hashes; the IP and its network in clear
  // (removed when the person is erased, purged after the retention period).
  await sql`create table code_attempts (
    id uuid primary key,
    workspace_id uuid not null,
    at timestamptz not null,
    outcome text not null,
    reason text,
    channel text not null,
    promotion_id uuid,
    batch_id uuid,
    code_hash bigint,
    ip text,
    net text,
    device_hash text,
    identifier_kind text,
    identifier_hash text,
    profile_id uuid
  )`.execute(db);
  await sql`create index code_attempts_recent on code_attempts (workspace_id, at desc)`.execute(db);
  await sql`create index code_attempts_profile on code_attempts (workspace_id, profile_id) where profile_id is not null`.execute(
    db,
  );
}
