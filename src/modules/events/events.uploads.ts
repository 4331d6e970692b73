import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Job } from 'pg-boss';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { decodeCursor, type Page, toPage } from '../../platform/pagination.ts';
import type { Actor } from '../../platform/principal.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import { formatOf, type ImportSummary, type StreamImportOptions } from './events.import.ts';
import * as repo from './events.uploads.repo.ts';
import { type Import, type ImportFormat, type ImportKind, MAX_UPLOAD_BYTES } from './events.uploads.schemas.ts';

/**
 * Imports uploaded over HTTP (the console's Import screen, or any client of `POST /api/v1/imports`). The API
 * process streams the request body into `import_chunks` (about 1 MB a row) and, once the body is complete, marks
 * the import queued and enqueues a job in the same transaction. Any worker process then streams the chunks back
 * in order through the same import core as the command line, and after every committed batch writes the
 * checkpoint, the counters and the batch's rejects in one transaction, so that a retried job (a crashed or
 * stopped worker) resumes after the last committed batch. When the import is over the chunks are deleted: the
 * file is not kept, the row and its rejects are.
 */
export const IMPORT_JOB = 'events.import';
/** Where pg-boss moves an import job that failed every attempt: its handler marks the import failed. */
export const IMPORT_FAILED_JOB = 'events.import.failed';
export const IMPORT_CLEANUP_JOB = 'events.import.cleanup';
/** Size of one stored piece of an uploaded file. */
export const CHUNK_BYTES = 1024 * 1024;
const SLICE_BYTES = 64 * 1024;
/** An upload that has not completed after this long was abandoned (client gone, API process died). */
const ABANDONED_AFTER_MS = 24 * 3600_000;

export interface ImportJob {
  workspaceId: string;
  importId: string;
}

type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string },
  details?: Record<string, unknown>,
) => Promise<void>;

export type Enqueue = (trx: Kysely<unknown>, name: string, data: ImportJob) => Promise<string | null>;

export interface UploadDeps {
  db: Db;
  clock: Clock;
  logger?: Logger;
  audit: AuditRecorder;
  /** The import core bound to the workspace's ingestion (the events module's importStream). */
  importStream: (workspaceId: string, options: StreamImportOptions) => Promise<Omit<ImportSummary, 'rejectsFile'>>;
}

// ---- reading requests

const FIELD = /^[^\s\p{Cc}][^\p{Cc}]{0,99}$/u;

/**
 * `Header=field,Other header=other` → { Header: 'field', … }: the command line's --map syntax. Throws
 * INVALID_MAPPING for anything else, so that a typo is answered at once rather than after a whole import.
 */
export function parseMapping(text: string | undefined, format: ImportFormat): Record<string, string> {
  const mapping: Record<string, string> = {};
  const pairs = (text ?? '').split(',').filter((pair) => pair.trim() !== '');
  if (pairs.length > 0 && format !== 'csv') {
    throw new DomainError('invalid', 'INVALID_MAPPING', 'A column mapping applies to CSV files only.');
  }
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const header = pair.slice(0, at).trim();
    const field = pair.slice(at + 1).trim();
    if (at < 1 || !header || !FIELD.test(field) || header.length > 200) {
      throw new DomainError(
        'invalid',
        'INVALID_MAPPING',
        `The mapping takes Header=field pairs separated by commas; "${pair.slice(0, 60)}" is not one.`,
      );
    }
    if (header in mapping) {
      throw new DomainError('invalid', 'INVALID_MAPPING', `The column "${header.slice(0, 60)}" is mapped twice.`);
    }
    mapping[header] = field;
  }
  return mapping;
}

