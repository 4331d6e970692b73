import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
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
}

interface Projection {
  traits: Record<string, unknown>;
  traitTimes: Record<string, string>;
  channels: Set<string>;
  firstSeenAt: Date;
  lastSeenAt: Date;
  isNew: boolean;
  touched: boolean;
}

function applyTraits(p: Projection, traits: Record<string, unknown> | null, at: Date) {
  if (!traits) return;
  const iso = at.toISOString();
  for (const [key, value] of Object.entries(traits)) {
    const seen = p.traitTimes[key];
    if (seen === undefined || seen <= iso) {
      p.traits[key] = value;
      p.traitTimes[key] = iso;
    }
  }
}

function absorbProjection(into: Projection, from: Projection) {
  for (const [key, iso] of Object.entries(from.traitTimes)) {
    const mine = into.traitTimes[key];
    if (mine === undefined || mine < iso) {
      into.traits[key] = from.traits[key];
      into.traitTimes[key] = iso;
    }
  }
  for (const c of from.channels) into.channels.add(c);
  if (from.firstSeenAt < into.firstSeenAt) into.firstSeenAt = from.firstSeenAt;
  if (from.lastSeenAt > into.lastSeenAt) into.lastSeenAt = from.lastSeenAt;
  into.touched = true;
}

/**
 * Resolves a batch of observations to profiles and records the result: new profiles, new identifiers, merges and
 * the trait projection. Must run inside the caller's transaction (the caller stores the events in the same one).
 * Two reads before resolving (owners of the batch's identifiers; those profiles with their person-level
 * identifiers), a handful of bulk writes after.
 */
export async function resolveObservations(
  deps: ProfilesDeps,
  trx: Db,
  workspaceId: string,
  observations: Observation[],
): Promise<BatchResolution> {
  const keys = new Map<string, Identifier>();
  for (const o of observations) for (const id of o.ids) keys.set(identifierKey(id), id);
  const all = [...keys.values()];
  await repo.lockKeys(trx, workspaceId, [...keys.keys()]);

  // Owners may move under us until their profiles are locked too (a concurrent merge of a profile we matched), so
  // read, lock what we found, and read again until nothing new appears.
  const lockedProfiles = new Set<string>();
  let owners = await repo.findOwners(
    trx,
    workspaceId,
    all.map((i) => i.kind),
    all.map((i) => i.value),
  );
  for (let round = 0; round < 5; round++) {
    const fresh = [...new Set(owners.map((o) => o.profile_id))].filter((id) => !lockedProfiles.has(id));
    if (fresh.length === 0) break;
    await repo.lockKeys(
      trx,
      workspaceId,
      fresh.map((id) => `profile:${id}`),
    );
    for (const id of fresh) lockedProfiles.add(id);
    owners = await repo.findOwners(
      trx,
      workspaceId,
      all.map((i) => i.kind),
      all.map((i) => i.value),
    );
  }

  const { profiles, identities } = await repo.loadProfiles(trx, workspaceId, [...lockedProfiles]);
  const view = emptyView();
  for (const o of owners) {
    const key = `${o.kind}\u0001${o.value}`;
    view.owner.set(key, o.profile_id);
    const set = view.keys.get(o.profile_id) ?? new Set<string>();
    set.add(key);
    view.keys.set(o.profile_id, set);
  }
  for (const i of identities) {
    const kinds = view.kinds.get(i.profile_id) ?? new Map<string, string>();
    kinds.set(i.kind, i.value);
    view.kinds.set(i.profile_id, kinds);
  }
  const projections = new Map<string, Projection>();
  for (const p of profiles) {
    projections.set(p.id, {
      traits: { ...p.traits },
      traitTimes: { ...p.trait_times },
      channels: new Set(p.channels),
      firstSeenAt: p.first_seen_at,
      lastSeenAt: p.last_seen_at,
      isNew: false,
      touched: false,
    });
  }

  const assigned: string[] = [];
  const rejected: Identifier[][] = [];
  const attached: { id: Identifier; profileId: string }[] = [];
  const merges: { survivorId: string; absorbedId: string }[] = [];
  for (const o of observations) {
    const r = resolve(view, o.ids, newId);
    let projection = projections.get(r.profileId);
    if (!projection) {
      projection = {
        traits: {},
        traitTimes: {},
        channels: new Set(),
        firstSeenAt: o.at,
        lastSeenAt: o.at,
        isNew: true,
        touched: true,
      };
      projections.set(r.profileId, projection);
    }
    for (const absorbedId of r.absorbed) {
      const from = projections.get(absorbedId);
      if (from) absorbProjection(projection, from);
      merges.push({ survivorId: r.profileId, absorbedId });
    }
    applyTraits(projection, o.traits, o.at);
    projection.channels.add(o.channel);
    if (o.at < projection.firstSeenAt) projection.firstSeenAt = o.at;
    if (o.at > projection.lastSeenAt) projection.lastSeenAt = o.at;
    projection.touched = true;
    for (const id of r.attached) attached.push({ id, profileId: r.profileId });
    assigned.push(r.profileId);
    rejected.push(r.rejected);
  }

  // Write the end state: only profiles that survive, identities pointing at survivors.
  const survivorOf = (id: string) => canonical(view, id);
  const inserts: repo.ProfileWrite[] = [];
  const updates: repo.ProfileWrite[] = [];
  for (const [id, p] of projections) {
    if (!p.touched || survivorOf(id) !== id) continue;
    const row = {
      id,
      traits: p.traits,
      traitTimes: p.traitTimes,
      channels: [...p.channels].sort(),
      firstSeenAt: p.firstSeenAt,
      lastSeenAt: p.lastSeenAt,
    };
    (p.isNew ? inserts : updates).push(row);
  }
  await repo.insertProfiles(trx, workspaceId, inserts);
  // Merges of profiles that existed before this batch; a profile born and absorbed within it never reaches the table.
  const persistedMerges = merges
    .filter((m) => !projections.get(m.absorbedId)?.isNew)
    .map((m) => ({ absorbedId: m.absorbedId, survivorId: survivorOf(m.absorbedId), mergeId: newId() }));
  await repo.applyMerges(trx, workspaceId, persistedMerges, 'identity', null);
  await repo.insertIdentities(
    trx,
    workspaceId,
    attached.map((a) => ({ kind: a.id.kind, value: a.id.value, profileId: survivorOf(a.profileId) })),
  );
  await repo.updateProfiles(trx, workspaceId, updates);
  const finalMerges = persistedMerges.map((m) => ({ survivorId: m.survivorId, absorbedId: m.absorbedId }));
  if (finalMerges.length > 0) for (const listener of deps.mergeListeners) await listener(trx, workspaceId, finalMerges);

  return {
    profileIds: assigned.map(survivorOf),
    rejected,
    createdProfiles: inserts.length,
    merges: finalMerges,
  };
}
