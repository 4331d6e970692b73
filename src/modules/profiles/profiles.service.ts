import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import * as bulkRepo from './profiles.bulk.repo.ts';
import { type Identifier, identifierKey } from './profiles.identifiers.ts';
import * as repo from './profiles.repo.ts';
import { canonical, emptyView, resolve } from './profiles.resolution.ts';

/**
 * Called inside the transaction of every merge, so that the modules above can re-point what they hang on a
 * profile (timeline, later consents, ledgers, memberships) atomically with the merge. Registered by the
 * composition root, which is how a lower module reaches higher ones without importing them.
 */
export type MergeListener = (
  trx: Db,
  workspaceId: string,
  merges: { survivorId: string; absorbedId: string }[],
) => Promise<void>;

export interface ProfilesDeps {
  mergeListeners: MergeListener[];
}

export interface Observation {
  /** The identifiers this interaction carried; at least one. */
  ids: Identifier[];
  /** Traits stated in it (identify traits, context.traits), applied newest-wins per key. */
  traits: Record<string, unknown> | null;
  at: Date;
  channel: string;
}

export interface BatchResolution {
  /** The profile each observation now belongs to, in input order. */
  profileIds: string[];
  /** Identifiers refused per observation because the profile already holds another value of their kind. */
  rejected: Identifier[][];
  createdProfiles: number;
  merges: { survivorId: string; absorbedId: string }[];
  /** What the batch adds to existing profiles: pass to applyProjection as the transaction's last write. */
  projection: repo.ProjectionDelta[];
}

/** A concurrent merge moved a profile this batch wrote to: run the whole transaction again. */
export const CONCURRENT_MERGE = 'CONCURRENT_MERGE';

/** The projection delta of a profile in a batch, started at the batch's first observation of it. */
export function deltaFor(map: Map<string, repo.ProjectionDelta>, id: string, at: Date): repo.ProjectionDelta {
  let d = map.get(id);
  if (!d) {
    d = { id, traits: {}, traitTimes: {}, channels: [], firstSeenAt: at, lastSeenAt: at };
    map.set(id, d);
  }
  return d;
}

/** Adds one observation to a delta: newest value per trait (a later observation wins a tie), channels, span. */
export function addObservation(d: repo.ProjectionDelta, o: Observation) {
  if (o.traits) {
    const iso = o.at.toISOString();
    for (const [key, value] of Object.entries(o.traits)) {
      const seen = d.traitTimes[key];
      if (seen === undefined || seen <= iso) {
        d.traits[key] = value;
        d.traitTimes[key] = iso;
      }
    }
  }
  if (!d.channels.includes(o.channel)) d.channels.push(o.channel);
  // By their numbers: comparing two Dates converts each through Symbol.toPrimitive, ≈ 0.1 µs an observation.
  const at = o.at.getTime();
  if (at < d.firstSeenAt.getTime()) d.firstSeenAt = o.at;
  if (at > d.lastSeenAt.getTime()) d.lastSeenAt = o.at;
}

/** Trait names that carry an identifier of a kind: a refused identifier must not appear in the traits either. */
const TRAITS_OF_KIND: Record<string, string[]> = {
  email: ['email'],
  phone: ['phone'],
  card: ['card', 'cardNumber', 'card_number'],
};

function withoutRefused(o: Observation, refused: Identifier[]): Observation {
  if (refused.length === 0 || !o.traits) return o;
  const traits = { ...o.traits };
  for (const id of refused) for (const key of TRAITS_OF_KIND[id.kind] ?? []) delete traits[key];
  return { ...o, traits };
}

/**
 * Resolves a batch of observations to profiles inside the caller's transaction.
 *
 * Fast path — an observation whose identifiers already belong to one and the same profile (a known customer)
 * changes nothing in the identity graph, so it locks nothing. The others go through resolveWithLocks. Either way, the profiles' projection (traits, channels, first/last seen) is returned as a delta that
 * the caller applies last, so row locks on hot profiles are held only for the final statement and the commit.
 */
