import { sql } from 'kysely';
import { type CopyIn, copyField, type Db } from '../../platform/db.ts';
import type { Identifier } from './profiles.identifiers.ts';

/**
 * SQL of bulk resolution (profiles.bulk.ts). The identifiers of a chunk are COPYed into a temporary table of the
 * session, emptied at every commit, and every step is one statement over all of them.
 */

const STAGE = 'rapport_bulk_identifiers';

/** Stages identifiers of the chunk with their numbers in it. */
export async function stageIdentifiers(
  trx: Db,
  copyIn: CopyIn,
  ids: readonly { n: number; kind: string; value: string }[],
) {
  await sql`create temp table if not exists rapport_bulk_identifiers (
      n int primary key, kind text not null, value text not null
    ) on commit delete rows`.execute(trx);
  let rows = '';
  for (const id of ids) rows += `${id.n}\t${copyField(id.kind)}\t${copyField(id.value)}\n`;
  await copyIn(`${STAGE} (n, kind, value)`, rows);
}

/** Owners of the staged identifiers that have one: a primary-key probe each (see findOwners for the `limit 1`). */
export async function stagedOwners(trx: Db, workspaceId: string): Promise<{ n: number; profile_id: string }[]> {
  const result = await sql<{ n: number; profile_id: string }>`/*prepared*/
    select s.n, o.profile_id from rapport_bulk_identifiers s
    cross join lateral (
      select i.profile_id from identities i
      where i.workspace_id = ${workspaceId} and i.kind = s.kind and i.value = s.value
      limit 1
    ) as o`.execute(trx);
  return result.rows;
}

/**
 * Takes the locks of a bulk transaction — shared on the profiles it adds events to, exclusive on its new
 * identifiers (their `lockKeys` keys) and on the profiles gaining a person-level identifier — and then, under
 * them, checks what was read without them: how many of the new identifiers have an owner now (someone attached
 * them meanwhile), how many of the owners are not live profiles now (merged, erased, or never committed: an owner
 * remembered from a chunk that failed), and whether anyone in the workspace was ever erased (when not, nothing
 * needs hashing). `owners` are distinct and include the profiles locked here; those locked by an earlier round are
 * passed apart. One round trip (migration 202612060000).
 *
 * `trust`: the count of moves (rapport_profile_moves) at which the caller last checked its owners, and the owners
 * it did not check then. When the count read under the locks is still that one, no owner checked then has moved
 * since, and only the others are checked. `moves` is the count read, for the caller's next chunk.
 */
export async function lockAndCheck(
  trx: Db,
  workspaceId: string,
  locks: { shared: string[]; newKeys: string[]; exclusive: string[] },
  check: { newIds: Identifier[]; owners: string[]; trust?: { moves: number; untrusted: string[] } },
): Promise<{ owned: number; gone: number; erased: boolean; moves: number }> {
  let others: string[] = [];
  if (locks.shared.length + locks.exclusive.length !== check.owners.length) {
    const locking = new Set([...locks.shared, ...locks.exclusive]);
    others = check.owners.filter((id) => !locking.has(id));
  }
  const untrusted = check.trust?.untrusted ?? [];
  const result = await sql<{
    owned: number;
    live: number;
    erased: boolean;
    moves: string;
    checked_all: boolean;
  }>`/*prepared*/
    select owned, live, erased, moves, checked_all from rapport_bulk_lock_and_check(${workspaceId},
      ${locks.shared.join(',')}, ${locks.newKeys}::text[], ${locks.exclusive.join(',')}, ${others.join(',')},
      ${check.newIds.map((i) => i.kind)}::text[], ${check.newIds.map((i) => i.value)}::text[],
      ${check.trust?.moves ?? null}::bigint, ${untrusted.join(',')})`.execute(trx);
  const row = result.rows[0];
  const checked = row?.checked_all === false ? untrusted.length : check.owners.length;
  return {
    owned: Number(row?.owned ?? 0),
    gone: checked - Number(row?.live ?? 0),
    erased: Boolean(row?.erased),
    moves: Number(row?.moves ?? 0),
  };
}

/**
 * Attaches staged identifiers to profiles. ON CONFLICT DO NOTHING, and the caller compares the count: an identifier
 * someone else attached meanwhile is never overwritten, the chunk is run again instead.
 */
export async function attachStaged(
  trx: Db,
  workspaceId: string,
  attach: { n: number; profileId: string }[],
): Promise<number> {
  if (attach.length === 0) return 0;
  const result = await sql`/*prepared*/ insert into identities (workspace_id, kind, value, profile_id)
    select ${workspaceId}, s.kind, s.value, v.profile_id
    from unnest(${attach.map((a) => a.n)}::int[], ${attach.map((a) => a.profileId)}::uuid[]) as v(n, profile_id)
    join rapport_bulk_identifiers s on s.n = v.n
    on conflict (workspace_id, kind, value) do nothing`.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Shared advisory locks on profiles: the keys and order of profiles.repo's lockKeysShared (`profile:<id>`), with the
 * ids sent as one text — an array of thousands of ids costs more to encode than the locks cost to take.
 */
export async function lockProfilesShared(trx: Db, workspaceId: string, profileIds: string[]) {
  if (profileIds.length === 0) return;
  await sql`/*prepared*/ select pg_advisory_xact_lock_shared(h) from (
      select distinct hashtextextended(${workspaceId} || chr(2) || 'profile:' || id, 0) as h
      from unnest(string_to_array(${profileIds.join(',')}, ',')) as id order by h
    ) as ordered`.execute(trx);
}
