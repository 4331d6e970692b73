import type { CopyIn, Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import * as bulkRepo from './profiles.bulk.repo.ts';
import { type Identifier, identifierKey, isPersonLevel } from './profiles.identifiers.ts';
import * as repo from './profiles.repo.ts';
import { addObservation, CONCURRENT_MERGE, deltaFor, type Observation } from './profiles.service.ts';
import { erasedIdentifiers, type SubjectKeyOf } from './profiles.subject.ts';

/**
 * Bulk resolution, for imports: a chunk of observations (thousands) resolved with a fixed number of set-wise
 * statements, for the observations whose outcome needs no judgement. The rest are handed back to be resolved one
 * by one (resolveObservations, through ingestion) after this chunk commits, so the identity rules keep one
 * implementation.
 *
 * The chunk's observations are grouped: two belong to one group when they share an identifier, directly or through
 * others. A group is resolved here when, taking all its identifiers and those of the one existing profile they lead
 * to (if any), no person-level kind has two values. Then the one-by-one rules, played in any order, put every
 * identifier of the group on one profile — every compatibility test passes — so the group's observations all go
 * to that profile (the existing one, or a new one) and its new identifiers are attached to it. Everything else is
 * deferred: a group that would need a merge (identifiers of two existing profiles), one with two values of a kind
 * (a shared device, a mistyped e-mail), one with an identifier of an erased person, one with an observation marked
 * `alone`. Groups that lead to the same existing profile are judged together, and with any deferred group leading
 * there, so that resolved and deferred observations never touch the same identifier or profile: their order no
 * longer matters, and the final partition of identifiers is the one the one-by-one path gives for the same chunk.
 *
 * Locks follow resolveObservations: shared on the profiles that only receive events, exclusive on new identifiers
 * and on the profiles that gain a person-level identifier; then what was read without locks is checked again. A
 * concurrent change (a merge, an erasure, an identifier attached meanwhile) throws CONCURRENT_MERGE: run the
 * transaction again. Every observation's identifiers count towards the locks: keep chunks within a few thousand
 * distinct identifiers (see BULK_LOCK_BUDGET).
 */
export interface BulkObservation extends Observation {
  /** Resolve this one one by one (it carries something only that path handles). */
  alone?: boolean;
  /** Observations with the same route key take the same path (a message id sent twice: the first one is stored). */
  routeKey?: string;
}

export interface BulkResolution {
  /**
   * The profile of each observation, or null: resolve those through resolveObservations (ingestion), in their order,
   * after this transaction commits.
   */
  profileIds: (string | null)[];
  /** What the resolved observations add to profiles that existed before: applyProjection, the last write. */
  projection: repo.ProjectionDelta[];
  createdProfiles: number;
  deferred: number;
}

/**
 * Distinct identifiers per bulk transaction: each takes at most one advisory lock, and PostgreSQL's lock table holds
 * max_locks_per_transaction × max_connections (6,400 by default) for everyone.
 */
export const BULK_LOCK_BUDGET = 4_000;

interface Group {
  ids: number[];
  rows: number[];
  deferred: boolean;
  owner: string | undefined;
}

function find(parent: number[], x: number): number {
  let root = x;
  while (parent[root] !== root) root = parent[root] as number;
  while (parent[x] !== root) {
    const next = parent[x] as number;
    parent[x] = root;
    x = next;
  }
  return root;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Resolves a chunk inside the caller's copyTransaction; see the module comment above. */
export async function resolveBulk(
  subjectKey: SubjectKeyOf,
  trx: Db,
  copyIn: CopyIn,
  workspaceId: string,
  observations: readonly BulkObservation[],
): Promise<BulkResolution> {
  // Distinct identifiers, and groups by union-find over them.
  const index = new Map<string, number>();
  const ids: Identifier[] = [];
  const parent: number[] = [];
  const rowIds: number[][] = [];
  for (const o of observations) {
    const mine: number[] = [];
    for (const id of o.ids) {
      const key = identifierKey(id);
      let n = index.get(key);
      if (n === undefined) {
        n = ids.length;
        index.set(key, n);
        ids.push(id);
        parent.push(n);
      }
      if (mine.includes(n)) continue;
      mine.push(n);
      const a = find(parent, mine[0] as number);
      const b = find(parent, n);
      if (a !== b) parent[b] = a;
    }
    rowIds.push(mine);
  }
  const groupOfRoot = new Map<number, Group>();
  const groupOfId: Group[] = [];
  for (let n = 0; n < ids.length; n++) {
    const root = find(parent, n);
    let group = groupOfRoot.get(root);
    if (!group) {
      group = { ids: [], rows: [], deferred: false, owner: undefined };
      groupOfRoot.set(root, group);
    }
    group.ids.push(n);
    groupOfId[n] = group;
  }
  const groupOfRow: (Group | undefined)[] = rowIds.map((mine) =>
    mine.length ? groupOfId[mine[0] as number] : undefined,
  );
  for (const [i, group] of groupOfRow.entries()) group?.rows.push(i);
  const groups = [...groupOfRoot.values()];

  // Owners, read without locks first: they say what to lock.
  await bulkRepo.stageIdentifiers(trx, copyIn, ids);
  const ownerOf: (string | undefined)[] = new Array(ids.length);
  for (const r of await bulkRepo.stagedOwners(trx, workspaceId)) ownerOf[r.n] = r.profile_id;

  const byOwner = new Map<string, Group[]>();
  const byRoute = new Map<string, Group[]>();
  const intrinsic: Group[] = [];
  for (const group of groups) {
    const owners = new Set<string>();
    const kinds = new Map<string, string>();
    let conflict = false;
    for (const n of group.ids) {
      const owner = ownerOf[n];
      if (owner) owners.add(owner);
      const id = ids[n] as Identifier;
      if (!isPersonLevel(id.kind)) continue;
      const held = kinds.get(id.kind);
      if (held !== undefined && held !== id.value) conflict = true;
      kinds.set(id.kind, id.value);
    }
    for (const owner of owners) push(byOwner, owner, group);
    if (owners.size === 1) group.owner = [...owners][0];
    let alone = false;
    for (const i of group.rows) {
      const o = observations[i] as BulkObservation;
      if (o.alone) alone = true;
      if (o.routeKey !== undefined) push(byRoute, o.routeKey, group);
    }
    if (conflict || owners.size > 1 || alone) intrinsic.push(group);
  }
  // Deferring a group defers every group that leads to one of its profiles or shares a route key with it.
  const defer = (start: Group) => {
    const stack = [start];
    while (stack.length) {
      const group = stack.pop() as Group;
      if (group.deferred) continue;
      group.deferred = true;
      const owners = new Set<string>();
      for (const n of group.ids) if (ownerOf[n]) owners.add(ownerOf[n] as string);
      for (const owner of owners) stack.push(...(byOwner.get(owner) ?? []));
      for (const i of group.rows) {
        const key = (observations[i] as BulkObservation).routeKey;
        if (key !== undefined) stack.push(...(byRoute.get(key) ?? []));
      }
    }
  };
  for (const group of intrinsic) defer(group);

  // Locks, in resolveObservations' order: shared profiles, new identifiers, profiles gaining a person-level kind.
  const candidates = () => groups.filter((g) => !g.deferred);
  const newIds: number[] = [];
  const gaining = new Set<string>();
  const receiving = new Set<string>();
  for (const group of candidates()) {
    for (const n of group.ids) {
      if (ownerOf[n]) continue;
      newIds.push(n);
      if (group.owner && isPersonLevel((ids[n] as Identifier).kind)) gaining.add(group.owner);
    }
    if (group.owner) receiving.add(group.owner);
  }
  for (const owner of gaining) receiving.delete(owner);
  await repo.lockKeysShared(
    trx,
    workspaceId,
    [...receiving].map((id) => `profile:${id}`),
  );
  await repo.lockKeys(
    trx,
    workspaceId,
    newIds.map((n) => identifierKey(ids[n] as Identifier)),
  );
  await repo.lockKeys(
    trx,
    workspaceId,
    [...gaining].map((id) => `profile:${id}`),
  );
  if (
    (await bulkRepo.ownedSince(trx, workspaceId, newIds)) > 0 ||
    (await bulkRepo.goneProfiles(trx, workspaceId, [...receiving, ...gaining])) > 0
  ) {
    throw new DomainError('conflict', CONCURRENT_MERGE, 'People of this chunk changed meanwhile; run it again.');
  }

  // Under the locks: an erased person is refused by the one-by-one path, which names the reason.
  if (await bulkRepo.anyErased(trx, workspaceId)) {
    const open = candidates();
    const matched = await erasedIdentifiers(
      subjectKey,
      trx,
      workspaceId,
      open.map((g) => g.ids.map((n) => ids[n] as Identifier)),
    );
    open.forEach((group, i) => {
      if ((matched[i] ?? []).length > 0) defer(group);
    });
  }
  // Profiles gaining a person-level identifier: all their groups' values and their own, one per kind.
  const gainingNow = [...gaining].filter((owner) => (byOwner.get(owner) ?? []).some((g) => !g.deferred));
  const held = new Map<string, Map<string, string>>();
  for (const i of await repo.personIdentifiersOf(trx, workspaceId, gainingNow)) {
    const kinds = held.get(i.profile_id) ?? new Map<string, string>();
    kinds.set(i.kind, i.value);
    held.set(i.profile_id, kinds);
  }
  for (const owner of gainingNow) {
    const kinds = new Map(held.get(owner));
    const mine = byOwner.get(owner) ?? [];
    let conflict = false;
    for (const group of mine) {
      for (const n of group.ids) {
        const id = ids[n] as Identifier;
        if (!isPersonLevel(id.kind)) continue;
        const value = kinds.get(id.kind);
        if (value !== undefined && value !== id.value) conflict = true;
        kinds.set(id.kind, id.value);
      }
    }
    if (conflict) for (const group of mine) defer(group);
  }

  // Writes: new profiles whole, new identifiers, and the deltas of existing profiles for the caller to apply last.
  const profileOfGroup = new Map<Group, string>();
  const created = new Set<string>();
  for (const group of candidates()) {
    const profileId = group.owner ?? newId();
    if (!group.owner) created.add(profileId);
    profileOfGroup.set(group, profileId);
  }
  const deltas = new Map<string, repo.ProjectionDelta>();
  const profileIds = observations.map((o, i) => {
    const group = groupOfRow[i];
    const profileId = group && profileOfGroup.get(group);
    if (!profileId) return null;
    addObservation(deltaFor(deltas, profileId, o.at), o);
    return profileId;
  });
  const all = [...deltas.values()];
  await repo.insertProfiles(
    trx,
    workspaceId,
    all.filter((d) => created.has(d.id)),
  );
  const attach: { n: number; profileId: string }[] = [];
  for (const [group, profileId] of profileOfGroup) {
    for (const n of group.ids) if (!ownerOf[n]) attach.push({ n, profileId });
  }
  if ((await bulkRepo.attachStaged(trx, workspaceId, attach)) !== attach.length) {
    throw new DomainError('conflict', CONCURRENT_MERGE, 'An identifier of this chunk was attached meanwhile.');
  }
  return {
    profileIds,
    projection: all.filter((d) => !created.has(d.id)),
    createdProfiles: created.size,
    deferred: profileIds.filter((p) => p === null).length,
  };
}
