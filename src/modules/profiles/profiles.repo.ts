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
    erased_at: Date | null;
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
  erased_identities: { workspace_id: string; kind: string; hash: string; profile_id: string; erased_at: Date };
}
export type ProfileRow = ProfilesTables['profiles'];

const q = (db: Db) => tables<ProfilesTables>(db) as Kysely<ProfilesTables>;

/**
 * Takes transaction-scoped advisory locks on the given keys, in one order for everyone, so that two batches
 * touching the same person run one after the other and batches of different people in parallel.
 */
export async function lockKeys(db: Db, workspaceId: string, keys: string[]) {
  if (keys.length === 0) return;
  await sql`/*prepared*/ select pg_advisory_xact_lock(h) from (
      select distinct hashtextextended(${workspaceId} || chr(2) || k, 0) as h from unnest(${keys}::text[]) as k order by h
    ) as ordered`.execute(db);
}

/**
 * Shared advisory locks on profiles: many batches of known customers hold them together; a merge, which takes the
 * same keys exclusively, waits for them and they for it. This is what keeps a batch's events off a profile that a
 * concurrent merge is absorbing.
 */
export async function lockKeysShared(db: Db, workspaceId: string, keys: string[]) {
  if (keys.length === 0) return;
  await sql`/*prepared*/ select pg_advisory_xact_lock_shared(h) from (
      select distinct hashtextextended(${workspaceId} || chr(2) || k, 0) as h from unnest(${keys}::text[]) as k order by h
    ) as ordered`.execute(db);
}

export async function anyMerged(db: Db, workspaceId: string, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  // Probed by primary key one id at a time, for the same reason as findOwners: `id = any(…)` next to the
  // workspace lets a planner with lagging statistics bitmap-scan the workspace's profiles (3 ms instead of 0.2).
  const row = await sql<{ merged: boolean }>`select exists (
      select 1 from unnest(${ids}::uuid[]) as u(id)
      cross join lateral (
        select 1 from profiles p where p.id = u.id and p.workspace_id = ${workspaceId} and p.merged_into is not null limit 1
      ) as m
    ) as merged`.execute(db);
  return Boolean(row.rows[0]?.merged);
}

/** Whether each profile was merged (into whom) or erased; unknown ids are absent. Primary-key probes. */
export async function profileStates(
  db: Db,
  workspaceId: string,
  ids: string[],
): Promise<Map<string, { mergedInto: string | null; erased: boolean }>> {
  if (ids.length === 0) return new Map();
  const result = await sql<{ id: string; merged_into: string | null; erased: boolean }>`/*prepared*/
    select u.id, p.merged_into, p.erased_at is not null as erased
    from unnest(string_to_array(${ids.join(',')}, ',')::uuid[]) as u(id)
    cross join lateral (
      select merged_into, erased_at from profiles p where p.id = u.id and p.workspace_id = ${workspaceId} limit 1
    ) as p`.execute(db);
  return new Map(result.rows.map((r) => [r.id, { mergedInto: r.merged_into, erased: r.erased }]));
}

export async function findOwners(db: Db, workspaceId: string, kinds: string[], values: string[]) {
  if (kinds.length === 0) return [];
  // A primary-key probe per identifier. `limit 1` keeps the lateral subquery from being flattened into a join:
  // joined, the planner hashes the workspace's whole identities table whenever its statistics lag a fast-growing
  // table (27 ms a call during the first sight of 50,000 people, against 0.3 ms probed).
  const result = await sql<OwnerRow>`/*prepared*/ ${ownersProbe(workspaceId, kinds, values)}`.execute(db);
  return result.rows;
}

type OwnerRow = { kind: string; value: string; profile_id: string };

/** The owner of each identifier found, by a primary-key probe each (see findOwners). */
function ownersProbe(workspaceId: string, kinds: string[], values: string[]) {
  return sql`select k.kind, k.value, o.profile_id
    from unnest(${kinds}::text[], ${values}::text[]) as k(kind, value)
    cross join lateral (
      select i.profile_id from identities i
      where i.workspace_id = ${workspaceId} and i.kind = k.kind and i.value = k.value
      limit 1
    ) as o`;
}

/**
 * `lockKeys` on the given keys, then `findOwners` under those locks, in one round trip (the function of migration
 * 202612020100 runs the read with a snapshot taken after the locks).
 */
