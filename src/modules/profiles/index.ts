import type { Clock } from '../../platform/clock.ts';
import type { CopyIn, Db } from '../../platform/db.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { Actor } from '../../platform/principal.ts';
import { type BulkChunk, groupBulk } from './profiles.bulk.group.ts';
import type { BulkMemory } from './profiles.bulk.memory.ts';
import { applyBulkProjection, type BulkPlan, planBulk, resolveBulk } from './profiles.bulk.ts';
import type { Identifier } from './profiles.identifiers.ts';
import type { ProjectionDelta } from './profiles.repo.ts';
import * as repo from './profiles.repo.ts';
import { liveProfile, profilesRoutes } from './profiles.routes.ts';
import {
  applyProjection,
  CONCURRENT_MERGE,
  holdProfiles,
  type MergeListener,
  type Observation,
  type ProfilesDeps,
  resolveObservations,
  touchProfiles,
} from './profiles.service.ts';
import { type AuditRecorder, namesFor, type ReadAuditRecorder } from './profiles.staff.ts';
import {
  erasedHashesOf,
  erasedIdentifiers,
  profileContributors,
  type SubjectDeps,
  type SubjectKeyOf,
} from './profiles.subject.ts';

export type { BulkChunk, BulkObservation } from './profiles.bulk.group.ts';
export { Numbering } from './profiles.bulk.group.ts';
export { BulkMemory } from './profiles.bulk.memory.ts';
export type { BulkResolution } from './profiles.bulk.ts';
export { BULK_LOCK_BUDGET, type BulkPlan } from './profiles.bulk.ts';
export type { Identifier, IdentifierKind } from './profiles.identifiers.ts';
export { identifierKey, isPersonLevel, normalizeIdentifier, PERSON_KINDS } from './profiles.identifiers.ts';
export {
  maskDeep,
  maskEmail,
  maskIdentity,
  maskIp,
  maskPhone,
  maskRecord,
  READ_PII,
  seesPii,
} from './profiles.masking.ts';
export type { ProjectionDelta } from './profiles.repo.ts';
export type { BatchResolution, MergeListener, Observation } from './profiles.service.ts';
export { ERASED_SUBJECT, erasedSubjectRejection } from './profiles.subject.ts';
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
export function createProfilesModule(input: {
  db: Db;
  clock: Clock;
  audit: AuditRecorder;
  /** Staff reads of personal data (org's readAudit). */
  readAudit: ReadAuditRecorder;
  /** Where every module registers its part of a data subject's export and erasure; profiles adds theirs. */
  personalData: PersonalDataRegistry;
  /** The workspace's HMAC key for erased identifiers (org's subjectKey). */
  subjectKey: SubjectKeyOf;
}) {
  const deps: ProfilesDeps = { mergeListeners: [] };
  const subject: SubjectDeps = {
    ...deps,
    db: input.db,
    clock: input.clock,
    audit: input.audit,
    personalData: input.personalData,
    subjectKey: input.subjectKey,
  };
  for (const contributor of profileContributors(input.subjectKey)) input.personalData.register(contributor);
  return {
    routes: profilesRoutes({ ...subject, readAudit: input.readAudit }),
    /**
     * Resolves interactions to profiles inside the caller's transaction (see profiles.service.ts). With `readmit`,
     * the people came back themselves (a sign-up, a code entered): their identifiers stop counting as erased, in the
     * same statement that looks them up.
     */
    resolveObservations: (
      trx: Db,
      workspaceId: string,
      observations: Observation[],
      options: { readmit?: boolean } = {},
    ) =>
      resolveObservations(
        deps,
        trx,
        workspaceId,
        observations,
        options.readmit ? (ids) => erasedHashesOf(input.subjectKey, trx, workspaceId, ids) : undefined,
      ),
    /**
     * Resolves a chunk of an import (grouped by groupBulk) set-wise inside the caller's copyTransaction
     * (profiles.bulk.ts): a profile per observation, or null for those to send through resolveObservations
     * (ingestion) after this commits. Chunks of one import may share a `new BulkMemory()`: known customers are then
     * not looked up again. `plan`: planBulk's for this chunk and memory, made ahead of the transaction (first
     * attempt only). Once the transaction commits, hand the resolution's `learnt` to `memory.committed`.
     */
    resolveBulk: (
      trx: Db,
      copyIn: CopyIn,
      workspaceId: string,
      chunk: BulkChunk,
      memory?: BulkMemory,
      plan?: BulkPlan,
    ) => resolveBulk(input.subjectKey, trx, copyIn, workspaceId, chunk, memory, plan),
    /** A chunk's resolution as far as the memory alone takes it, ahead of its transaction (profiles.bulk.ts). */
    planBulk,
    /** A chunk of observations grouped for resolveBulk; no database, so it can be done ahead of the transaction. */
    groupBulk,
    /** Applies what resolveBulk returned as `projection`: the bulk transaction's last statement. */
    applyBulkProjection: (trx: Db, workspaceId: string, projection: ProjectionDelta[]) =>
      applyBulkProjection(trx, workspaceId, projection),
    /** Applies what resolveObservations returned as `projection`: the transaction's last write. */
    applyProjection: (trx: Db, workspaceId: string, projection: ProjectionDelta[]) =>
      applyProjection(trx, workspaceId, projection),
    /**
     * For modules that know their people by profile id (loyalty's till events): each id's live profile (erased and
     * unknown ones left out), held against merges until the caller's transaction ends (profiles.service.ts).
     */
    holdProfiles: (trx: Db, workspaceId: string, ids: string[]) => holdProfiles(trx, workspaceId, ids),
    /** First/last seen and channels of events appended for held profiles: the last write to profiles before commit. */
    touchProfiles: (trx: Db, workspaceId: string, sightings: { profileId: string; at: Date; channel: string }[]) =>
      touchProfiles(trx, workspaceId, sightings),
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
    /**
     * For ingestion and imports: the identifiers of each message that belong to an erased person (empty arrays
     * when none). Refuse a message with any, with `erasedSubjectRejection(matched)` (code ERASED_SUBJECT).
     */
    erasedIdentifiers: (db: Db, workspaceId: string, messages: readonly (readonly Identifier[])[]) =>
      erasedIdentifiers(input.subjectKey, db, workspaceId, messages),
    /**
     * Names of profiles another module lists to staff (loyalty's referrals): each id's live profile's name (null
     * when it has none or is erased). The read is audited as the customer list's is: `profile.listed` with the
     * profile ids and what listed them.
     */
    namesFor: (actor: Actor, workspaceId: string, ids: string[], listedBy: string) =>
      namesFor({ db: input.db, readAudit: input.readAudit }, actor, workspaceId, ids, listedBy),
    /** The live profile id an id stands for (itself or its survivor), or undefined. */
    resolveProfileId: async (workspaceId: string, id: string) => (await liveProfile(input.db, workspaceId, id))?.id,
  };
}
export type ProfilesModule = ReturnType<typeof createProfilesModule>;
