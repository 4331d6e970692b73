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
  /** What the chunk taught its memory: the caller hands it to `memory.committed` once the transaction commits. */
  learnt: BulkLearnt;
}

/** What one chunk learns for a BulkMemory, pending until its transaction commits. */
export interface BulkLearnt {
  owners: [string, string | null][];
  /** Its deltas — one for each profile the chunk settled on — each with the profile as remembered when judged. */
  spans: [repo.ProjectionDelta, Known | undefined][];
  /** The count of moves read under the chunk's locks, at which every one of those profiles was live. */
  moves: number | null;
}

function learning(): BulkLearnt {
  return { owners: [], spans: [], moves: null };
}

/**
 * A profile as an import's memory knows it: a span it is known to cover (see BulkMemory), and the count of moves
 * (rapport_profile_moves) read by the last transaction that found it live under its lock.
 */
export interface Known {
  readonly id: string;
  span: Span | undefined;
  checked: number | null;
}

/**
 * What the committed chunks of one import left behind: owners of identifiers (kind \u0001 value → profile), and
 * for profiles, a span they are known to cover — first seen no later, last seen no earlier, at least these
 * channels. Those three only ever widen (least, greatest, union, whoever writes), so a delta without traits inside
 * the span would change nothing and is not sent. And the count of moves at which each profile was last found live:
 * while the count has not changed, a profile found live at it is live still, and is not checked again. What a chunk
 * learns is pending until its caller says the transaction committed (`committed`); a failed one forgets everything.
 */
export class BulkMemory {
  /** Identifier key → its owner, a profile of `profiles` (or one dropped from it since: still true, merely narrower). */
  readonly owners = new Map<string, Known>();
  readonly profiles = new Map<string, Known>();
  /** The count of moves read by the last committed chunk. */
  moves: number | null = null;
  readonly limit: number;
  constructor(limit = 200_000) {
    this.limit = limit;
  }
  /** The profile as remembered, a new entry (nothing known of it yet) when it is not. */
  #profile(id: string): Known {
    let known = this.profiles.get(id);
    if (!known) {
      known = { id, span: undefined, checked: null };
      bounded(this.profiles, id, known, this.limit);
    }
    return known;
  }
  /** Remembers an owner, as a chunk that committed would (and tests do). */
  remember(key: string, profileId: string) {
    this.owners.delete(key);
    bounded(this.owners, key, this.#profile(profileId), this.limit);
  }
  /** Whether `owner` was found live at the count of moves last read: if the count has not changed, it still is. */
  trusts(known: Known | undefined, owner: string): boolean {
    return known !== undefined && known.id === owner && known.checked !== null && known.checked === this.moves;
  }
  /**
   * Whether applying the delta could change the profile, as far as committed chunks tell; and, either way, the delta
   * is written (or would change nothing) in this chunk: it widens the span once the chunk commits. `known`: the
   * profile as the chunk's plan found it remembered, if it did.
   */
  judge(d: repo.ProjectionDelta, created: boolean, known: Known | undefined, learnt: BulkLearnt): boolean {
    const profile = known?.id === d.id ? known : created ? undefined : this.profiles.get(d.id);
    learnt.spans.push([d, profile]);
    if (created) return false;
    const span = profile?.span;
    if (!span) return true;
    for (const _ in d.traits) return true;
    return (
      d.firstSeenAt.getTime() < span.first ||
      d.lastSeenAt.getTime() > span.last + 60_000 ||
      d.channels.some((c) => !span.channels.includes(c))
    );
  }
  /**
   * A chunk's transaction committed: what it learnt holds. Spans only widen, so a span judged against earlier and
   * replaced or dropped since is still a true statement about its profile, merely a narrower one.
   */
  committed(learnt: BulkLearnt) {
    for (const [d, remembered] of learnt.spans) {
      const known = remembered ?? this.#profile(d.id);
      known.checked = learnt.moves;
      const span = known.span;
      if (!span) {
        known.span = { first: d.firstSeenAt.getTime(), last: d.lastSeenAt.getTime(), channels: [...d.channels] };
        continue;
      }
      span.first = Math.min(span.first, d.firstSeenAt.getTime());
      span.last = Math.max(span.last, d.lastSeenAt.getTime());
      for (const c of d.channels) if (!span.channels.includes(c)) span.channels.push(c);
    }
    for (const [key, profileId] of learnt.owners) {
      if (profileId === null) this.owners.delete(key);
      else this.remember(key, profileId);
    }
    this.moves = learnt.moves;
  }
  /** A chunk's transaction failed, or found the memory stale: nothing remembered can be trusted. */
  forget() {
    this.owners.clear();
    this.profiles.clear();
    this.moves = null;
  }
}

interface Span {
  first: number;
  last: number;
  channels: string[];
}

/** Oldest first out: a file of millions of people keeps a bounded memory. */
function bounded<V>(map: Map<string, V>, key: string, value: V, limit: number) {
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value as string);
}

/**
 * Distinct identifiers per bulk transaction: each takes at most one advisory lock, and PostgreSQL's lock table holds
 * max_locks_per_transaction × max_connections (6,400 by default) for everyone.
 */
export const BULK_LOCK_BUDGET = 4_000;

interface Group {
  ids: number[];
  rows: number[];
  /** Two values of a person-level kind among the group's own identifiers. */
  conflict: boolean;
  /** An observation of the group must be resolved one by one. */
  alone: boolean;
  /** The group's observations as one projection delta (its id set when the profile is known). */
  delta: repo.ProjectionDelta;
  /** Other groups with an observation of the same route key: they take the path this one takes. */
  linked: Group[] | undefined;
  // Set by resolveBulk, afresh on every attempt.
  deferred: boolean;
  owner: string | undefined;
  /** The owner as the plan found it remembered, if it did. */
  known: Known | undefined;
}

