import type { CopyIn, Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { BulkChunk, Group } from './profiles.bulk.group.ts';
import { type BulkLearnt, type BulkMemory, type Known, learning } from './profiles.bulk.memory.ts';
import * as bulkRepo from './profiles.bulk.repo.ts';
import { type Identifier, isPersonLevel } from './profiles.identifiers.ts';
import * as repo from './profiles.repo.ts';
import { addObservation, CONCURRENT_MERGE, deltaFor } from './profiles.service.ts';
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
 * and on the profiles that gain a person-level identifier; then what was read without locks is checked again. After
 * a concurrent change (a merge, an erasure, an identifier attached meanwhile) every owner is read again under the
 * locks held and what the new reading leads to is locked too, up to MAX_ROUNDS; then CONCURRENT_MERGE: run the
 * transaction again. Every observation's identifiers count towards the locks: keep chunks within a few thousand
 * distinct identifiers (see BULK_LOCK_BUDGET).
 *
 * An import's chunks may share a BulkMemory: the owners found or attached by earlier, committed chunks, so that
 * known customers are not looked up again. A remembered owner is only a guess, like one read without locks: the
 * check under the locks finds it merged, erased or missing if it moved (identifiers change profile by nothing
 * else), and the memory is then forgotten and everything read again.
 */
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
  /** What the chunk taught its memory: the caller hands it to `memory.committed` once the transaction commits. */
  learnt: BulkLearnt;
}

/**
 * Distinct identifiers per bulk transaction: each takes at most one advisory lock, and PostgreSQL's lock table holds
 * max_locks_per_transaction × max_connections (6,400 by default) for everyone.
 */
export const BULK_LOCK_BUDGET = 4_000;

function push<K, V>(map: Map<K, V[]>, key: K, value: V) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The bulk transaction's last statement: the projection, each delta finding its profile by primary key whatever the
 * statistics say (a workspace filled by an import grows faster than them): applyDeltas' function plans it so.
 */
export async function applyBulkProjection(trx: Db, workspaceId: string, deltas: repo.ProjectionDelta[]) {
  if (deltas.length === 0) return;
  await repo.applyDeltas(trx, workspaceId, deltas);
}

/** Readings of owners that may go round before a chunk gives up (CONCURRENT_MERGE: the caller runs it again). */
const MAX_ROUNDS = 4;

/**
 * Which groups need judgement (deferred), given the owners of the chunk's identifiers; and what the others need
 * locked: profiles they only add events to, new identifiers, profiles gaining a person-level identifier.
 */
function classify(chunk: BulkChunk, ownerOf: readonly (string | undefined)[], knownOf: readonly (Known | undefined)[]) {
  const { ids, groups } = chunk;
  for (const group of groups) {
    group.deferred = false;
    group.owner = undefined;
    group.known = undefined;
  }
  const byOwner = new Map<string, Group[]>();
  const intrinsic: Group[] = [];
  for (const group of groups) {
    let owner: string | undefined;
    let owners = 0;
    let known: Known | undefined;
    for (const n of group.ids) {
      const o = ownerOf[n];
      if (o === undefined || o === owner) {
        if (o !== undefined && known === undefined && knownOf[n]?.id === o) known = knownOf[n];
        continue;
      }
      if (owner !== undefined && owners === 1) {
        // A second owner: every owner of the group is collected below, once.
        owners = 2;
        break;
      }
      owner = o;
      owners = 1;
      if (knownOf[n]?.id === o) known = knownOf[n];
    }
    if (owners > 1) {
      for (const o of new Set(group.ids.map((n) => ownerOf[n]))) if (o) push(byOwner, o, group);
    } else if (owner) {
      push(byOwner, owner, group);
      group.owner = owner;
      group.known = known;
    }
    if (group.conflict || owners > 1 || group.alone) intrinsic.push(group);
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
      if (group.linked) stack.push(...group.linked);
    }
  };
  for (const group of intrinsic) defer(group);
  const newIds: number[] = [];
  const gaining = new Set<string>();
  const receiving = new Set<string>();
  for (const group of groups) {
    if (group.deferred) continue;
    for (const n of group.ids) {
      if (ownerOf[n]) continue;
      newIds.push(n);
      if (group.owner && isPersonLevel((ids[n] as Identifier).kind)) gaining.add(group.owner);
    }
    if (group.owner) receiving.add(group.owner);
  }
  for (const owner of gaining) receiving.delete(owner);
  return { byOwner, defer, newIds, gaining, receiving, erased: false };
}

/**
 * A chunk's resolution as far as it can go without the database, made ahead of its transaction (while the one
 * before commits): owners as the memory remembers them and, when it remembers every identifier of the chunk — the
 * usual case once an import has met its customers — the whole outcome, should the check under the locks find
 * that nothing moved. Inside the transaction, resolveBulk then only locks and checks before writing.
 */