export function toImport(row: repo.ImportRow): Import {
  return {
    id: row.id,
    kind: row.kind,
    format: row.format,
    fileName: row.file_name,
    mapping: row.mapping ?? {},
    status: row.status,
    totalBytes: Number(row.total_bytes),
    bytesDone: Number(row.bytes_done),
    rows: Number(row.rows),
    accepted: Number(row.accepted),
    rejected: Number(row.rejected),
    checkpointLine: Number(row.checkpoint_line),
    error: row.error,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

// ---- the upload (API process)

export interface UploadInput {
  kind: ImportKind;
  fileName: string;
  format?: ImportFormat;
  map?: string;
  /** Content-Length, when the client sent one: refuses an oversized file before reading it. */
  declaredBytes?: number;
}

/**
 * Stores an uploaded file in chunks as it arrives (never the whole body in memory), then queues its import.
 * A failed or refused upload leaves nothing behind.
 */
export async function receiveUpload(
  deps: UploadDeps,
  enqueue: Enqueue,
  actor: Actor,
  input: UploadInput,
  body: AsyncIterable<Buffer | string> | undefined,
): Promise<Import> {
  const workspaceId = actor.principal.scope.workspaceId;
  const format = input.format ?? formatOf(input.fileName);
  const mapping = parseMapping(input.map, format);
  if (input.declaredBytes !== undefined && input.declaredBytes > MAX_UPLOAD_BYTES) throw tooLarge();
  if (input.declaredBytes === 0 || body === undefined) throw emptyFile();

  const id = newId();
  await repo.insertImport(deps.db, workspaceId, {
    id,
    kind: input.kind,
    format,
    file_name: input.fileName,
    mapping,
    created_by: actor.principal.actorLabel,
  });
  try {
    let total = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const store = async (final: boolean) => {
      while (pendingBytes >= CHUNK_BYTES || (final && pendingBytes > 0)) {
        const joined = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
        const piece = joined.subarray(0, CHUNK_BYTES);
        const rest = joined.subarray(piece.length);
        await repo.insertChunk(deps.db, workspaceId, id, seq++, piece);
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
      }
    };
    for await (const part of readBody(body)) {
      const buffer = typeof part === 'string' ? Buffer.from(part) : part;
      total += buffer.length;
      if (total > MAX_UPLOAD_BYTES) throw tooLarge();
      pending.push(buffer);
      pendingBytes += buffer.length;
      // Awaiting the insert pauses the request stream: memory holds about one chunk, whatever the file's size.
      if (pendingBytes >= CHUNK_BYTES) await store(false);
    }
    await store(true);
    if (total === 0) throw emptyFile();

    await deps.db.transaction().execute(async (trx) => {
      await repo.markQueued(trx, workspaceId, id, total);
      await deps.audit(
        trx,
        actor,
        'import.uploaded',
        { kind: 'import', id },
        { kind: input.kind, format, bytes: total },
      );
      await enqueue(trx as unknown as Kysely<unknown>, IMPORT_JOB, { workspaceId, importId: id });
    });
  } catch (error) {
    await repo.deleteImport(deps.db, workspaceId, id).catch(() => {});
    throw error;
  }
  return getImport(deps, workspaceId, id);
}

/** The request stream, with a broken connection turned into a problem of its own (not a 500). */
async function* readBody(body: AsyncIterable<Buffer | string>) {
  const iterator = body[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await iterator.next();
    } catch {
      throw new DomainError(
        'invalid',
        'UPLOAD_INTERRUPTED',
        'The upload was interrupted before the file was complete.',
      );
    }
    if (next.done) return;
    yield next.value;
  }
}

const tooLarge = () =>
  new DomainError('too_large', 'PAYLOAD_TOO_LARGE', `A file may be at most ${MAX_UPLOAD_BYTES / 1024 ** 3} GiB.`);
const emptyFile = () => new DomainError('invalid', 'EMPTY_FILE', 'The file is empty: send it as the request body.');

// ---- reading imports

export async function getImport(deps: Pick<UploadDeps, 'db'>, workspaceId: string, id: string): Promise<Import> {
  const row = await repo.findImport(deps.db, workspaceId, id);
  if (!row) throw notFound('Import', 'IMPORT_NOT_FOUND');
  return toImport(row);
}

export async function listImports(
  deps: Pick<UploadDeps, 'db'>,
  workspaceId: string,
  page: { limit: number; cursor?: string },
): Promise<Page<Import>> {
  const rows = await repo.listImports(deps.db, workspaceId, { limit: page.limit, before: decodeCursor(page.cursor) });
  const found = toPage(rows, page.limit);
  return { items: found.items.map(toImport), nextCursor: found.nextCursor };
}

/** The rejects as CSV (line,code,message, as the command line writes them), read from the database a page at a time. */
export function rejectsCsv(deps: Pick<UploadDeps, 'db'>, workspaceId: string, importId: string): Readable {
  async function* lines() {
    yield 'line,code,message\n';
    let after = 0;
    for (;;) {
      const page = await repo.listRejects(deps.db, workspaceId, importId, after, 1000);
      if (page.length === 0) return;
      yield page.map((r) => `${r.line},${r.code},${csvField(r.message)}\n`).join('');
      after = Number(page.at(-1)?.line ?? after);
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

/** Quoted, and never read as a formula by a spreadsheet. */
function csvField(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}

// ---- the job (worker process)

/** Errors in the file itself: running again would meet them again, so the import fails at once. */
class FileError extends Error {}

function isFileError(error: unknown): boolean {
  if (error instanceof FileError) return true;
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('CSV_');
}

/** The uploaded file, streamed back out of the database chunk by chunk. */
function storedFile(db: Db, workspaceId: string, importId: string, totalBytes: number): Readable {
  async function* chunks() {
    let read = 0;
    for (let seq = 0; ; seq++) {
      const data = await repo.readChunk(db, workspaceId, importId, seq);
      if (!data) break;
      read += data.byteLength;
      const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      // Handed on in small slices, so that the bytes the import has read (its progress) move smoothly.
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) yield chunk.subarray(at, at + SLICE_BYTES);
    }
    if (read !== totalBytes) {
      throw new FileError(`The stored file is incomplete (${read} of ${totalBytes} bytes); upload it again.`);
    }
  }
  // Byte mode with a tiny high-water mark: at most about one chunk is read ahead of the parser.
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1 });
}

/**
 * Runs (or resumes) one import. Lines up to the row's checkpoint were committed by an earlier attempt and are
 * only counted. Rejects are written with the checkpoint that passes them, in the same transaction, so the
 * counters always match the rejects table and a retry neither loses nor repeats any.
 */
export async function runImport(deps: UploadDeps, job: ImportJob, signal?: AbortSignal): Promise<void> {
  const { workspaceId, importId } = job;
  const row = await repo.startRun(deps.db, workspaceId, importId);
  if (!row) return; // already over, or deleted
  const total = Number(row.total_bytes);
  const acceptedBefore = Number(row.accepted);
  let rejected = Number(row.rejected);
  let pending: repo.RejectRow[] = [];
  const input = storedFile(deps.db, workspaceId, importId, total);
  const stop = () => input.destroy(new Error('The worker stopped this import; it continues on the next attempt.'));
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const summary = await deps.importStream(workspaceId, {
      kind: row.kind,
      format: row.format,
      input,
      totalBytes: total,
      mapping: row.mapping ?? {},
      startAfter: Number(row.checkpoint_line),
      onReject: (line, code, message) => {
        pending.push({ line, code, message });
      },
      onCheckpoint: async (line, progress) => {
        const due = pending.filter((r) => r.line <= line);
        pending = pending.filter((r) => r.line > line);
        await deps.db.transaction().execute(async (trx) => {
          rejected += await repo.insertRejects(trx, workspaceId, importId, due);
          await repo.saveProgress(trx, workspaceId, importId, {
            bytes_done: Math.min(progress.bytes, total),
            rows: progress.rows,
            accepted: acceptedBefore + progress.accepted,
            rejected,
            checkpoint_line: line,
          });
        });
        // On the embedded database every query resolves without touching the event loop: without this pause a
        // long import would hold the whole process (API requests, progress polls, pg-boss) until it ended.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await deps.db.transaction().execute(async (trx) => {
      rejected += await repo.insertRejects(trx, workspaceId, importId, pending);
      await repo.finishRun(trx, workspaceId, importId, {
        status: 'done',
        error: null,
        bytes_done: total,
        rows: summary.rows,
        accepted: acceptedBefore + summary.accepted,
        rejected,
      });
      await repo.deleteChunks(trx, workspaceId, importId);
    });
  } catch (error) {
    const message = readableError(error);
    if (isFileError(error)) {
      await failImport(deps, workspaceId, importId, message);
      return;
    }
    // Anything else (the database went away, the worker is stopping) is worth another attempt, which resumes
    // after the checkpoint. The message stays on the row for the console, and for the last attempt's failure.
    await repo.noteError(deps.db, workspaceId, importId, message).catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
    input.destroy();
  }
}

function readableError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 1000);
}