export async function resolveObservations(
  deps: ProfilesDeps,
  trx: Db,
  workspaceId: string,
  observations: Observation[],
  readmit?: (ids: Identifier[]) => Promise<{ kinds: string[]; hashes: string[] }>,
): Promise<BatchResolution> {
  const keys = new Map<string, Identifier>();
  for (const o of observations) for (const id of o.ids) keys.set(identifierKey(id), id);
  const all = [...keys.values()];
  const kinds = all.map((i) => i.kind);
  const values = all.map((i) => i.value);
  const rows = readmit
    ? await repo.readmitAndFindOwners(trx, workspaceId, kinds, values, await readmit(all))
    : await repo.findOwners(trx, workspaceId, kinds, values);
  const owners = new Map(rows.map((r) => [`${r.kind}\u0001${r.value}`, r.profile_id]));
  const known = observations.map((o) => {
    const first = owners.get(identifierKey(o.ids[0] as Identifier));
    return first && o.ids.every((id) => owners.get(identifierKey(id)) === first) ? first : undefined;
  });
  const slow = observations.map((_, i) => i).filter((i) => known[i] === undefined);
  const knownProfiles = [...new Set(known.filter((p): p is string => p !== undefined))];
  await repo.lockKeysShared(
    trx,
    workspaceId,
    knownProfiles.map((id) => `profile:${id}`),
  );
  if (await repo.anyMerged(trx, workspaceId, knownProfiles)) {
    throw new DomainError(
      'conflict',
      CONCURRENT_MERGE,
      'A profile of this batch was merged meanwhile; retry the batch.',
    );
  }
  if (slow.length === 0) {
    const deltas = new Map<string, repo.ProjectionDelta>();
    for (const [i, o] of observations.entries()) addObservation(deltaFor(deltas, known[i] as string, o.at), o);
    return {
      profileIds: known as string[],
      rejected: observations.map(() => []),
      createdProfiles: 0,
      merges: [],
      projection: [...deltas.values()],
    };
  }
  return resolveWithLocks(deps, trx, workspaceId, observations, known, slow);
}

/**
 * The observations that change the identity graph (new identifiers, or identifiers of different profiles) take
 * advisory locks on their identifiers and on the profiles those lead to, re-read under the locks and are resolved
 * in memory in arrival order; observations of known customers keep their profile, mapped through any merge.
 */
async function resolveWithLocks(
  deps: ProfilesDeps,
  trx: Db,
  workspaceId: string,
  observations: Observation[],
  known: (string | undefined)[],
  slow: number[],
): Promise<BatchResolution> {
  const slowIds = new Map<string, Identifier>();
  for (const i of slow) for (const id of (observations[i] as Observation).ids) slowIds.set(identifierKey(id), id);
  const ids = [...slowIds.values()];
  const readOwners = async () => {
    const rows = await repo.findOwners(
      trx,
      workspaceId,
      ids.map((i) => i.kind),
      ids.map((i) => i.value),
    );
    return new Map(rows.map((r) => [`${r.kind}\u0001${r.value}`, r.profile_id]));
  };
  // Owners may still move until their profiles are locked too (a concurrent merge of a profile we matched), so
  // lock what we found and read again until nothing new appears.
  const locked = new Set<string>();
  const first = await repo.lockAndFindOwners(
    trx,
    workspaceId,
    [...slowIds.keys()],
    ids.map((i) => i.kind),
    ids.map((i) => i.value),
  );
  let owners = new Map(first.map((r) => [`${r.kind}\u0001${r.value}`, r.profile_id]));
  for (let round = 0; round < 5; round++) {
    const fresh = [...new Set(owners.values())].filter((id) => !locked.has(id));
    if (fresh.length === 0) break;
    await repo.lockKeys(
      trx,
      workspaceId,
      fresh.map((id) => `profile:${id}`),
    );
    for (const id of fresh) locked.add(id);
    owners = await readOwners();
  }

  const view = emptyView();
  for (const [key, profileId] of owners) {
    view.owner.set(key, profileId);
    const set = view.keys.get(profileId) ?? new Set<string>();
    set.add(key);
    view.keys.set(profileId, set);
  }
  for (const i of await repo.personIdentifiersOf(trx, workspaceId, [...locked])) {
    const kinds = view.kinds.get(i.profile_id) ?? new Map<string, string>();
    kinds.set(i.kind, i.value);
    view.kinds.set(i.profile_id, kinds);
  }

  const created = new Set<string>();
  const assigned = [...known];
  const rejected: Identifier[][] = observations.map(() => []);
  const attached: { id: Identifier; profileId: string }[] = [];
  const merges: { survivorId: string; absorbedId: string }[] = [];
  for (const i of slow) {
    const r = resolve(view, (observations[i] as Observation).ids, newId);
    if (r.created) created.add(r.profileId);
    for (const absorbedId of r.absorbed) merges.push({ survivorId: r.profileId, absorbedId });
    for (const id of r.attached) attached.push({ id, profileId: r.profileId });
    assigned[i] = r.profileId;
    rejected[i] = r.rejected;
  }

  const survivorOf = (id: string) => canonical(view, id);
  const deltas = new Map<string, repo.ProjectionDelta>();
  for (const [i, o] of observations.entries())
    addObservation(deltaFor(deltas, survivorOf(assigned[i] as string), o.at), withoutRefused(o, rejected[i] ?? []));

  // New profiles that survive are inserted whole; one born and absorbed within the batch never reaches the table.
  // New identifiers point at survivors already, so they go in with the new profiles, before the merges.
  const inserts = [...deltas.values()].filter((d) => created.has(d.id));
  await repo.insertProfilesAndIdentities(
    trx,
    workspaceId,
    inserts,
    attached.map((a) => ({ kind: a.id.kind, value: a.id.value, profileId: survivorOf(a.profileId) })),
  );
  const persisted = merges
    .filter((m) => !created.has(m.absorbedId))
    .map((m) => ({ absorbedId: m.absorbedId, survivorId: survivorOf(m.absorbedId), mergeId: newId() }));
  for (const m of persisted) await repo.foldInto(trx, workspaceId, m.survivorId, m.absorbedId);
  await repo.applyMerges(trx, workspaceId, persisted, 'identity', null);
  const finalMerges = persisted.map((m) => ({ survivorId: m.survivorId, absorbedId: m.absorbedId }));
  if (finalMerges.length > 0) for (const listener of deps.mergeListeners) await listener(trx, workspaceId, finalMerges);

  return {
    profileIds: assigned.map((p) => survivorOf(p as string)),
    rejected,
    createdProfiles: inserts.length,
    merges: finalMerges,
    projection: [...deltas.values()].filter((d) => !created.has(d.id)),
  };
}

