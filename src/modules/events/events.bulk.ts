import type { Database } from '../../platform/db.ts';
import {
  BULK_LOCK_BUDGET,
  type BulkChunk,
  BulkMemory,
  type BulkPlan,
  CONCURRENT_MERGE,
  identifierKey,
  Numbering,
  type ProfilesModule,
} from '../profiles/index.ts';
import { appendEvents, EventRows } from './events.bulk.repo.ts';
import { isRejection, type NormalizedEvent, normalizeMessage } from './events.normalize.ts';
import type { IngestResult } from './events.schemas.ts';
import { hears, type StoredEvent, type StoredEventListener } from './events.service.ts';

/**
 * The bulk path of imports. Each batch of rows an import hands over is normalised as ingestion does it, then
 * written in transactions of a few thousand rows, each a fixed number of set-wise statements: the people are
 * resolved by `profiles.resolveBulk` (staged identifiers, owners by a join, new profiles and identifiers inserted
 * together, the projection once per profile), the events are COPYed straight into `events` (through a staging
 * table and one INSERT … SELECT … ON CONFLICT DO NOTHING when one of their message ids is already stored or repeats
 * among them: events.bulk.repo.ts). Rows whose people need judgement (a merge, two values of a kind, an
 * erased person) and rows carrying something another module acts on (`context.consent`) are deferred by the
 * resolution and go through `ingest`, like any tracking batch, right after the transaction — so every identity
 * rule keeps a single implementation, and the outcome is the one ingestion gives for the same file. Listeners of
 * stored events (`onStored`) hear the bulk path's events as ingestion's: in the storing transaction, for message
 * ids stored for the first time, the first row of each.
 *
 * Batches are written strictly one after the other, in file order, whatever the caller's pipelining: the next one
 * is prepared — normalised, cut into transactions, its events encoded for a binary COPY (EventRows), its people
 * grouped and planned from the import's memory (profiles.planBulk) — while the previous one commits, and is refused
 * if the previous one failed. Inside a transaction the client then mostly waits on the server.
 */
export interface BulkImportDeps {
  copyTransaction: Database['copyTransaction'];
  profiles: ProfilesModule;
  /** Ingestion of tracking messages (events.service.ts `ingest`), for the deferred rows. */
  ingest: (workspaceId: string, messages: unknown[], receivedAt: Date) => Promise<IngestResult>;
  /** Whether an event carries something only ingestion handles (a context extension's key). */
  handledByIngest: (event: NormalizedEvent) => boolean;
  /** Modules hearing stored events (events.onStored). */
  listeners: readonly StoredEventListener[];
}

const RETRYABLE = new Set(['40P01', '40001', CONCURRENT_MERGE]); // deadlock, serialization failure, moved people
const ATTEMPTS = 6;

interface Candidate {
  index: number;
  event: NormalizedEvent;
  /** Its identifiers' numbers in its slice's Numbering. */
  ns: number[];
  /** Its place in its slice (and in the slice's EventRows, which holds its id). */
  row: number;
}

/** One transaction's rows, grouped by people, planned and encoded for COPY ahead of it. */
interface Slice {
  rows: Candidate[];
  chunk: BulkChunk;
  encoded: EventRows;
  /** The resolution as far as the memory takes it (an import's slices), for the transaction's first attempt. */
  plan: BulkPlan | undefined;
}

/** A writer for importStream that takes the bulk path for one workspace. */
export function bulkImport(deps: BulkImportDeps, workspaceId: string): (messages: unknown[]) => Promise<IngestResult> {
  let previous: Promise<unknown> = Promise.resolve();
  // Owners found by earlier batches of this import: known customers are not looked up again.
  const memory = new BulkMemory();
  return (messages) => {
    const receivedAt = new Date();
    const rejected: IngestResult['rejected'] = [];
    const prepared = prepare(deps, workspaceId, messages, receivedAt, rejected, memory);
    prepared.catch(() => {}); // awaited below; this only keeps it from counting as unhandled if an earlier batch fails
    const written = previous.then(async () =>
      writeBatch(deps, workspaceId, messages, await prepared, receivedAt, rejected, memory),
    );
    previous = written;
    return written;
  };
}