async function failImport(deps: Pick<UploadDeps, 'db'>, workspaceId: string, importId: string, error: string) {
  await deps.db.transaction().execute(async (trx) => {
    await repo.finishRun(trx, workspaceId, importId, { status: 'failed', error });
    await repo.deleteChunks(trx, workspaceId, importId);
  });
}

/** Job definitions of uploaded imports, for the composition root's queue. */
export function uploadJobs(deps: UploadDeps): QueueDefinition[] {
  return [
    {
      // Listed first: pg-boss needs a dead-letter queue to exist before the queue that names it.
      name: IMPORT_FAILED_JOB,
      handler: async (jobs) => {
        for (const job of jobs as Job<ImportJob>[]) {
          const { workspaceId, importId } = job.data;
          const row = await repo.findImport(deps.db, workspaceId, importId);
          if (!row || row.status === 'done' || row.status === 'failed') continue;
          await failImport(
            deps,
            workspaceId,
            importId,
            row.error ?? 'The import stopped on every attempt (the worker may have been stopped or run out of memory).',
          );
        }
      },
    },
    {
      name: IMPORT_JOB,
      options: {
        // A worker proves it is alive every 15 s; a job whose worker died is retried after ~30 s by another one,
        // which resumes after the checkpoint. Big files take long, hence the generous expiry.
        heartbeatSeconds: 30,
        expireInSeconds: 12 * 3600,
        // Restarted workers (deploys) cost an attempt each, hence more attempts than usual, with capped back-off.
        retryLimit: 10,
        retryDelay: 5,
        retryBackoff: true,
        retryDelayMax: 120,
        deadLetter: IMPORT_FAILED_JOB,
      },
      handler: async (jobs) => {
        for (const job of jobs as Job<ImportJob>[]) await runImport(deps, job.data, job.signal);
      },
    },
    {
      name: IMPORT_CLEANUP_JOB,
      schedule: '17 * * * *',
      handler: async () => {
        const removed = await repo.deleteAbandonedUploads(
          deps.db,
          new Date(deps.clock.now().getTime() - ABANDONED_AFTER_MS),
        );
        if (removed) deps.logger?.info({ removed }, 'abandoned import uploads removed');
      },
    },
  ];
}
