import { type Kysely, sql } from 'kysely';
import { type Db, tables } from '../../platform/db.ts';

/** All SQL of the profiles module. Every function is scoped by workspace. */

export interface ProfilesTables {
  profiles: {
    id: string;
    workspace_id: string;
    traits: Record<string, unknown>;
    trait_times: Record<string, string>;
    channels: string[];
    first_seen_at: Date;
    last_seen_at: Date;
    merged_into: string | null;
    created_at: Date;
    updated_at: Date;
  };
  identities: { workspace_id: string; kind: string; value: string; profile_id: string; created_at: Date };
  profile_merges: {
    id: string;
    workspace_id: string;
    survivor_id: string;
    absorbed_id: string;
    reason: string;
    actor: string | null;
    at: Date;
  };
}
export type ProfileRow = ProfilesTables['profiles'];

const q = (db: Db) => tables<ProfilesTables>(db) as Kysely<ProfilesTables>;

/**
 * Takes transaction-scoped advisory locks on the given keys, in one order for everyone, so that two batches
 * touching the same person run one after the other and batches of different people in parallel.
 */
export async function lockKeys(db: Db, workspaceId: string, keys: string[]) {
  if (keys.length === 0) return;
  await sql`select pg_advisory_xact_lock(h) from (
      select distinct hashtextextended(${workspaceId} || chr(2) || k, 0) as h from unnest(${keys}::text[]) as k order by h
    ) as ordered`.execute(db);
}

export async function findOwners(db: Db, workspaceId: string, kinds: string[], values: string[]) {
  if (kinds.length === 0) return [];
  const result = await sql<{ kind: string; value: string; profile_id: string }>`
    select i.kind, i.value, i.profile_id
    from unnest(${kinds}::text[], ${values}::text[]) as k(kind, value)
    join identities i on i.workspace_id = ${workspaceId} and i.kind = k.kind and i.value = k.value`.execute(db);
  return result.rows;
}

