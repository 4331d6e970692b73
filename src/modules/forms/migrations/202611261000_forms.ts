import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A form or survey. `definition` is the current version's (the one the builder edits and the page shows);
  // `published_version` is the highest version that has been live: editing it makes a new version.
  await sql`create table forms (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    key text not null,
    name text not null,
    kind text not null check (kind in ('form', 'survey')),
    status text not null default 'draft' check (status in ('draft', 'live', 'closed')),
    version int not null default 1 check (version >= 1),
    published_version int,
    definition jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (workspace_id, key)
  )`.execute(db);

  // Every version's definition, frozen once it has been live: a submission names the version it answered.
  await sql`create table form_versions (
    workspace_id uuid not null references workspaces(id) on delete cascade,
    form_id uuid not null references forms(id) on delete cascade,
    version int not null,
    definition jsonb not null,
    created_at timestamptz not null default now(),
    primary key (form_id, version)
  )`.execute(db);

  // One row per accepted submission. client_id (the client's submission id) makes a retry store nothing new.
  // Erasure blanks answers, consents, source, IP and user agent and keeps the row (counts must add up).
  await sql`create table form_submissions (
    id uuid primary key,
    workspace_id uuid not null references workspaces(id) on delete cascade,
    form_id uuid not null references forms(id) on delete cascade,
    version int not null,
    profile_id uuid,
    client_id text,
    channel text not null check (channel in ('api', 'page')),
    answers jsonb not null default '{}',
    consents jsonb not null default '{}',
    source jsonb not null default '{}',
    ip text,
    user_agent text,
    erased_at timestamptz,
    created_at timestamptz not null default now()
  )`.execute(db);
  await sql`create unique index form_submissions_client on form_submissions (workspace_id, form_id, client_id)
    where client_id is not null`.execute(db);
  await sql`create index form_submissions_form on form_submissions (workspace_id, form_id, id)`.execute(db);
  await sql`create index form_submissions_profile on form_submissions (workspace_id, profile_id)`.execute(db);
}