/**
 * For a module that knows its people by profile id (loyalty's till events): the live profile each id stands for
 * now (itself, or its survivor), held against merges until the caller's transaction ends, as the fast path of
 * resolveObservations holds known customers. Ids of erased or unknown profiles are left out.
 */
export async function holdProfiles(trx: Db, workspaceId: string, ids: string[]): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  // Candidate live profile → the ids asked for that lead to it. Locked first, then read: a merge takes the
  // profiles' lock exclusively, so one found live under the shared lock stays live until this transaction ends.
  let wanted = new Map([...new Set(ids)].map((id) => [id, [id]]));
  for (let round = 1; wanted.size > 0; round++) {
    if (round > 5) throw new DomainError('conflict', CONCURRENT_MERGE, 'Profiles kept being merged meanwhile; retry.');
    await bulkRepo.lockProfilesShared(trx, workspaceId, [...wanted.keys()]);
    const states = await repo.profileStates(trx, workspaceId, [...wanted.keys()]);
    const next = new Map<string, string[]>();
    for (const [id, origins] of wanted) {
      const state = states.get(id);
      if (!state || state.erased) continue;
      if (state.mergedInto === null) for (const origin of origins) live.set(origin, id);
      else next.set(state.mergedInto, [...(next.get(state.mergedInto) ?? []), ...origins]);
    }
    // Absorbed ones (rare): their survivors are locked and read in the next round.
    wanted = next;
  }
  return live;
}

/**
 * The projection of events whose people were resolved elsewhere (holdProfiles): first and last seen and channels,
 * no traits. The caller's last write to profiles before commit.
 */
export async function touchProfiles(
  trx: Db,
  workspaceId: string,
  sightings: { profileId: string; at: Date; channel: string }[],
) {
  const deltas = new Map<string, repo.ProjectionDelta>();
  for (const s of sightings)
    addObservation(deltaFor(deltas, s.profileId, s.at), { ids: [], traits: null, at: s.at, channel: s.channel });
  await repo.applyDeltas(trx, workspaceId, [...deltas.values()]);
}

/** Applies a batch's projection; the caller's last write before commit. */
export async function applyProjection(trx: Db, workspaceId: string, projection: repo.ProjectionDelta[]) {
  await repo.applyDeltas(trx, workspaceId, projection);
}
