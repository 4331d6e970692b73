import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Response codes per medium: a TV slot, a print issue, a billboard … each with a keyword people text or type,
  // a tracking address and a cost. The keyword is stored upper-case, so uniqueness is case-insensitive.
  await sql`create table code_placements (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    name text not null,
    medium text not null check (medium in ('tv', 'radio', 'print', 'outdoor', 'online', 'btl', 'other')),
    details jsonb not null default '{}',
    keyword text not null check (keyword ~ '^[A-Z0-9]{2,20}$'),
    promotion_id uuid references code_promotions(id),
    landing_url text,
    cost_minor bigint not null default 0 check (cost_minor >= 0),
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    starts_at timestamptz,
    ends_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (ends_at is null or starts_at is null or ends_at > starts_at),
    unique (workspace_id, keyword)
  )`.execute(db);
  await sql`create index code_placements_list on code_placements (workspace_id, created_at desc, id desc)`.execute(db);

  // Every contact attributed to a placement: an SMS keyword, a visit of the tracking address, a registration that
  // carried it, an event (form, call-back request) naming it. A visit knows no person (profile_id null).
  await sql`create table placement_contacts (
    id uuid primary key,
    workspace_id uuid not null,
    placement_id uuid not null references code_placements(id) on delete cascade,
    profile_id uuid,
    kind text not null,
    at timestamptz not null,
    new_profile boolean not null default false,
    source_id text,
    unique (workspace_id, kind, source_id)
  )`.execute(db);
  await sql`create index placement_contacts_report on placement_contacts (workspace_id, at, placement_id)`.execute(db);
  await sql`create index placement_contacts_profile on placement_contacts (workspace_id, profile_id)
    where profile_id is not null`.execute(db);

  // The first placement that reached a person: one row per profile, the arbiter of "first touch" under
  // concurrency (insert … on conflict do nothing).
  await sql`create table placement_first_touch (
    workspace_id uuid not null,
    profile_id uuid not null,
    placement_id uuid not null references code_placements(id) on delete cascade,
    medium text not null,
    at timestamptz not null,
    primary key (workspace_id, profile_id)
  )`.execute(db);

  // The placement keyword an attempt carried (the live dashboard's split by medium), and attempt retention.
  await sql`alter table code_attempts add column placement text`.execute(db);
  await sql`alter table code_settings add column attempt_retention_days int not null default 180
    check (attempt_retention_days between 0 and 3650)`.execute(db);
}