/** Rows prepared between two turns of the event loop, so that the batch being written is never kept waiting long. */
const PREPARE_EVERY = 32;

/** Normalises a batch and cuts it into transactions, each encoded for COPY, its people grouped and planned. */
async function prepare(
  deps: BulkImportDeps,
  workspaceId: string,
  messages: unknown[],
  receivedAt: Date,
  rejected: IngestResult['rejected'],
  memory: BulkMemory,
): Promise<Slice[]> {
  const slicer = new Slicer(deps, workspaceId, memory);
  const prepared: Slice[] = [];
  for (const [index, message] of messages.entries()) {
    if (index > 0 && index % PREPARE_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    const result = normalizeMessage(message, receivedAt);
    if (isRejection(result)) rejected.push({ index, ...result });
    else {
      const slice = slicer.add(index, result);
      if (slice) prepared.push(slice);
    }
  }
  const last = slicer.end();
  if (last) prepared.push(last);
  return prepared;
}

/**
 * Cuts rows into consecutive slices of at most BULK_LOCK_BUDGET distinct identifiers each — one transaction each —
 * encoding each row for COPY as it comes, and grouping a slice's people when it is complete.
 */
class Slicer {
  readonly #deps: BulkWriteDeps;
  readonly #workspaceId: string;
  readonly #memory: BulkMemory | undefined;
  #rows: Candidate[] = [];
  #numbering = new Numbering();
  #encoded: EventRows;
  /** `memory`: to plan each slice with as it closes (an import's; ingestion's groups are planned in the transaction). */
  constructor(deps: BulkWriteDeps, workspaceId: string, memory?: BulkMemory) {
    this.#deps = deps;
    this.#workspaceId = workspaceId;
    this.#memory = memory;
    this.#encoded = new EventRows(workspaceId);
  }
  /** Adds the event of a batch's `index`-th row; returns the slice it closed, if it did not fit in the current one. */
  add(index: number, event: NormalizedEvent): Slice | null {
    const keys = event.ids.map(identifierKey);
    const closed =
      this.#rows.length > 0 && this.#numbering.size + this.#numbering.unseen(keys) > BULK_LOCK_BUDGET
        ? this.end()
        : null;
    this.#rows.push({ index, event, ns: this.#numbering.number(event.ids, keys), row: this.#rows.length });
    this.#encoded.add(event);
    return closed;
  }
  /** Closes the current slice (null when empty). */
  end(): Slice | null {
    if (this.#rows.length === 0) return null;
    const rows = this.#rows;
    const chunk = chunkOf(this.#deps, rows, this.#numbering);
    const plan = this.#memory && this.#deps.profiles.planBulk(chunk, this.#memory);
    const slice = { rows, chunk, encoded: this.#encoded, plan };
    this.#rows = [];
    this.#numbering = new Numbering();
    this.#encoded = new EventRows(this.#workspaceId);
    return slice;
  }
}

function chunkOf(deps: BulkWriteDeps, rows: Candidate[], numbering: Numbering): BulkChunk {
  return deps.profiles.groupBulk(
    rows.map(({ event }) => ({
      ids: event.ids,
      traits: event.profileTraits,
      at: event.occurredAt,
      channel: event.channel,
      alone: deps.handledByIngest(event),
      routeKey: event.messageId,
    })),
    { numbering, of: rows.map((c) => c.ns) },
  );
}

/** What the bulk path needs to write events ingestion has already normalised. */
export type BulkWriteDeps = Omit<BulkImportDeps, 'ingest'>;

/**
 * Ingestion's group commit through the bulk path: a group of normalised events (several tracking batches) written
 * as an import writes its chunks — people resolved set-wise, events COPYed — in transactions of at most
 * BULK_LOCK_BUDGET identifiers. Returns the events the resolution left to the one-by-one path (merges, conflicting
 * values, erased people, context extensions), in their order, for the caller to write after these commit. `memory`
 * is the owners and spans this caller's earlier committed groups found; it must not be shared by two groups in
 * flight at once.
 */
export async function appendNormalized(
  deps: BulkWriteDeps,
  workspaceId: string,
  events: readonly NormalizedEvent[],
  memory: BulkMemory,
): Promise<NormalizedEvent[]> {
  const slicer = new Slicer(deps, workspaceId);
  const deferred: NormalizedEvent[] = [];
  const write = async (slice: Slice) => {
    const profileIds = await resolveAndAppend(deps, workspaceId, slice, memory);
    slice.rows.forEach((c, i) => {
      if (profileIds[i] === null) deferred.push(c.event);
    });
  };
  for (const [index, event] of events.entries()) {
    const slice = slicer.add(index, event);
    if (slice) await write(slice);
  }
  const last = slicer.end();
  if (last) await write(last);
  return deferred;
}

async function writeBatch(
  deps: BulkImportDeps,
  workspaceId: string,
  messages: unknown[],
  prepared: Slice[],
  receivedAt: Date,
  rejected: IngestResult['rejected'],
  memory: BulkMemory,
): Promise<IngestResult> {
  let accepted = 0;
  for (const slice of prepared) {
    const profileIds = await resolveAndAppend(deps, workspaceId, slice, memory);
    accepted += profileIds.filter((p) => p !== null).length;
    const deferred = slice.rows.filter((_, i) => profileIds[i] === null);
    if (deferred.length === 0) continue;
    const result = await deps.ingest(
      workspaceId,
      deferred.map((c) => messages[c.index]),
      receivedAt,
    );
    accepted += result.accepted;
    for (const r of result.rejected) rejected.push({ ...r, index: (deferred[r.index] as Candidate).index });
  }
  rejected.sort((a, b) => a.index - b.index);
  return { success: accepted > 0, accepted, rejected };
}

/** One transaction: people resolved set-wise, events appended, projection last. Returns null for deferred rows. */
async function resolveAndAppend(
  deps: BulkWriteDeps,
  workspaceId: string,
  slice: Slice,
  memory: BulkMemory,
): Promise<(string | null)[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const resolution = await deps.copyTransaction(async (trx, copyIn) => {
        const plan = attempt === 1 ? slice.plan : undefined;
        const resolution = await deps.profiles.resolveBulk(trx, copyIn, workspaceId, slice.chunk, memory, plan);
        const stored: Candidate[] = [];
        const profileOf: string[] = [];
        for (const [i, profileId] of resolution.profileIds.entries()) {
          if (profileId === null) continue;
          stored.push(slice.rows[i] as Candidate);
          profileOf.push(profileId);
        }
        const heard = deps.listeners.length > 0 && stored.some((c) => deps.listeners.some((l) => hears(l, c.event)));
        const fresh = await appendEvents(
          trx,
          copyIn,
          slice.encoded.rows(resolution.profileIds),
          stored.map((c) => c.event.messageId),
          heard,
          // Route keys are the message ids (chunkOf).
          !slice.chunk.routesRepeat,
        );
        if (fresh) await tellListeners(deps.listeners, trx, workspaceId, slice.encoded, stored, profileOf, fresh);
        // Last, so that row locks on the profiles are held only until the commit right after.
        await deps.profiles.applyBulkProjection(trx, workspaceId, resolution.projection);
        return resolution;
      });
      memory.committed(resolution.learnt);
      return resolution.profileIds;
    } catch (error) {
      memory.forget();
      const code = (error as { code?: string }).code;
      if (attempt < ATTEMPTS && code && RETRYABLE.has(code)) continue;
      throw error;
    }
  }
}

/** Listeners hear the rows stored for the first time: of one message id, the first row, which is the one stored. */
async function tellListeners(
  listeners: readonly StoredEventListener[],
  trx: Parameters<StoredEventListener['handle']>[0],
  workspaceId: string,
  encoded: EventRows,
  rows: Candidate[],
  profileOf: string[],
  fresh: Set<string>,
) {
  const events: StoredEvent[] = [];
  for (const [i, { row, event: e }] of rows.entries()) {
    if (!fresh.delete(e.messageId)) continue;
    events.push({
      id: encoded.idOf(row),
      messageId: e.messageId,
      profileId: profileOf[i] as string,
      type: e.type,
      name: e.name,
      channel: e.channel,
      occurredAt: e.occurredAt,
      properties: e.properties,
      traits: e.traits,
      context: e.context,
    });
  }
  for (const listener of listeners) {
    const heard = events.filter((e) => hears(listener, e));
    if (heard.length > 0) await listener.handle(trx, workspaceId, heard);
  }
}
