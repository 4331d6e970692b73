import { type Clock, systemClock } from '../../platform/clock.ts';
import type { ContextExtension } from '../../platform/context-extension.ts';
import type { Database, Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { OrgModule } from '../org/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import { appendNormalized, type BulkWriteDeps, bulkImport } from './events.bulk.ts';
import { type ImportOptions, importFile, importStream, type StreamImportOptions } from './events.import.ts';
import type { NormalizedEvent } from './events.normalize.ts';
import * as repo from './events.repo.ts';
import { ingestionRoutes, timelineRoutes } from './events.routes.ts';
import { appendResolved, type EventsDeps, ingest, type StoredEventListener } from './events.service.ts';
import { eventsContributor } from './events.subject.ts';
import { uploadRoutes } from './events.uploads.routes.ts';
import { type Enqueue, runImport, type UploadDeps, uploadJobs } from './events.uploads.ts';

export type { ImportKind, ImportOptions, ImportProgress, ImportSummary, StreamImportOptions } from './events.import.ts';
export { formatOf } from './events.import.ts';
export type { NormalizedEvent } from './events.normalize.ts';
export type { IngestResult } from './events.schemas.ts';
export type { StoredEvent, StoredEventListener } from './events.service.ts';
export type { Enqueue, ImportJob } from './events.uploads.ts';
export { IMPORT_JOB } from './events.uploads.ts';

/**
 * events: the interaction log. Segment-compatible ingestion (/v1/…), storage with dedup by messageId, timelines.
 *
 * ```ts
 * const events = createEventsModule({ db, profiles, org });
 * app.register(events.ingestion);        // at the root: /v1/identify, /v1/track, … /v1/batch
 * app.register(events.routes);           // under /api/v1: /profiles/:id/events
 * const queue = createQueue(database, logger, [...events.uploads.jobs]);
 * app.register(events.uploads.routes(queue.enqueue)); // under /api/v1: /imports…
 * ```
 */
export function createEventsModule(input: {
  db: Db;
  profiles: ProfilesModule;
  org: OrgModule;
  clock?: Clock;
  logger?: Logger;
  /** Where the events register their part of a data subject's export and erasure. */
  personalData?: PersonalDataRegistry;
  /** The database's COPY-capable transactions: imports take the bulk path with it (events.bulk.ts). */
  copyTransaction?: Database['copyTransaction'];
}) {
  const extensions: ContextExtension[] = [];
  const listeners: StoredEventListener[] = [];
  const handledByIngest = (event: NormalizedEvent) => extensions.some((x) => event.context[x.key] !== undefined);
  const copyTransaction = input.copyTransaction;
  const bulkDeps: BulkWriteDeps | undefined = copyTransaction
    ? { copyTransaction, profiles: input.profiles, handledByIngest, listeners }
    : undefined;
  const deps: EventsDeps = {
    db: input.db,
    profiles: input.profiles,
    extensions,
    listeners,
    bulk: bulkDeps && ((workspaceId, events, memory) => appendNormalized(bulkDeps, workspaceId, events, memory)),
  };
  // The same ingestion without the bulk path (its own group commit), for the rows an import's bulk path deferred.
  const oneByOne: EventsDeps = { ...deps, bulk: undefined };
  /** What an import writes its batches with: the bulk path, whose deferred rows go through `ingest`. */
  const importWriter = (workspaceId: string) => {
    if (!bulkDeps) return (messages: unknown[]) => ingest(deps, workspaceId, messages, new Date());
    return bulkImport(
      {
        ...bulkDeps,
        // Its deferred rows need judgement: straight to the one-by-one path, not through the bulk path again.
        ingest: (ws, messages, receivedAt) => ingest(oneByOne, ws, messages, receivedAt),
      },
      workspaceId,
    );
  };
  const uploads: UploadDeps = {
    db: input.db,
    clock: input.clock ?? systemClock,
    logger: input.logger,
    audit: input.org.recordAudit,
    importStream: (workspaceId, options) => importStream(importWriter(workspaceId), options),
  };
  // A merge moves the absorbed profiles' timelines to the survivor, in the merge's own transaction.
  input.profiles.onMerge((trx, workspaceId, merges) => repo.repointEvents(trx, workspaceId, merges));
  input.personalData?.register(eventsContributor());
  return {
    ingestion: ingestionRoutes(deps, input.org),
    routes: timelineRoutes(deps, input.org),
    /**
     * Lets a module act on `context[key]` of tracking messages (and imported rows): checked before the batch is
     * written, applied in the transaction that stores the events, for messages stored for the first time.
     */
    extendContext: <T>(extension: ContextExtension<T>) => {
      extensions.push(extension as ContextExtension);
    },
    /**
     * Lets a module react to stored events of some names/types (track by default), inside the transaction that
     * stored them and only for messages stored for the first time: e.g. loyalty earning on `Code Registered`.
     */
    onStored: (listener: StoredEventListener) => {
      listeners.push(listener);
    },
    /** Appends messages of the tracking API for a workspace (imports use this too). */
    ingest: (workspaceId: string, messages: unknown[], receivedAt = new Date()) =>
      ingest(deps, workspaceId, messages, receivedAt),
    /**
     * Appends events of people the caller has just resolved, inside the caller's transaction (events.service.ts
     * `appendResolved`): a code registration's `Code Registered` event is written and heard with its claim.
     */
    appendResolved: (
      trx: Db,
      workspaceId: string,
      items: { message: unknown; profileId: string }[],
      receivedAt: Date,
    ) => appendResolved(deps, trx, workspaceId, items, receivedAt),
    /** Imports a CSV or NDJSON file of events or profiles into a workspace (streaming, idempotent, resumable). */
    importFile: (workspaceId: string, options: ImportOptions) => importFile(importWriter(workspaceId), options),
    /** The same from any stream (console uploads): the caller keeps rejects and checkpoints. */
    importStream: (workspaceId: string, options: StreamImportOptions) =>
      importStream(importWriter(workspaceId), options),
    /**
     * Imports uploaded over HTTP (events.uploads.ts): `routes(enqueue)` for /api/v1/imports, `jobs` for the
     * queue (the import job, its dead letter, the clean-up of abandoned uploads), and `run` to run one import
     * in this process (tests, tools).
     */
    uploads: {
      routes: (enqueue: Enqueue) => uploadRoutes(uploads, enqueue),
      jobs: uploadJobs(uploads),
      run: (workspaceId: string, importId: string) => runImport(uploads, { workspaceId, importId }),
    },
  };
}
export type EventsModule = ReturnType<typeof createEventsModule>;