/**
 * A chunk grouped for resolveBulk: its distinct identifiers, and its observations grouped by shared identifiers,
 * each group with its projection. Made without the database (groupBulk), so a chunk can be grouped while the one
 * before it commits.
 */
export interface BulkChunk {
  observations: readonly BulkObservation[];
  ids: Identifier[];
  keys: string[];
  groups: Group[];
  groupOfRow: (Group | undefined)[];
  /** Whether two observations share a route key (when none does, their message ids are distinct). */
  routesRepeat: boolean;
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

/**
 * The bulk transaction's last statement: the projection, each delta finding its profile by primary key whatever the
 * statistics say (a workspace filled by an import grows faster than them): applyDeltas' function plans it so.
 */
export async function applyBulkProjection(trx: Db, workspaceId: string, deltas: repo.ProjectionDelta[]) {
  if (deltas.length === 0) return;
  await repo.applyDeltas(trx, workspaceId, deltas);
}

/**
 * A chunk's distinct identifiers, numbered in the order first seen. A caller that cuts chunks by their number of
 * identifiers (events.bulk.ts) numbers them as it goes and hands the numbering to groupBulk: each key is made and
 * hashed once.
 */
export class Numbering {
  readonly #index = new Map<string, number>();
  readonly ids: Identifier[] = [];
  readonly keys: string[] = [];
  get size(): number {
    return this.ids.length;
  }
  /** How many of these keys are not numbered yet. */
  unseen(keys: readonly string[]): number {
    let unseen = 0;
    for (const key of keys) if (!this.#index.has(key)) unseen++;
    return unseen;
  }
  /** The numbers of an observation's identifiers (`keys`: their identifierKey), each once; new ones numbered. */
  number(ids: readonly Identifier[], keys: readonly string[]): number[] {
    const mine: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      const key = keys[j] as string;
      let n = this.#index.get(key);
      if (n === undefined) {
        n = this.ids.length;
        this.#index.set(key, n);
        this.ids.push(ids[j] as Identifier);
        this.keys.push(key);
      }
      if (!mine.includes(n)) mine.push(n);
    }
    return mine;
  }
}

/**
 * Groups a chunk's observations by shared identifiers (union-find), for resolveBulk. `numbered`: the chunk's
 * identifiers numbered by the caller, and each observation's numbers (Numbering.number), in order.
 */
export function groupBulk(
  observations: readonly BulkObservation[],
  numbered?: { numbering: Numbering; of: number[][] },
): BulkChunk {
  let numbering = numbered?.numbering;
  let rowIds = numbered?.of;
  if (!numbering || !rowIds) {
    numbering = new Numbering();
    rowIds = observations.map((o) => (numbering as Numbering).number(o.ids, o.ids.map(identifierKey)));
  }
  const { ids, keys } = numbering;
  const parent: number[] = Array.from({ length: ids.length }, (_, n) => n);
  for (const mine of rowIds) {
    for (let k = 1; k < mine.length; k++) {
      const a = find(parent, mine[0] as number);
      const b = find(parent, mine[k] as number);
      if (a !== b) parent[b] = a;
    }
  }
  const groupOfRoot = new Map<number, Group>();
  const groupOfId: Group[] = [];
  for (let n = 0; n < ids.length; n++) {
    const root = find(parent, n);
    let group = groupOfRoot.get(root);
    if (!group) {
      group = {
        ids: [],
        rows: [],
        conflict: false,
        alone: false,
        delta: undefined as unknown as repo.ProjectionDelta,
        linked: undefined,
        deferred: false,
        owner: undefined,
        known: undefined,
      };
      groupOfRoot.set(root, group);
    }
    group.ids.push(n);
    groupOfId[n] = group;
  }
  const groupOfRow: (Group | undefined)[] = rowIds.map((mine) =>
    mine.length ? groupOfId[mine[0] as number] : undefined,
  );
  const byRoute = new Map<string, Group>();
  let routesRepeat = false;
  for (const [i, group] of groupOfRow.entries()) {
    if (!group) continue;
    const o = observations[i] as BulkObservation;
    group.rows.push(i);
    if (o.routeKey !== undefined) {
      const other = byRoute.get(o.routeKey);
      if (other === undefined) byRoute.set(o.routeKey, group);
      else routesRepeat = true;
      if (other !== undefined && other !== group) {
        other.linked = [...(other.linked ?? []), group];
        group.linked = [...(group.linked ?? []), other];
      }
    }
    if (o.alone) group.alone = true;
    group.delta ??= { id: '', traits: {}, traitTimes: {}, channels: [], firstSeenAt: o.at, lastSeenAt: o.at };
    addObservation(group.delta, o);
  }
  const groups = [...groupOfRoot.values()];
  for (const group of groups) {
    if (group.ids.length < 2) continue; // one identifier: one value of its kind
    const kinds = new Map<string, string>();
    for (const n of group.ids) {
      const id = ids[n] as Identifier;
      if (!isPersonLevel(id.kind)) continue;
      const held = kinds.get(id.kind);
      if (held !== undefined && held !== id.value) group.conflict = true;
      kinds.set(id.kind, id.value);
    }
  }
  return { observations, ids, keys, groups, groupOfRow, routesRepeat };
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