export async function lockAndFindOwners(
  db: Db,
  workspaceId: string,
  keys: string[],
  kinds: string[],
  values: string[],
) {
  if (keys.length === 0) return findOwners(db, workspaceId, kinds, values);
  if (kinds.length === 0) {
    await lockKeys(db, workspaceId, keys);
    return [];
  }
  const result = await sql<OwnerRow>`/*prepared*/
    select kind, value, profile_id from rapport_lock_and_find_owners(${workspaceId}, ${keys}::text[], ${kinds}::text[],
      ${values}::text[])`.execute(db);
  return result.rows;
}

/**
 * `findOwners`, taking back erased identifiers first (their hashes leave the erasure list) in the same statement:
 * a person's own sign-up readmits them (`resolveObservations(…, { readmit: true })`).
 */
export async function readmitAndFindOwners(
  db: Db,
  workspaceId: string,
  kinds: string[],
  values: string[],
  erased: { kinds: string[]; hashes: string[] },
) {
  if (erased.kinds.length === 0) return findOwners(db, workspaceId, kinds, values);
  const result = await sql<OwnerRow>`/*prepared*/
    with readmitted as (
      delete from erased_identities e
      using unnest(${erased.kinds}::text[], ${erased.hashes}::text[]) as k(kind, hash)
      where e.workspace_id = ${workspaceId} and e.kind = k.kind and e.hash = k.hash
    )
    ${ownersProbe(workspaceId, kinds, values)}`.execute(db);
  return result.rows;
}

/** Identifiers of the given profiles, of the listed kinds or of all kinds but the excluded ones. */
export async function identifiersOfProfiles(
  db: Db,
  workspaceId: string,
  profileIds: string[],
  kinds: { only: string[] } | { except: string[] },
) {
  if (profileIds.length === 0) return [];
  return q(db)
    .selectFrom('identities')
    .select(['profile_id', 'kind', 'value'])
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', profileIds)
    .where('kind', 'only' in kinds ? 'in' : 'not in', 'only' in kinds ? kinds.only : kinds.except)
    .execute();
}

/** Person-level identifiers of the given profiles (what conflicts are judged on). */
export function personIdentifiersOf(db: Db, workspaceId: string, profileIds: string[]) {
  return identifiersOfProfiles(db, workspaceId, profileIds, { except: ['anonymous_id'] });
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
  await sql`/*prepared*/ insert into profiles (id, workspace_id, traits, trait_times, channels, first_seen_at, last_seen_at)
    select id, ${workspaceId}, traits, trait_times, array(select jsonb_array_elements_text(channels)), first_seen_at, last_seen_at
    from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => JSON.stringify(r.traits))}::jsonb[],
                ${rows.map((r) => JSON.stringify(r.traitTimes))}::jsonb[], ${rows.map((r) => JSON.stringify(r.channels))}::jsonb[],
                ${rows.map((r) => r.firstSeenAt.toISOString())}::timestamptz[], ${rows.map((r) => r.lastSeenAt.toISOString())}::timestamptz[])
      as v(id, traits, trait_times, channels, first_seen_at, last_seen_at)`.execute(db);
}

/** New profiles and the identifiers attached to profiles (new or not), in one statement. */
export async function insertProfilesAndIdentities(
  db: Db,
  workspaceId: string,
  rows: ProfileWrite[],
  identities: { kind: string; value: string; profileId: string }[],
) {
  if (rows.length === 0) return insertIdentities(db, workspaceId, identities);
  if (identities.length === 0) return insertProfiles(db, workspaceId, rows);
  // The identities' key to their profile is checked at the end of the statement, when the new profiles are there.
  await sql`/*prepared*/ with p as (
      insert into profiles (id, workspace_id, traits, trait_times, channels, first_seen_at, last_seen_at)
      select id, ${workspaceId}, traits, trait_times, array(select jsonb_array_elements_text(channels)), first_seen_at,
        last_seen_at
      from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => JSON.stringify(r.traits))}::jsonb[],
                  ${rows.map((r) => JSON.stringify(r.traitTimes))}::jsonb[], ${rows.map((r) => JSON.stringify(r.channels))}::jsonb[],
                  ${rows.map((r) => r.firstSeenAt.toISOString())}::timestamptz[], ${rows.map((r) => r.lastSeenAt.toISOString())}::timestamptz[])
        as v(id, traits, trait_times, channels, first_seen_at, last_seen_at)
    )
    insert into identities (workspace_id, kind, value, profile_id)
    select ${workspaceId}, kind, value, profile_id
    from unnest(${identities.map((r) => r.kind)}::text[], ${identities.map((r) => r.value)}::text[],
      ${identities.map((r) => r.profileId)}::uuid[]) as v(kind, value, profile_id)`.execute(db);
}

