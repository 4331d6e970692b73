import { sql } from 'kysely';
import { type CopyIn, copyField, type Db } from '../../platform/db.ts';

/**
 * SQL of bulk resolution (profiles.bulk.ts). The identifiers of a chunk are COPYed into a temporary table of the
 * session, emptied at every commit, and every step is one statement over all of them.
 */

const STAGE = 'rapport_bulk_identifiers';

/** Stages the chunk's distinct identifiers, numbered 0…n-1. */
export async function stageIdentifiers(trx: Db, copyIn: CopyIn, ids: readonly { kind: string; value: string }[]) {
  await sql`create temp table if not exists rapport_bulk_identifiers (
      n int not null, kind text not null, value text not null
    ) on commit delete rows`.execute(trx);
  let rows = '';
  for (const [n, id] of ids.entries()) rows += `${n}\t${copyField(id.kind)}\t${copyField(id.value)}\n`;
  await copyIn(`${STAGE} (n, kind, value)`, rows);
}

/** Owners of the staged identifiers that have one: a primary-key probe each (see findOwners for the `limit 1`). */
export async function stagedOwners(trx: Db, workspaceId: string): Promise<{ n: number; profile_id: string }[]> {
  const result = await sql<{ n: number; profile_id: string }>`
    select s.n, o.profile_id from rapport_bulk_identifiers s
    cross join lateral (
      select i.profile_id from identities i
      where i.workspace_id = ${workspaceId} and i.kind = s.kind and i.value = s.value
      limit 1
    ) as o`.execute(trx);
  return result.rows;
}

/** Which of these staged identifiers have an owner now (someone attached them since stagedOwners). */
export async function ownedSince(trx: Db, workspaceId: string, ns: number[]): Promise<number> {
  if (ns.length === 0) return 0;
  const result = await sql<{ n: number }>`
    select count(*) as n from rapport_bulk_identifiers s
    where s.n = any(${ns}::int[]) and exists (
      select 1 from identities i where i.workspace_id = ${workspaceId} and i.kind = s.kind and i.value = s.value
    )`.execute(trx);
  return Number(result.rows[0]?.n ?? 0);
}

/** How many of these profiles were merged into another or erased (a primary-key probe each). */
export async function goneProfiles(trx: Db, workspaceId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await sql<{ n: number }>`
    select count(*) as n from unnest(${ids}::uuid[]) as u(id)
    cross join lateral (
      select 1 from profiles p
      where p.id = u.id and p.workspace_id = ${workspaceId} and (p.merged_into is not null or p.erased_at is not null)
      limit 1
    ) as gone`.execute(trx);
  return Number(result.rows[0]?.n ?? 0);
}

/** Whether anyone in the workspace was ever erased: when not, nothing needs hashing. */
export async function anyErased(trx: Db, workspaceId: string): Promise<boolean> {
  const result = await sql<{ any: boolean }>`
    select exists (select 1 from erased_identities where workspace_id = ${workspaceId}) as any`.execute(trx);
  return Boolean(result.rows[0]?.any);
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
  const result = await sql`insert into identities (workspace_id, kind, value, profile_id)
    select ${workspaceId}, s.kind, s.value, v.profile_id
    from unnest(${attach.map((a) => a.n)}::int[], ${attach.map((a) => a.profileId)}::uuid[]) as v(n, profile_id)
    join rapport_bulk_identifiers s on s.n = v.n
    on conflict (workspace_id, kind, value) do nothing`.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}
