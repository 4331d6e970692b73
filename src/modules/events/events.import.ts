import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { IngestResult } from './events.schemas.ts';

/** Batches of one import in flight at once: one committing while the next is read. */
const PIPELINE_DEPTH = 2;
/** Rows read between two turns of the event loop (a fraction of a millisecond of parsing). */
const YIELD_EVERY = 16;

/**
 * Imports of events and profiles from CSV or NDJSON files. Streaming: a file of any size is read line by line and
 * sent in batches through the same ingestion as the tracking API, so identity resolution, dedup and validation
 * are the same. Idempotent: a row without a messageId gets one derived from its content and line number, so a
 * second run adds nothing. Resumable: after each committed batch the line reached is written to a checkpoint
 * next to the file; a new run of the same, unchanged file starts after it.
 */
export type ImportKind = 'events' | 'profiles';

export interface ImportOptions {
  kind: ImportKind;
  file: string;
  format?: 'csv' | 'ndjson';
  batchSize?: number;
  /** header → field, e.g. { Email: 'email', 'Card no': 'card' } */
  mapping?: Record<string, string>;
  rejectsFile?: string;
  resume?: boolean;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportSummary {
  rows: number;
  accepted: number;
  rejected: number;
  skippedByCheckpoint: number;
  rejectsFile: string | null;
}

type Ingest = (messages: unknown[]) => Promise<IngestResult>;

const IDENTITY_COLUMNS: Record<string, string> = {
  userid: 'userId',
  user_id: 'userId',
  anonymousid: 'anonymousId',
  anonymous_id: 'anonymousId',
  messageid: 'messageId',
  message_id: 'messageId',
  type: 'type',
  event: 'event',
  name: 'name',
  timestamp: 'timestamp',
  channel: 'channel',
};
const TRAIT_IDENTIFIERS = new Set(['email', 'phone', 'card']);
/** In a profiles file only these columns describe the call; everything else (name too) describes the person. */
const PROFILE_MESSAGE_COLUMNS = new Set([
  'userid',
  'user_id',
  'anonymousid',
  'anonymous_id',
  'messageid',
  'message_id',
  'timestamp',
]);

/** One CSV row as a tracking message: known columns by name, `traits.x` and `properties.x`, the rest as properties (events) or traits (profiles). */
export function rowToMessage(
  kind: ImportKind,
  row: Record<string, string>,
  mapping: Record<string, string>,
): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  const traits: Record<string, unknown> = {};
  const properties: Record<string, unknown> = {};
  const consent: Record<string, unknown>[] = [];
  let consentAt: string | undefined;
  let consentWording: string | undefined;
  for (const [header, raw] of Object.entries(row)) {
    if (raw === undefined || raw === '') continue;
    const field = mapping[header] ?? header;
    const lower = field.toLowerCase();
    const consentColumn = /^consent\.([a-z]+)\.([a-z][a-z0-9_]*)$/.exec(lower);
    if (consentColumn) {
      consent.push({ channel: consentColumn[1], purpose: consentColumn[2], action: consentAction(raw) });
    } else if (lower === 'consent.at') consentAt = raw;
    else if (lower === 'consent.wording') consentWording = raw;
    else if (field.startsWith('traits.')) traits[field.slice(7)] = raw;
    else if (field.startsWith('properties.')) properties[field.slice(11)] = numberOrText(raw);
    else if (IDENTITY_COLUMNS[lower] && (kind === 'events' || PROFILE_MESSAGE_COLUMNS.has(lower))) {
      message[IDENTITY_COLUMNS[lower] as string] = raw;
    } else if (TRAIT_IDENTIFIERS.has(lower)) traits[lower] = raw;
    else if (kind === 'profiles') traits[field] = raw;
    else properties[field] = numberOrText(raw);
  }
  if (kind === 'profiles') {
    message.type = 'identify';
    message.traits = traits;
  } else {
    message.type ??= 'track';
    if (Object.keys(properties).length) message.properties = properties;
    if (Object.keys(traits).length) message.context = { traits };
  }
  message.context = { ...((message.context as object) ?? {}), channel: (message.channel as string) ?? 'import' };
  if (consent.length > 0) {
    // The consent module checks these like any `context.consent` (a bad value refuses the line, by number).
    (message.context as Record<string, unknown>).consent = consent.map((st) => ({
      ...st,
      source: 'import',
      ...(consentAt ? { at: isoOrRaw(consentAt) } : {}),
      ...(consentWording ? { wordingVersion: consentWording } : {}),
    }));
  }
  delete message.channel;
  return message;
}

