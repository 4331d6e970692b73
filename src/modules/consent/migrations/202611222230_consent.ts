import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Per workspace: the purposes people consent to, the signing key of unsubscribe links, the STOP keywords.
  await sql`create table consent_settings (
    workspace_id uuid primary key references workspaces(id) on delete cascade,
    signing_key text not null,
    stop_keywords text[] not null default '{}',
    pending_hours int not null default 48,
    updated_at timestamptz not null default now()
  )`.execute(db);
  await sql`create table consent_purposes (
    workspace_id uuid not null references workspaces(id) on delete cascade,
    key text not null,
    kind text not null check (kind in ('marketing', 'service', 'profiling', 'sharing', 'processing')),
    name_en text not null,
    name_ru text not null,
    created_at timestamptz not null default now(),
    primary key (workspace_id, key)
  )`.execute(db);
  // The exact text shown when consent was asked: entries cite its version.
  await sql`create table consent_wordings (
    workspace_id uuid not null references workspaces(id) on delete cascade,
    purpose text not null,
    version text not null,
    locale text not null,
    text text not null,
    created_at timestamptz not null default now(),
    primary key (workspace_id, purpose, version, locale)
  )`.execute(db);
  // The ledger: append-only. Each entry carries its proof (source, wording, time, IP and user agent or operator,
  // the address it applies to).
  await sql`create table consent_entries (
    id uuid primary key,
    workspace_id uuid not null,
    profile_id uuid not null,
    channel text not null,
    purpose text not null,
    address text,
    action text not null check (action in ('grant', 'revoke', 'pending')),
    source text not null,
    wording_version text,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null default now(),
    ip text,
    user_agent text,
    operator text,
    token_hash text,
    expires_at timestamptz,
    details jsonb not null default '{}'
  )`.execute(db);
  await sql`create index consent_entries_profile on consent_entries (workspace_id, profile_id, occurred_at desc)`.execute(
    db,
  );
  await sql`create unique index consent_entries_token on consent_entries (token_hash) where token_hash is not null`.execute(
    db,
  );
  // Current status: a projection of the ledger (the latest entry per profile, channel and purpose).
  await sql`create table consent_status (
    workspace_id uuid not null,
    profile_id uuid not null,
    channel text not null,
    purpose text not null,
    status text not null check (status in ('granted', 'revoked', 'pending')),
    address text,
    entry_id uuid not null,
    since timestamptz not null,
    primary key (workspace_id, profile_id, channel, purpose)
  )`.execute(db);
  // Until the messaging module sends them, confirmation requests are recorded here (the embedded outbox).
  await sql`create table consent_outbox (
    id uuid primary key,
    workspace_id uuid not null,
    profile_id uuid not null,
    channel text not null,
    address text not null,
    subject text not null,
    body text not null,
    created_at timestamptz not null default now()
  )`.execute(db);
  await sql`create index consent_outbox_recent on consent_outbox (workspace_id, created_at desc)`.execute(db);
}