export interface BulkPlan {
  ownerOf: (string | undefined)[];
  /** Each identifier's owner as the memory remembers it. */
  knownOf: (Known | undefined)[];
  unknown: number[];
  /** The outcome if nothing moved (null: some identifier is not remembered, or a profile gains an identifier). */
  ready: { classified: ReturnType<typeof classify>; settled: Settled } | null;
}

export function planBulk(chunk: BulkChunk, memory?: BulkMemory): BulkPlan {
  const { ids, keys } = chunk;
  const ownerOf: (string | undefined)[] = new Array(ids.length);
  const knownOf: (Known | undefined)[] = new Array(ids.length);
  const unknown: number[] = [];
  for (let n = 0; n < ids.length; n++) {
    const known = memory?.owners.get(keys[n] as string);
    knownOf[n] = known;
    if (known) ownerOf[n] = known.id;
    else unknown.push(n);
  }
  let ready: BulkPlan['ready'] = null;
  if (unknown.length === 0) {
    const classified = classify(chunk, ownerOf, knownOf);
    if (classified.gaining.size === 0) ready = { classified, settled: settle(chunk, ownerOf, knownOf, memory) };
  }
  return { ownerOf, knownOf, unknown, ready };
}

/**
 * Resolves a grouped chunk inside the caller's copyTransaction; see the module comment above. `given` is planBulk's
 * plan for this chunk and memory, made ahead for this attempt only (the resolution may change its arrays), or none.
 */
