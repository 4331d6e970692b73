import { type Kysely, sql } from 'kysely';

/**
 * Referrals (invite codes, referrals with their fraud screen, signals seen per profile) and approval requests of
 * large manual adjustments.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table loyalty_invite_codes (
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    profile_id uuid not null,
    -- shared publicly, so kept in clear; CSPRNG, unique per workspace
    code text not null,
    created_at timestamptz not null,
    primary key (workspace_id, code),
    unique (workspace_id, programme_id, profile_id)
  )`.execute(db);

  await sql`create table loyalty_referrals (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    code text not null,
    referrer_profile_id uuid not null,
    invitee_profile_id uuid not null,
    status text not null check (status in ('pending', 'held', 'rejected', 'completed')),
    reason text,
    source text not null,
    message_id text,
    created_at timestamptz not null,
    decided_at timestamptz,
    decided_by text,
    completed_at timestamptz,
    completion_ref text,
    unique (workspace_id, programme_id, invitee_profile_id)
  )`.execute(db);
  await sql`create index loyalty_referrals_referrer on loyalty_referrals (workspace_id, referrer_profile_id, created_at)`.execute(
    db,
  );
  await sql`create index loyalty_referrals_status on loyalty_referrals (workspace_id, programme_id, status, created_at)`.execute(
    db,
  );

  await sql`create table loyalty_referral_signals (
    workspace_id uuid not null,
    profile_id uuid not null,
    kind text not null,
    -- SHA-256 of the normalised value: compared, never shown
    value_hash text not null,
    seen_at timestamptz not null,
    primary key (workspace_id, profile_id, kind, value_hash)
  )`.execute(db);
  await sql`create index loyalty_referral_signals_value on loyalty_referral_signals (workspace_id, kind, value_hash)`.execute(
    db,
  );

  await sql`create table loyalty_adjustment_requests (
    id uuid primary key,
    workspace_id uuid not null,
    programme_id uuid not null references loyalty_programmes (id),
    idempotency_key text not null,
    body jsonb not null,
    points bigint not null,
    profile_id uuid,
    status text not null check (status in ('pending', 'approved', 'rejected')),
    requested_by text not null,
    requested_by_user uuid,
    requested_at timestamptz not null,
    decided_by text,
    decided_at timestamptz,
    decision_reason text,
    result jsonb,
    unique (workspace_id, idempotency_key)
  )`.execute(db);
  await sql`create index loyalty_adjustment_requests_status on loyalty_adjustment_requests (workspace_id, status, requested_at)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table loyalty_adjustment_requests`.execute(db);
  await sql`drop table loyalty_referral_signals`.execute(db);
  await sql`drop table loyalty_referrals`.execute(db);
  await sql`drop table loyalty_invite_codes`.execute(db);
}