export async function loadProfiles(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return { profiles: [], identities: [] };
  const profiles = await q(db)
    .selectFrom('profiles')
    .select(['id', 'traits', 'trait_times', 'channels', 'first_seen_at', 'last_seen_at', 'merged_into'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
  const identities = await q(db)
    .selectFrom('identities')
    .select(['profile_id', 'kind', 'value'])
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', ids)
    .where('kind', '<>', 'anonymous_id')
    .execute();
  return { profiles, identities };
}

export interface ProfileWrite {
  id: string;
  traits: Record<string, unknown>;
  traitTimes: Record<string, string>;
  channels: string[];
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export async function insertProfiles(db: Db, workspaceId: string, rows: ProfileWrite[]) {
  if (rows.length === 0) return;
  await sql`insert into profiles (id, workspace_id, traits, trait_times, channels, first_seen_at, last_seen_at)
    select id, ${workspaceId}, traits, trait_times, array(select jsonb_array_elements_text(channels)), first_seen_at, last_seen_at
    from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => JSON.stringify(r.traits))}::jsonb[],
                ${rows.map((r) => JSON.stringify(r.traitTimes))}::jsonb[], ${rows.map((r) => JSON.stringify(r.channels))}::jsonb[],
                ${rows.map((r) => r.firstSeenAt.toISOString())}::timestamptz[], ${rows.map((r) => r.lastSeenAt.toISOString())}::timestamptz[])
      as v(id, traits, trait_times, channels, first_seen_at, last_seen_at)`.execute(db);
}

export async function updateProfiles(db: Db, workspaceId: string, rows: ProfileWrite[]) {
  if (rows.length === 0) return;
  await sql`update profiles p set traits = v.traits, trait_times = v.trait_times,
      channels = array(select jsonb_array_elements_text(v.channels)), first_seen_at = v.first_seen_at,
      last_seen_at = v.last_seen_at, updated_at = now()
    from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => JSON.stringify(r.traits))}::jsonb[],
                ${rows.map((r) => JSON.stringify(r.traitTimes))}::jsonb[], ${rows.map((r) => JSON.stringify(r.channels))}::jsonb[],
                ${rows.map((r) => r.firstSeenAt.toISOString())}::timestamptz[], ${rows.map((r) => r.lastSeenAt.toISOString())}::timestamptz[])
      as v(id, traits, trait_times, channels, first_seen_at, last_seen_at)
    where p.workspace_id = ${workspaceId} and p.id = v.id`.execute(db);
}

export async function insertIdentities(
  db: Db,
  workspaceId: string,
  rows: { kind: string; value: string; profileId: string }[],
) {
  if (rows.length === 0) return;
  await sql`insert into identities (workspace_id, kind, value, profile_id)
    select ${workspaceId}, kind, value, profile_id
    from unnest(${rows.map((r) => r.kind)}::text[], ${rows.map((r) => r.value)}::text[], ${rows.map((r) => r.profileId)}::uuid[])
      as v(kind, value, profile_id)`.execute(db);
}

/** Re-points everything of absorbed profiles at their survivors and marks them merged. */
export async function applyMerges(
  db: Db,
  workspaceId: string,
  merges: { absorbedId: string; survivorId: string; mergeId: string }[],
  reason: string,
  actor: string | null,
) {
  if (merges.length === 0) return;
  const absorbed = merges.map((m) => m.absorbedId);
  const survivors = merges.map((m) => m.survivorId);
  await sql`update identities i set profile_id = v.survivor
    from unnest(${absorbed}::uuid[], ${survivors}::uuid[]) as v(absorbed, survivor)
    where i.workspace_id = ${workspaceId} and i.profile_id = v.absorbed`.execute(db);
  await sql`update profiles p set merged_into = v.survivor, updated_at = now()
    from unnest(${absorbed}::uuid[], ${survivors}::uuid[]) as v(absorbed, survivor)
    where p.workspace_id = ${workspaceId} and p.id = v.absorbed`.execute(db);
  // Earlier merges into a now-absorbed profile follow it to the new survivor.
  await sql`update profiles p set merged_into = v.survivor
    from unnest(${absorbed}::uuid[], ${survivors}::uuid[]) as v(absorbed, survivor)
    where p.workspace_id = ${workspaceId} and p.merged_into = v.absorbed`.execute(db);
  await sql`insert into profile_merges (id, workspace_id, survivor_id, absorbed_id, reason, actor)
    select id, ${workspaceId}, survivor, absorbed, ${reason}, ${actor}
    from unnest(${merges.map((m) => m.mergeId)}::uuid[], ${survivors}::uuid[], ${absorbed}::uuid[]) as v(id, survivor, absorbed)`.execute(
    db,
  );
}

// ---- reads

export async function findProfile(db: Db, workspaceId: string, id: string) {
  return q(db)
    .selectFrom('profiles')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function identitiesOf(db: Db, workspaceId: string, profileId: string) {
  return q(db)
    .selectFrom('identities')
    .select(['kind', 'value', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', '=', profileId)
    .orderBy('kind')
    .orderBy('value')
    .execute();
}

export async function mergesInto(db: Db, workspaceId: string, survivorId: string) {
  return q(db)
    .selectFrom('profile_merges')
    .select(['absorbed_id', 'reason', 'actor', 'at'])
    .where('workspace_id', '=', workspaceId)
    .where('survivor_id', '=', survivorId)
    .orderBy('at')
    .execute();
}

export async function ownerOf(db: Db, workspaceId: string, kind: string, value: string) {
  const row = await q(db)
    .selectFrom('identities')
    .select('profile_id')
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', kind)
    .where('value', '=', value)
    .executeTakeFirst();
  return row?.profile_id;
}

/** Every profile id that now resolves to `profileId` (itself and all it absorbed, directly or not). */
export async function absorbedInto(db: Db, workspaceId: string, profileId: string): Promise<string[]> {
  const rows = await q(db)
    .selectFrom('profiles')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('merged_into', '=', profileId)
    .execute();
  return rows.map((r) => r.id);
}

export async function listProfiles(
  db: Db,
  workspaceId: string,
  filter: { q?: string },
  page: { limit: number; before?: string },
) {
  let query = q(db)
    .selectFrom('profiles as p')
    .select(['p.id', 'p.traits', 'p.channels', 'p.last_seen_at'])
    .where('p.workspace_id', '=', workspaceId)
    .where('p.merged_into', 'is', null);
  if (filter.q) {
    const term = filter.q.toLowerCase();
    const digits = term.replace(/[^0-9]/g, '');
    const escaped = term.replace(/[%_\\]/g, '\\$&');
    query = query.where((eb) =>
      eb.or([
        eb.exists(
          eb
            .selectFrom('identities as i')
            .select('i.profile_id')
            .whereRef('i.profile_id', '=', 'p.id')
            .where('i.workspace_id', '=', workspaceId)
            .where((w) =>
              w.or([
                w.and([w('i.kind', '=', 'email'), w('i.value', 'like', `${escaped}%`)]),
                ...(digits.length >= 3
                  ? [
                      w.and([w('i.kind', '=', 'phone'), w('i.value', 'like', `+${digits}%`)]),
                      w.and([w('i.kind', '=', 'card'), w('i.value', 'like', `${digits}%`)]),
                    ]
                  : []),
              ]),
            ),
        ),
        eb(
          sql`lower(coalesce(p.traits->>'name', '') || ' ' || coalesce(p.traits->>'firstName', '') || ' ' || coalesce(p.traits->>'lastName', ''))`,
          'like',
          `%${escaped}%`,
        ),
      ]),
    );
  }
  if (page.before) query = query.where('p.id', '<', page.before);
  return query
    .orderBy('p.id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

export async function primaryIdentifiers(db: Db, workspaceId: string, profileIds: string[]) {
  if (profileIds.length === 0) return [];
  return q(db)
    .selectFrom('identities')
    .select(['profile_id', 'kind', 'value'])
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', profileIds)
    .where('kind', 'in', ['email', 'phone'])
    .execute();
}
