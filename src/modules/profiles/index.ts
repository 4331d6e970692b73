import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import type { ProjectionDelta } from './profiles.repo.ts';
import * as repo from './profiles.repo.ts';
import { liveProfile, profilesRoutes } from './profiles.routes.ts';
import {
  applyProjection,
  CONCURRENT_MERGE,
  type MergeListener,
  type Observation,
  type ProfilesDeps,
  resolveObservations,
} from './profiles.service.ts';
import type { AuditRecorder } from './profiles.staff.ts';

export type { Identifier, IdentifierKind } from './profiles.identifiers.ts';
export { isPersonLevel, normalizeIdentifier, PERSON_KINDS } from './profiles.identifiers.ts';
export type { ProjectionDelta } from './profiles.repo.ts';
export type { BatchResolution, MergeListener, Observation } from './profiles.service.ts';
export { CONCURRENT_MERGE };

/**
 * profiles: one record per person, the identity graph that ties identifiers to it, merges, traits.
 *
 * ```ts
 * const profiles = createProfilesModule({ db, clock, audit: org.recordAudit });
 * profiles.onMerge(async (trx, ws, merges) => { … re-point what you own … });
 * const { profileIds } = await profiles.resolveObservations(trx, workspaceId, observations);
 * ```
 */
export function createProfilesModule(input: { db: Db; clock: Clock; audit: AuditRecorder }) {
  const deps: ProfilesDeps = { mergeListeners: [] };
  return {
    routes: profilesRoutes({
      ...deps,
      db: input.db,
      clock: input.clock,
      audit: input.audit,
      mergeListeners: deps.mergeListeners,
    }),
    /** Resolves interactions to profiles inside the caller's transaction (see profiles.service.ts). */
    resolveObservations: (trx: Db, workspaceId: string, observations: Observation[]) =>
      resolveObservations(deps, trx, workspaceId, observations),
    /** Applies what resolveObservations returned as `projection`: the transaction's last write. */
    applyProjection: (trx: Db, workspaceId: string, projection: ProjectionDelta[]) =>
      applyProjection(trx, workspaceId, projection),
    /** Registers a reaction that runs inside every merge's transaction. */
    onMerge: (listener: MergeListener) => {
      deps.mergeListeners.push(listener);
    },
    /** Who is who, for modules that reach people by address (consent, messaging). */
    directory: {
      identifiersOf: async (db: Db, workspaceId: string, profileId: string) =>
        (await repo.identifiersOfProfiles(db, workspaceId, [profileId], { except: ['anonymous_id'] })).map((i) => ({
          kind: i.kind,
          value: i.value,
        })),
      ownerOf: async (db: Db, workspaceId: string, kind: string, value: string) => {
        const owner = await repo.ownerOf(db, workspaceId, kind, value);
        return owner ? (await liveProfile(db, workspaceId, owner))?.id : undefined;
      },
      liveProfileId: async (db: Db, workspaceId: string, profileId: string) =>
        (await liveProfile(db, workspaceId, profileId))?.id,
    },
    /** The live profile id an id stands for (itself or its survivor), or undefined. */
    resolveProfileId: async (workspaceId: string, id: string) => (await liveProfile(input.db, workspaceId, id))?.id,
  };
}
export type ProfilesModule = ReturnType<typeof createProfilesModule>;