export async function resolveBulk(
  subjectKey: SubjectKeyOf,
  trx: Db,
  copyIn: CopyIn,
  workspaceId: string,
  chunk: BulkChunk,
  memory?: BulkMemory,
  given?: BulkPlan,
): Promise<BulkResolution> {
  const { ids, keys, groups } = chunk;
  const start = given ?? planBulk(chunk, memory);
  // Owners, remembered or read without locks: they say what to lock. Staged are the identifiers looked up.
  let ownerOf = start.ownerOf;
  const knownOf = start.knownOf;
  const staged = new Set<number>();
  const lookUp = async (ns: number[]) => {
    const fresh = ns.filter((n) => !staged.has(n));
    for (const n of fresh) staged.add(n);
    if (fresh.length > 0) {
      await bulkRepo.stageIdentifiers(
        trx,
        copyIn,
        fresh.map((n) => ({ n, ...(ids[n] as Identifier) })),
      );
    }
    for (const r of await bulkRepo.stagedOwners(trx, workspaceId)) ownerOf[r.n] = r.profile_id;
  };
  if (start.unknown.length > 0) await lookUp(start.unknown);

  // Locks, in resolveObservations' order: shared profiles, new identifiers, profiles gaining a person-level kind.
  // Then what was read without them is checked; if something moved meanwhile (a concurrent merge, an identifier
  // attached), everything is read again under the locks held, and what the new reading leads to is locked too.
  const lockedShared = new Set<string>();
  const lockedIds = new Set<number>();
  const lockedExclusive = new Set<string>();
  let plan = start.ready?.classified ?? classify(chunk, ownerOf, knownOf);
  let moved = false;
  // Owners the memory found live at the count of moves it last read are not checked again while the count holds.
  const trust = () => {
    if (moved || !memory || memory.moves === null) return undefined;
    const untrusted = new Set<string>();
    for (let n = 0; n < ids.length; n++) {
      const owner = ownerOf[n];
      if (owner === undefined || memory.trusts(knownOf[n], owner)) continue;
      if (plan.receiving.has(owner) || plan.gaining.has(owner)) untrusted.add(owner);
    }
    return { moves: memory.moves, untrusted: [...untrusted] };
  };
  let moves: number;
  for (let round = 1; ; round++) {
    const shared = [...plan.receiving].filter((id) => !lockedShared.has(id) && !lockedExclusive.has(id));
    const newIds = plan.newIds.filter((n) => !lockedIds.has(n));
    const exclusive = [...plan.gaining].filter((id) => !lockedExclusive.has(id));
    const changed = await bulkRepo.lockAndCheck(
      trx,
      workspaceId,
      { shared, newKeys: newIds.map((n) => keys[n] as string), exclusive },
      {
        newIds: plan.newIds.map((n) => ids[n] as Identifier),
        owners: [...plan.receiving, ...plan.gaining],
        trust: trust(),
      },
    );
    moves = changed.moves;
    for (const id of shared) lockedShared.add(id);
    for (const n of newIds) lockedIds.add(n);
    for (const id of exclusive) lockedExclusive.add(id);
    if (changed.owned === 0 && changed.gone === 0) {
      plan.erased = changed.erased;
      break;
    }
    moved = true;
    memory?.forget();
    knownOf.fill(undefined);
    if (round === MAX_ROUNDS) {
      throw new DomainError('conflict', CONCURRENT_MERGE, 'People of this chunk kept changing; run it again.');
    }
    ownerOf = new Array(ids.length);
    await lookUp(ids.map((_, n) => n));
    plan = classify(chunk, ownerOf, knownOf);
  }
  // Nothing moved and nobody was ever erased: the outcome planned ahead of the transaction stands (it writes no new
  // profile and no identifier: every identifier had its owner).
  if (start.ready && !moved && !plan.erased) return resolution(start.ready.settled, moves);
  const { byOwner, defer, gaining } = plan;
  const candidates = () => groups.filter((g) => !g.deferred);

  // Under the locks: an erased person is refused by the one-by-one path, which names the reason.
  if (plan.erased) {
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
  const settled = settle(chunk, ownerOf, knownOf, memory);
  await repo.insertProfiles(trx, workspaceId, settled.created);
  if ((await bulkRepo.attachStaged(trx, workspaceId, settled.attach)) !== settled.attach.length) {
    memory?.forget();
    throw new DomainError('conflict', CONCURRENT_MERGE, 'An identifier of this chunk was attached meanwhile.');
  }
  return resolution(settled, moves);
}

/** The outcome of a classified chunk whose checks are done: profiles, new ones, identifiers to attach, deltas. */
interface Settled {
  profileIds: (string | null)[];
  created: repo.ProjectionDelta[];
  attach: { n: number; profileId: string }[];
  projection: repo.ProjectionDelta[];
  learnt: BulkLearnt;
}

/** `moves`: the count read under the locks, at which every profile the chunk settled on was live. */
function resolution(settled: Settled, moves: number): BulkResolution {
  settled.learnt.moves = moves;
  return {
    profileIds: settled.profileIds,
    projection: settled.projection,
    createdProfiles: settled.created.length,
    deferred: settled.profileIds.filter((p) => p === null).length,
    learnt: settled.learnt,
  };
}

/** Without the database: what the groups that are not deferred come to (see classify). */
function settle(
  chunk: BulkChunk,
  ownerOf: readonly (string | undefined)[],
  knownOf: readonly (Known | undefined)[],
  memory: BulkMemory | undefined,
): Settled {
  const { observations, keys, groups, groupOfRow } = chunk;
  const profileOfGroup = new Map<Group, string>();
  const created = new Set<string>();
  for (const group of groups) {
    if (group.deferred) continue;
    const profileId = group.owner ?? newId();
    if (!group.owner) created.add(profileId);
    profileOfGroup.set(group, profileId);
  }
  // One delta per profile: the group's own, or — for a profile several groups lead to — one rebuilt from their
  // observations in order, so that a tie between two of them goes to the later one, as one by one.
  const deltas = new Map<string, repo.ProjectionDelta>();
  const shared = new Set<string>();
  // The profiles as remembered, for the memory's judgement of their deltas.
  const known = new Map<string, Known>();
  for (const [group, profileId] of profileOfGroup) {
    if (group.known) known.set(profileId, group.known);
    if (deltas.has(profileId)) shared.add(profileId);
    else {
      // The group's own delta, addressed (each settling of the chunk addresses it afresh).
      group.delta.id = profileId;
      deltas.set(profileId, group.delta);
    }
  }
  for (const profileId of shared) deltas.delete(profileId);
  const profileIds = observations.map((o, i) => {
    const group = groupOfRow[i];
    const profileId = group && profileOfGroup.get(group);
    if (!profileId) return null;
    if (shared.has(profileId)) addObservation(deltaFor(deltas, profileId, o.at), o);
    return profileId;
  });
  const all = [...deltas.values()];
  const learnt = learning();
  const projection = all.filter((d) =>
    memory ? memory.judge(d, created.has(d.id), known.get(d.id), learnt) : !created.has(d.id),
  );
  const attach: { n: number; profileId: string }[] = [];
  for (const [group, profileId] of profileOfGroup) {
    for (const n of group.ids) if (!ownerOf[n]) attach.push({ n, profileId });
  }
  if (memory) {
    // Only what this chunk settled: deferred groups are resolved one by one next, and may move.
    for (const [group, profileId] of profileOfGroup) {
      for (const n of group.ids) if (knownOf[n]?.id !== profileId) learnt.owners.push([keys[n] as string, profileId]);
    }
    for (const group of groups) {
      if (group.deferred) for (const n of group.ids) learnt.owners.push([keys[n] as string, null]);
    }
  }
  return { profileIds, created: all.filter((d) => created.has(d.id)), attach, projection, learnt };
}
