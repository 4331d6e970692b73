import type { Readable, Writable } from 'node:stream';
import type { Clock } from '../../platform/clock.ts';
import type { Database, Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import type { ConsentModule } from '../consent/index.ts';
import type { OrgModule } from '../org/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import type { ClaimDeps } from './codes.claim.ts';
import { handleInbound, type InboundMessage, type InboundPlacements } from './codes.inbound.ts';
import { codesJobs } from './codes.jobs.ts';
import { consumerRoutes } from './codes.pages.ts';
import * as placementsRepo from './codes.placements.repo.ts';
import { placementRoutes, trackingRoutes } from './codes.placements.routes.ts';
import * as placements from './codes.placements.ts';
import { createContextCache, createRegistrar, type Enqueue, type RegistrationInput } from './codes.register.ts';
import * as repo from './codes.repo.ts';
import { type AuditRecorder, codesRoutes } from './codes.routes.ts';
import type { BatchCreate, ExportFormat, PromotionCreate } from './codes.schemas.ts';
import * as service from './codes.service.ts';
import { codesContributor } from './codes.subject.ts';

export type { InboundMessage, InboundOutcome } from './codes.inbound.ts';
export { PLACEMENT_CONTACT, PLACEMENT_CONTACT_JOB } from './codes.placements.ts';
export type { Enqueue, RegistrationInput, RegistrationOutcome } from './codes.register.ts';
export { CODE_REGISTERED_JOB } from './codes.register.ts';
export const CODES_MAINTENANCE_JOB = 'codes.maintenance';

/**
 * codes: promotions, code batches (generated or imported, stored as keyed hashes), registration of codes from the
 * API, the hosted page and inbound SMS/messenger text, anti-fraud limits and the fraud screen.
 *
 * ```ts
 * const codes = createCodesModule({ db, database, clock, publicUrl, org, profiles, consent, ingest, enqueue });
 * profiles.onMerge(codes.onMerge);               // registrations and allowances follow the person
 * const queue = createQueue(database, logger, [...codes.jobs]);   // `Code Registered` events for the timeline
 * app.register(codes.routes);                    // under /api/v1: /codes/…
 * app.register(codes.consumer);                  // at the root: POST /v1/codes/register, /p/<workspace>/<promotion>, /r/<workspace>/<keyword>
 * events.onStored(codes.placementListener);      // events naming a placement's keyword are its contacts
 * const { reply } = await codes.handleInbound(workspaceId, { channel: 'sms', from: '+79161234567', text: 'CODE 7KQ4…' });
 * ```
 */
export function createCodesModule(input: {
  db: Db;
  database: Database;
  clock: Clock;
  logger?: Logger;
  publicUrl: string;
  org: Pick<OrgModule, 'recordAudit' | 'resolveWriteKey' | 'findWorkspace'>;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection' | 'directory'>;
  consent: Pick<ConsentModule, 'record'>;
  /** The events module's ingest: placement contacts (and `Code Registered` jobs left by earlier versions) use it. */
  ingest: (workspaceId: string, messages: unknown[]) => Promise<{ rejected: { code: string }[] }>;
  /** The events module's appendResolved: `Code Registered` events are written in the registration's transaction. */
  timeline: ClaimDeps['timeline'];
  /** The queue's enqueue (inside the caller's transaction). */
  enqueue: Enqueue;
  personalData?: PersonalDataRegistry;
}) {
  const keys = service.createKeyRing();
  const context = createContextCache(keys, input.clock);
  const deps: service.CodesDeps = {
    db: input.db,
    database: input.database,
    clock: input.clock,
    logger: input.logger,
    publicUrl: input.publicUrl.replace(/\/$/, ''),
    keys,
    invalidate: (workspaceId) => context.invalidate(workspaceId),
  };
  const registrar = createRegistrar({
    db: input.db,
    clock: input.clock,
    logger: input.logger,
    keys,
    profiles: input.profiles,
    recordConsents: (trx, workspaceId, profileId, statements, proof) =>
      input.consent.record(trx, workspaceId, profileId, statements, proof),
    timeline: input.timeline,
    context,
  });
  const slugs = new Map<string, string>();
  const slugOf = async (workspaceId: string) => {
    let slug = slugs.get(workspaceId);
    if (!slug) {
      slug = (await input.org.findWorkspace(workspaceId))?.slug ?? workspaceId;
      slugs.set(workspaceId, slug);
    }
    return slug;
  };
  input.personalData?.register(codesContributor(keys));
  const register = (workspaceId: string, registration: RegistrationInput) =>
    registrar.register(workspaceId, registration);
  const placementDeps: placements.PlacementDeps = {
    db: input.db,
    clock: input.clock,
    logger: input.logger,
    publicUrl: deps.publicUrl,
    profiles: input.profiles,
    enqueue: input.enqueue,
  };
  const inboundPlacements: InboundPlacements = {
    find: (workspaceId, text) => placements.inboundPlacement(input.db, workspaceId, text, input.clock.now()),
    contact: async (workspaceId, found, message) => {
      const sender = placements.senderOf(message.channel, message.from);
      if (!sender) return false;
      const placement = found.placement as placementsRepo.PlacementRow;
      await placements.recordInboundContact(placementDeps, workspaceId, placement, message.channel, sender);
      return true;
    },
  };
  const routes = codesRoutes({ ...deps, audit: input.org.recordAudit as AuditRecorder, slugOf });
  const inbound = (workspaceId: string, message: InboundMessage) =>
    handleInbound(register, workspaceId, message, inboundPlacements);
  const managePlacements = placementRoutes({
    ...placementDeps,
    audit: input.org.recordAudit as AuditRecorder,
    slugOf,
    handleInbound: inbound,
  });
  const consumer = consumerRoutes({
    db: input.db,
    clock: input.clock,
    context,
    register,
    resolveWriteKey: (key) => input.org.resolveWriteKey(key),
    findWorkspace: (idOrSlug) => input.org.findWorkspace(idOrSlug),
  });
  const tracking = trackingRoutes({ ...placementDeps, findWorkspace: (idOrSlug) => input.org.findWorkspace(idOrSlug) });
  return {
    routes: (async (app, options) => {
      await app.register(routes, options);
      await app.register(managePlacements, options);
    }) as typeof routes,
    consumer: (async (app, options) => {
      await app.register(consumer, options);
      await app.register(tracking, options);
    }) as typeof consumer,
    jobs: [
      ...codesJobs(input.ingest, input.logger),
      ...placements.placementJobs(placementDeps, input.ingest),
      {
        // Daily: registration attempts older than each workspace's retention (default 180 days; 0 keeps them).
        name: CODES_MAINTENANCE_JOB,
        schedule: '41 3 * * *',
        handler: async () => {
          const purged = await placementsRepo.purgeOldAttempts(input.db, input.clock.now());
          input.logger?.info({ purged }, 'code attempts past their retention purged');
        },
      },
    ] satisfies QueueDefinition[],
    /** Events naming a placement's keyword (properties.placement, context.campaign.content) are its contacts. */
    placementListener: placements.placementListener(placementDeps),
    /** Registers a code (the same path as the API and the hosted page). */
    register,
    /**
     * Inbound SMS/messenger text: "CODE 7KQ4M2XD9RPT" or "КОД …" registers the code for the sender; a text starting
     * with a placement's keyword ("TV1", "TV1 7KQ4M2XD9RPT") is that placement's contact.
     */
    handleInbound: inbound,
    /** Merge listener: registrations, attempts, allowances and placement contacts follow the survivor. */
    onMerge: async (trx: Db, workspaceId: string, merges: { survivorId: string; absorbedId: string }[]) => {
      for (const m of merges) {
        await repo.repointProfile(trx, workspaceId, m.survivorId, m.absorbedId);
        await placementsRepo.repointContacts(trx, workspaceId, m.survivorId, m.absorbedId);
      }
    },
    /** For the command line and tools: promotions and batches without HTTP. */
    admin: {
      createPromotion: (workspaceId: string, promotion: PromotionCreate) =>
        service.createPromotion(deps, workspaceId, promotion),
      findPromotion: (workspaceId: string, idOrKey: string) => service.requirePromotion(input.db, workspaceId, idOrKey),
      createBatch: (workspaceId: string, promotion: string, batch: BatchCreate, createdBy: string | null) =>
        service.createBatch(deps, workspaceId, promotion, batch, createdBy),
      generateBatch: (
        workspaceId: string,
        batchId: string,
        out: Writable,
        format: ExportFormat,
        onProgress?: (done: number, total: number) => void,
      ) => service.generateBatch(deps, workspaceId, batchId, out, format, onProgress),
      importBatch: (
        workspaceId: string,
        promotion: string,
        source: Readable,
        label: string | null,
        onProgress?: (lines: number) => void,
      ) => service.importBatch(deps, workspaceId, promotion, source, label, 'command line', onProgress),
      batch: (workspaceId: string, batchId: string) => service.requireBatch(input.db, workspaceId, batchId),
      /** How many hashes a batch holds, and how many distinct (tests). */
      countCodes: async (workspaceId: string, batchId: string) => repo.countBatchCodes(input.db, workspaceId, batchId),
    },
  };
}
export type CodesModule = ReturnType<typeof createCodesModule>;