const GRANT = new Set(['yes', 'y', 'true', '1', 'grant', 'granted', 'opt-in', 'да', 'д']);
const REVOKE = new Set(['no', 'n', 'false', '0', 'revoke', 'revoked', 'opt-out', 'нет', 'н']);

/** A consent cell as an action; anything else is passed on as it is and refused with the line's number. */
function consentAction(raw: string): string {
  const v = raw.trim().toLowerCase();
  return GRANT.has(v) ? 'grant' : REVOKE.has(v) ? 'revoke' : raw;
}

/** `2024-05-01` or `2024-05-01 10:00` as an ISO time with offset; a value that is not a date is left to fail checks. */
function isoOrRaw(raw: string): string {
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? raw : d.toISOString();
}

function numberOrText(raw: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(raw) && raw.length < 16 ? Number(raw) : raw;
}

interface Checkpoint {
  size: number;
  mtimeMs: number;
  line: number;
}

export interface ImportProgress {
  bytes: number;
  totalBytes: number;
  rows: number;
  accepted: number;
  rejected: number;
}

export interface StreamImportOptions {
  kind: ImportKind;
  format: 'csv' | 'ndjson';
  input: Readable;
  /** For progress: the input's size in bytes, when known. */
  totalBytes: number;
  batchSize?: number;
  mapping?: Record<string, string>;
  /** Lines up to this one were committed by an earlier run: they are counted, not sent again. */
  startAfter?: number;
  /** Called for each refused line, in line order, before the checkpoint that passes it. */
  onReject: (line: number, code: string, message: string) => void | Promise<void>;
  /** Called after each committed batch with the last line it held: the place to resume from. */
  onCheckpoint?: (line: number, progress: ImportProgress) => void | Promise<void>;
  onProgress?: (progress: ImportProgress) => void;
}

/**
 * The core of every import: reads a CSV or NDJSON stream row by row and sends it in batches through `ingest`.
 * The caller decides where rejects and checkpoints go (files next to the input for the command line, tables
 * for uploads from the console).
 */