/** What a batch adds to existing profiles, applied relative to the row as it is when the UPDATE runs. */
export interface ProjectionDelta {
  id: string;
  traits: Record<string, unknown>;
  traitTimes: Record<string, string>;
  channels: string[];
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/**
 * Applies deltas to profiles, newest-wins per trait inside the database. A row is rewritten only when something a
 * reader would notice changes: traits, a new channel, an earlier first sighting, or a last sighting more than a
 * minute later (last_seen_at has minute resolution; the timeline keeps exact times). Rows are visited in id order
 * so that concurrent batches lock them in one order.
 */
export async function applyDeltas(db: Db, workspaceId: string, deltas: ProjectionDelta[]): Promise<string[]> {
  if (deltas.length === 0) return [];
  const rows = [...deltas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Most deltas carry no traits and channels the profile already has (a known customer's purchase or page view),
  // so the costly parts (trait merge functions, channel union) run only when they would change something. Empty
  // traits travel as null and channels as one comma-separated text (channel names are [a-z_]): parsing a jsonb
  // per profile and array cost more than the update itself.
  const traits = rows.map((r) => (hasKeys(r.traits) ? JSON.stringify(r.traits) : null));
  // One function (migrations 202611230400, 202612060100) whose plan is a primary-key probe per row whatever the
  // statistics say; ids and times travel as comma-separated texts (times in milliseconds), cheaper to make and read
  // than arrays.
  const result = await sql<{ id: string }>`/*prepared*/ select rapport_apply_deltas(${workspaceId},
      ${rows.map((r) => r.id).join(',')}, ${traits}::jsonb[],
      ${rows.map((r, i) => (traits[i] === null ? null : JSON.stringify(r.traitTimes)))}::jsonb[],
      ${rows.map((r) => r.channels.join(','))}::text[], ${rows.map((r) => r.firstSeenAt.getTime()).join(',')},
      ${rows.map((r) => r.lastSeenAt.getTime()).join(',')}) as id`.execute(db);
  return result.rows.map((r) => r.id);
}

function hasKeys(o: Record<string, unknown>): boolean {
  for (const _ in o) return true;
  return false;
}

/** Folds an absorbed profile's projection into its survivor (newest value per trait, union of channels, span). */
export async function foldInto(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`update profiles s set
      traits = s.traits || rapport_newer_traits(s.trait_times, a.traits, a.trait_times),
      trait_times = s.trait_times || rapport_newer_times(s.trait_times, a.trait_times),
      channels = array(select distinct c from unnest(s.channels || a.channels) as c order by c),
      first_seen_at = least(s.first_seen_at, a.first_seen_at),
      last_seen_at = greatest(s.last_seen_at, a.last_seen_at),
      updated_at = now()
    from profiles a
    where s.workspace_id = ${workspaceId} and s.id = ${survivorId} and a.workspace_id = ${workspaceId} and a.id = ${absorbedId}`.execute(
    db,
  );
}

export async function insertIdentities(
  db: Db,
  workspaceId: string,
  rows: { kind: string; value: string; profileId: string }[],
) {
  if (rows.length === 0) return;
  await sql`/*prepared*/ insert into identities (workspace_id, kind, value, profile_id)
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

/**
 * A profile page in one statement: the profile an id stands for (itself, or the survivor it was merged into),
 * with its identities and the merges into it. One round trip and one pool connection instead of three.
 */
export async function profileView(db: Db, workspaceId: string, id: string) {
  const result = await sql<{
    id: string;
    traits: Record<string, unknown>;
    channels: string[];
    first_seen_at: Date;
    last_seen_at: Date;
    erased_at: Date | null;
    identities: { kind: string; value: string; since: string }[];
    merges: { absorbed_id: string; reason: string; at: string }[];
  }>`/*prepared*/ select p.id, p.traits, p.channels, p.first_seen_at, p.last_seen_at, p.erased_at,
      coalesce((select json_agg(json_build_object('kind', i.kind, 'value', i.value, 'since', i.created_at)
                  order by i.kind, i.value)
                from identities i where i.workspace_id = ${workspaceId} and i.profile_id = p.id), '[]') as identities,
      coalesce((select json_agg(json_build_object('absorbed_id', m.absorbed_id, 'reason', m.reason, 'at', m.at)
                  order by m.at)
                from profile_merges m where m.workspace_id = ${workspaceId} and m.survivor_id = p.id), '[]') as merges
    from profiles asked
    join profiles p on p.workspace_id = asked.workspace_id and p.id = coalesce(asked.merged_into, asked.id)
    where asked.workspace_id = ${workspaceId} and asked.id = ${id}`.execute(db);
  return result.rows[0];
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
    .where('p.merged_into', 'is', null)
    .where('p.erased_at', 'is', null);
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
                // People type a number without its country code, or the last digits of a card: match anywhere.
                ...(digits.length >= 4
                  ? [
                      w.and([w('i.kind', '=', 'phone'), w('i.value', 'like', `%${digits}%`)]),
                      w.and([w('i.kind', '=', 'card'), w('i.value', 'like', `%${digits}%`)]),
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

/** Staff edit: sets and removes traits as of `at`. A removal leaves its time behind, so older events do not
 * bring the value back while newer ones may. */
export async function editTraits(
  db: Db,
  workspaceId: string,
  id: string,
  set: Record<string, unknown>,
  unset: string[],
  at: Date,
) {
  const iso = at.toISOString();
  const times: Record<string, string> = {};
  for (const key of [...Object.keys(set), ...unset]) times[key] = iso;
  const result = await sql<{ id: string }>`update profiles set
      traits = (traits - ${unset}::text[]) || ${JSON.stringify(set)}::jsonb,
      trait_times = trait_times || ${JSON.stringify(times)}::jsonb,
      updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id} and merged_into is null and erased_at is null
    returning id`.execute(db);
  return result.rows.length > 0;
}

// ---- data subjects: export and erasure

/** The profile rows of a person: the live one and those it absorbed. */
export async function profilesByIds(db: Db, workspaceId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return q(db)
    .selectFrom('profiles')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...ids])
    .orderBy('created_at')
    .execute();
}

export async function identitiesOfProfiles(db: Db, workspaceId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return q(db)
    .selectFrom('identities')
    .select(['kind', 'value', 'profile_id', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', [...ids])
    .orderBy('kind')
    .orderBy('value')
    .execute();
}

export async function mergesOfProfiles(db: Db, workspaceId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return q(db)
    .selectFrom('profile_merges')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('survivor_id', 'in', [...ids]), eb('absorbed_id', 'in', [...ids])]))
    .orderBy('at')
    .execute();
}

/** Tombstones: traits and their times emptied, erased_at set. Channels and first/last seen stay (no person in them). */
export async function tombstoneProfiles(db: Db, workspaceId: string, ids: readonly string[], at: Date) {
  if (ids.length === 0) return;
  await q(db)
    .updateTable('profiles')
    .set({
      traits: sql`'{}'::jsonb`,
      trait_times: sql`'{}'::jsonb`,
      erased_at: sql`coalesce(erased_at, ${at.toISOString()}::timestamptz)`,
      updated_at: sql`now()`,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', [...ids])
    .execute();
}

/** Replaces identities by their keyed hashes: the hashes are kept (erased_identities), the identities deleted. */
export async function replaceIdentitiesByHashes(
  db: Db,
  workspaceId: string,
  ids: readonly string[],
  hashed: { kind: string; hash: string; profileId: string }[],
) {
  if (hashed.length > 0) {
    await sql`insert into erased_identities (workspace_id, kind, hash, profile_id)
      select ${workspaceId}, kind, hash, profile_id
      from unnest(${hashed.map((h) => h.kind)}::text[], ${hashed.map((h) => h.hash)}::text[],
                  ${hashed.map((h) => h.profileId)}::uuid[]) as v(kind, hash, profile_id)
      on conflict (workspace_id, kind, hash) do nothing`.execute(db);
  }
  if (ids.length === 0) return;
  await q(db)
    .deleteFrom('identities')
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', [...ids])
    .execute();
}

/** Whether anyone of the workspace was erased and not readmitted (a primary-key probe). */
export async function anyErased(db: Db, workspaceId: string): Promise<boolean> {
  const result = await sql<{ any: boolean }>`/*prepared*/ select exists (
      select 1 from erased_identities where workspace_id = ${workspaceId}) as any`.execute(db);
  return Boolean(result.rows[0]?.any);
}

/** Which of these (kind, hash) pairs belong to erased people: one primary-key probe each. */
export async function findErasedHashes(db: Db, workspaceId: string, kinds: string[], hashes: string[]) {
  if (kinds.length === 0) return [];
  const result = await sql<{ kind: string; hash: string }>`
    select k.kind, k.hash from unnest(${kinds}::text[], ${hashes}::text[]) as k(kind, hash)
    where exists (select 1 from erased_identities e
                  where e.workspace_id = ${workspaceId} and e.kind = k.kind and e.hash = k.hash)`.execute(db);
  return result.rows;
}
