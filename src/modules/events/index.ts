import type { Db } from '../../platform/db.ts';
import type { OrgModule } from '../org/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import { type ImportOptions, importFile, importStream, type StreamImportOptions } from './events.import.ts';
import * as repo from './events.repo.ts';
import { ingestionRoutes, timelineRoutes } from './events.routes.ts';
import { type EventsDeps, ingest } from './events.service.ts';

export type { ImportKind, ImportOptions, ImportProgress, ImportSummary, StreamImportOptions } from './events.import.ts';
export { formatOf } from './events.import.ts';
export type { NormalizedEvent } from './events.normalize.ts';
export type { IngestResult } from './events.schemas.ts';

/**
 * events: the interaction log. Segment-compatible ingestion (/v1/…), storage with dedup by messageId, timelines.
 *
 * ```ts
 * const events = createEventsModule({ db, profiles, org });
 * app.register(events.ingestion);        // at the root: /v1/identify, /v1/track, … /v1/batch
 * app.register(events.routes);           // under /api/v1: /profiles/:id/events
 * ```
 */
export function createEventsModule(input: { db: Db; profiles: ProfilesModule; org: OrgModule }) {
  const deps: EventsDeps = { db: input.db, profiles: input.profiles };
  // A merge moves the absorbed profiles' timelines to the survivor, in the merge's own transaction.
  input.profiles.onMerge((trx, workspaceId, merges) => repo.repointEvents(trx, workspaceId, merges));
  return {
    ingestion: ingestionRoutes(deps, input.org),
    routes: timelineRoutes(deps),
    /** Appends messages of the tracking API for a workspace (imports use this too). */
    ingest: (workspaceId: string, messages: unknown[], receivedAt = new Date()) =>
      ingest(deps, workspaceId, messages, receivedAt),
    /** Imports a CSV or NDJSON file of events or profiles into a workspace (streaming, idempotent, resumable). */
    importFile: (workspaceId: string, options: ImportOptions) =>
      importFile((messages) => ingest(deps, workspaceId, messages, new Date()), options),
    /** The same from any stream (console uploads): the caller keeps rejects and checkpoints. */
    importStream: (workspaceId: string, options: StreamImportOptions) =>
      importStream((messages) => ingest(deps, workspaceId, messages, new Date()), options),
  };
}
export type EventsModule = ReturnType<typeof createEventsModule>;
