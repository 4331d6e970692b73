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
 *
 * An import's chunks may share a BulkMemory: the owners found or attached by earlier, committed chunks, so that
 * known customers are not looked up again. A remembered owner is only a guess, like one read without locks: the
 * check under the locks finds it merged, erased or missing if it moved (identifiers change profile by nothing
 * else), and the memory is then forgotten and the chunk run again.
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
 * Owners of identifiers (kind \u0001 value → profile id) as the committed chunks of one import left them. What a
 * chunk learns is pending until its caller says the transaction committed (`committed`); a failed one forgets all.
 */
export class BulkMemory {
  readonly owners = new Map<string, string>();
  readonly limit: number;
  #pending: [string, string | null][] = [];
  constructor(limit = 200_000) {
    this.limit = limit;
  }
  remember(key: string, profileId: string | null) {
    this.#pending.push([key, profileId]);
  }
  /** The chunk's transaction committed: what it learnt holds. */
  committed() {
    for (const [key, profileId] of this.#pending) {
      this.owners.delete(key);
      if (profileId === null) continue;
      this.owners.set(key, profileId);
      // Oldest first out: a file of millions of people keeps a bounded memory.
      if (this.owners.size > this.limit) this.owners.delete(this.owners.keys().next().value as string);
    }
    this.#pending = [];
  }
  /** The chunk's transaction failed: nothing remembered can be trusted. */
  forget() {
    this.owners.clear();
    this.#pending = [];
  }
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
  memory?: BulkMemory,
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

  // Owners, remembered or read without locks: they say what to lock. Staged are the identifiers looked up.
  const ownerOf: (string | undefined)[] = new Array(ids.length);
  const staged: number[] = [];
  for (const [n, id] of ids.entries()) {
    const remembered = memory?.owners.get(identifierKey(id));
    if (remembered) ownerOf[n] = remembered;
    else staged.push(n);
  }
  if (staged.length > 0) {
    await bulkRepo.stageIdentifiers(
      trx,
      copyIn,
      staged.map((n) => ({ n, ...(ids[n] as Identifier) })),
    );
    for (const r of await bulkRepo.stagedOwners(trx, workspaceId)) ownerOf[r.n] = r.profile_id;
  }

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
  const changed = await bulkRepo.changedSince(trx, workspaceId, newIds, [...receiving, ...gaining]);
  if (changed.owned > 0 || changed.gone > 0) {
    memory?.forget();
    throw new DomainError('conflict', CONCURRENT_MERGE, 'People of this chunk changed meanwhile; run it again.');
  }

  // Under the locks: an erased person is refused by the one-by-one path, which names the reason.
  if (changed.erased) {
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
    memory?.forget();
    throw new DomainError('conflict', CONCURRENT_MERGE, 'An identifier of this chunk was attached meanwhile.');
  }
  if (memory) {
    // Only what this chunk settled: deferred groups are resolved one by one next, and may move.
    for (const [group, profileId] of profileOfGroup) {
      for (const n of group.ids) memory.remember(identifierKey(ids[n] as Identifier), profileId);
    }
    for (const group of groups) {
      if (group.deferred) for (const n of group.ids) memory.remember(identifierKey(ids[n] as Identifier), null);
    }
  }
  return {
    profileIds,
    projection: all.filter((d) => !created.has(d.id)),
    createdProfiles: created.size,
    deferred: profileIds.filter((p) => p === null).length,
  };
}