export async function importStream(
  ingest: Ingest,
  options: StreamImportOptions,
): Promise<Omit<ImportSummary, 'rejectsFile'>> {
  const { kind, input } = options;
  const batchSize = options.batchSize ?? 500;
  const startAfter = options.startAfter ?? 0;
  let bytes = 0;
  input.on('data', (chunk: Buffer | string) => {
    bytes += chunk.length;
  });
  const summary = { rows: 0, accepted: 0, rejected: 0, skippedByCheckpoint: 0 };
  const progress = (): ImportProgress => ({
    bytes,
    totalBytes: options.totalBytes,
    rows: summary.rows,
    accepted: summary.accepted,
    rejected: summary.rejected,
  });
  // Two batches in flight: the next one is read and parsed while the previous commits. Their outcomes are
  // applied strictly in file order, so rejects come out in line order and a checkpoint never passes a batch
  // that has not committed.
  let pending: { line: number; message: unknown }[] = [];
  let early: { line: number; code: string; message: string }[] = [];
  let lastLine = 0;
  let settled: Promise<void> = Promise.resolve();
  const inFlight: Promise<void>[] = [];
  const cut = async () => {
    if (pending.length === 0 && early.length === 0) return;
    const batch = pending;
    const refused = early;
    const upTo = lastLine;
    pending = [];
    early = [];
    const ingested = batch.length
      ? ingest(batch.map((p) => p.message))
      : Promise.resolve<IngestResult>({ success: true, accepted: 0, rejected: [] });
    const previous = settled;
    settled = (async () => {
      const result = await ingested;
      await previous;
      summary.accepted += result.accepted;
      const rejects = [
        ...refused,
        ...result.rejected.map((r) => ({ line: batch[r.index]?.line ?? 0, code: r.code, message: r.message })),
      ].sort((a, b) => a.line - b.line);
      for (const r of rejects) {
        summary.rejected++;
        await options.onReject(r.line, r.code, r.message);
      }
      await options.onCheckpoint?.(upTo, progress());
      options.onProgress?.(progress());
    })();
    // Awaited below in order; this only keeps a failure of a later batch from going unhandled meanwhile.
    settled.catch(() => {});
    inFlight.push(settled);
    if (inFlight.length >= PIPELINE_DEPTH) await inFlight.shift();
  };
  const add = async (
    line: number,
    text: string | (() => string),
    message: Record<string, unknown> | null,
    error?: string,
  ) => {
    summary.rows++;
    // A parsed chunk of the file is handed over record by record in microtasks: without a turn of the event loop
    // now and then, the replies to the batch being written would wait until the whole chunk is parsed.
    if (summary.rows % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    if (line <= startAfter) {
      summary.skippedByCheckpoint++;
      return;
    }
    lastLine = line;
    if (!message) {
      early.push({ line, code: 'UNREADABLE_LINE', message: error ?? 'The line could not be read.' });
      return;
    }
    // The same row of the same file always gets the same id, so importing twice adds nothing.
    if (message.messageId === undefined || message.messageId === null) {
      const content = typeof text === 'function' ? text() : text;
      message.messageId = `import-${createHash('sha256').update(`${line}\u0000${content}`).digest('hex').slice(0, 32)}`;
    }
    pending.push({ line, message });
    if (pending.length >= batchSize) await cut();
  };
  const flush = async () => {
    await cut();
    while (inFlight.length) await inFlight.shift();
  };

  if (options.format === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      if (!text.trim()) continue;
      let message: Record<string, unknown> | null = null;
      let error: string | undefined;
      try {
        const parsed = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
          message = kind === 'profiles' ? { ...parsed, type: 'identify' } : parsed;
        else error = 'Each line must be one JSON object.';
      } catch {
        error = 'The line is not valid JSON.';
      }
      await add(line, text, message, error);
    }
  } else {
    const parser = input.pipe(
      parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: true }),
    );
    for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      // The row's text is needed only to derive a message id for a row without one.
      await add(
        record.info.lines,
        () => JSON.stringify(record.record),
        rowToMessage(kind, record.record, options.mapping ?? {}),
      );
    }
  }
  await flush();
  options.onProgress?.({ ...progress(), bytes: options.totalBytes });
  return summary;
}

export function formatOf(fileName: string): 'csv' | 'ndjson' {
  return /\.(nd)?jsonl?$/i.test(fileName) ? 'ndjson' : 'csv';
}

/** The command line's import: a file, with its checkpoint and reject file next to it. */
export async function importFile(ingest: Ingest, options: ImportOptions): Promise<ImportSummary> {
  const { file } = options;
  if (!existsSync(file)) throw new Error(`No file at ${file}`);
  const stat = statSync(file);
  const checkpointFile = `${file}.rapport-import.json`;
  const rejectsFile = options.rejectsFile ?? `${file}.rejects.csv`;
  let startAfter = 0;
  if (options.resume !== false && existsSync(checkpointFile)) {
    const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as Checkpoint;
    if (saved.size === stat.size && saved.mtimeMs === stat.mtimeMs) startAfter = saved.line;
  }
  let rejectsOpen = false;
  const summary = await importStream(ingest, {
    kind: options.kind,
    format: options.format ?? formatOf(file),
    input: createReadStream(file),
    totalBytes: stat.size,
    batchSize: options.batchSize,
    mapping: options.mapping,
    startAfter,
    onReject: (line, code, message) => {
      if (!rejectsOpen) {
        writeFileSync(rejectsFile, 'line,code,message\n');
        rejectsOpen = true;
      }
      appendFileSync(rejectsFile, `${line},${code},"${message.replaceAll('"', '""')}"\n`);
    },
    onCheckpoint: (line) =>
      writeFileSync(
        checkpointFile,
        JSON.stringify({ size: stat.size, mtimeMs: stat.mtimeMs, line } satisfies Checkpoint),
      ),
    onProgress: options.onProgress,
  });
  return { ...summary, rejectsFile: rejectsOpen ? rejectsFile : null };
}
