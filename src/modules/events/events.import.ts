import { createHash } from 'node:crypto';
import {
  appendFileSync,
  createReadStream,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { IngestResult } from './events.schemas.ts';

/**
 * Rows an import hands over at once, by default. Each batch is one or two transactions of the bulk path: fewer,
 * larger ones cost PostgreSQL fewer statements a row (bench/import, session 11: 65k rows/s at 1,000 a batch, 72k at
 * 4,000, same minutes). The bulk path keeps each transaction within BULK_LOCK_BUDGET identifiers whatever this is.
 */
export const DEFAULT_BATCH = 4_000;
/** The most rows a batch may have (memory: a batch in flight holds its rows). */
export const MAX_BATCH = 50_000;

/** Batches of one import in flight at once: one committing while the next is read. */
const PIPELINE_DEPTH = 2;
/** Rows read between two turns of the event loop (a fraction of a millisecond of parsing). */
const YIELD_EVERY = 16;
/** Bytes the command line reads at once (about 180 rows of a typical file: a tenth of a millisecond of parsing). */
const READ_CHUNK = 16 * 1024;

/**
 * Imports of events and profiles from CSV or NDJSON files. Streaming: a file of any size is read line by line and
 * sent in batches through the same ingestion as the tracking API, so identity resolution, dedup and validation
 * are the same. Idempotent: a row without a messageId gets one derived from its content and line number, so a
 * second run adds nothing. Resumable: the line reached by the committed batches is kept as a checkpoint (next to
 * the file, or in the upload's row); a new run of the same, unchanged file starts after it.
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

/** What one column of a file does, worked out once per file from its header and the mapping. */
type Column =
  | { role: 'consent'; channel: string; purpose: string }
  | { role: 'consentAt' | 'consentWording' }
  | { role: 'trait' | 'property' | 'message'; name: string };

function columnOf(kind: ImportKind, header: string, mapping: Record<string, string>): Column {
  const field = mapping[header] ?? header;
  const lower = field.toLowerCase();
  const consentColumn = /^consent\.([a-z]+)\.([a-z][a-z0-9_]*)$/.exec(lower);
  if (consentColumn)
    return { role: 'consent', channel: consentColumn[1] as string, purpose: consentColumn[2] as string };
  if (lower === 'consent.at') return { role: 'consentAt' };
  if (lower === 'consent.wording') return { role: 'consentWording' };
  if (field.startsWith('traits.')) return { role: 'trait', name: field.slice(7) };
  if (field.startsWith('properties.')) return { role: 'property', name: field.slice(11) };
  if (IDENTITY_COLUMNS[lower] && (kind === 'events' || PROFILE_MESSAGE_COLUMNS.has(lower)))
    return { role: 'message', name: IDENTITY_COLUMNS[lower] as string };
  if (TRAIT_IDENTIFIERS.has(lower)) return { role: 'trait', name: lower };
  return kind === 'profiles' ? { role: 'trait', name: field } : { role: 'property', name: field };
}

/**
 * A file's rows as tracking messages, for the header it starts with: each column's role is worked out once, and a
 * row (its fields as an array) is read as a record keyed by the header would be — the keys in the order they first
 * appear, a repeated header's value from its last column that the row has, a column the row lacks absent.
 */
export class RowReader {
  readonly #kind: ImportKind;
  readonly #headers: string[];
  /** Per distinct header, its columns' positions, last first. */
  readonly #positions: number[][];
  readonly #columns: Column[];

  constructor(kind: ImportKind, header: readonly string[], mapping: Record<string, string>) {
    this.#kind = kind;
    const at = new Map<string, number[]>();
    header.forEach((name, i) => {
      const list = at.get(name);
      if (list) list.unshift(i);
      else at.set(name, [i]);
    });
    this.#headers = [...at.keys()];
    this.#positions = [...at.values()];
    this.#columns = this.#headers.map((h) => columnOf(kind, h, mapping));
  }

  #value(values: readonly string[], n: number): string | undefined {
    for (const i of this.#positions[n] as number[]) if (i < values.length) return values[i];
    return undefined;
  }

  /** The row as a record keyed by the header (what a row's derived message id is computed over). */
  record(values: readonly string[]): Record<string, string> {
    const record: Record<string, string> = {};
    for (let n = 0; n < this.#headers.length; n++) {
      const v = this.#value(values, n);
      if (v !== undefined) record[this.#headers[n] as string] = v;
    }
    return record;
  }

  /** The row as a tracking message: known columns by name, `traits.x` and `properties.x`, the rest as properties (events) or traits (profiles). */
  message(values: readonly string[]): Record<string, unknown> {
    const message: Record<string, unknown> = {};
    let traits: Record<string, unknown> | undefined;
    let properties: Record<string, unknown> | undefined;
    let consent: Record<string, unknown>[] | undefined;
    let consentAt: string | undefined;
    let consentWording: string | undefined;
    for (let n = 0; n < this.#columns.length; n++) {
      const raw = this.#value(values, n);
      if (raw === undefined || raw === '') continue;
      const column = this.#columns[n] as Column;
      switch (column.role) {
        case 'consent':
          consent ??= [];
          consent.push({ channel: column.channel, purpose: column.purpose, action: consentAction(raw) });
          break;
        case 'consentAt':
          consentAt = raw;
          break;
        case 'consentWording':
          consentWording = raw;
          break;
        case 'trait':
          traits ??= {};
          traits[column.name] = raw;
          break;
        case 'property':
          properties ??= {};
          properties[column.name] = numberOrText(raw);
          break;
        case 'message':
          message[column.name] = raw;
      }
    }
    const channel = (message.channel as string | undefined) ?? 'import';
    delete message.channel;
    if (this.#kind === 'profiles') {
      message.type = 'identify';
      message.traits = traits ?? {};
      message.context = { channel };
    } else {
      message.type ??= 'track';
      if (properties) message.properties = properties;
      message.context = traits ? { traits, channel } : { channel };
    }
    if (consent) {
      // The consent module checks these like any `context.consent` (a bad value refuses the line, by number).
      (message.context as Record<string, unknown>).consent = consent.map((st) => ({
        ...st,
        source: 'import',
        ...(consentAt ? { at: isoOrRaw(consentAt) } : {}),
        ...(consentWording ? { wordingVersion: consentWording } : {}),
      }));
    }
    return message;
  }
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

/** A checkpoint file as written by importFile, or null when it cannot be read (then the import starts over). */
function readCheckpoint(file: string): Checkpoint | null {
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<Checkpoint>;
    return typeof saved.size === 'number' && typeof saved.mtimeMs === 'number' && Number.isInteger(saved.line)
      ? (saved as Checkpoint)
      : null;
  } catch {
    return null;
  }
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
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
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
  // The batch being read: its messages and, in parallel, their lines.
  let pending: unknown[] = [];
  let pendingLines: number[] = [];
  let early: { line: number; code: string; message: string }[] = [];
  let lastLine = 0;
  let settled: Promise<void> = Promise.resolve();
  const inFlight: Promise<void>[] = [];
  const cut = async () => {
    if (pending.length === 0 && early.length === 0) return;
    const batch = pending;
    const lines = pendingLines;
    const refused = early;
    const upTo = lastLine;
    pending = [];
    pendingLines = [];
    early = [];
    const ingested = batch.length
      ? ingest(batch)
      : Promise.resolve<IngestResult>({ success: true, accepted: 0, rejected: [] });
    const previous = settled;
    settled = (async () => {
      const result = await ingested;
      await previous;
      summary.accepted += result.accepted;
      const rejects = [
        ...refused,
        ...result.rejected.map((r) => ({ line: lines[r.index] ?? 0, code: r.code, message: r.message })),
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
  // Synchronous but for a turn of the event loop now and then and the cut of a full batch: a promise per row cost
  // more than reading the row. The caller awaits what it returns, if anything. `text` is the row's content, read
  // only to derive a message id for a message without one (so a row with one may pass anything).
  const add = (
    line: number,
    text: string | (() => string),
    message: Record<string, unknown> | null,
    error?: string,
  ): Promise<void> | undefined => {
    summary.rows++;
    const full = take(line, text, message, error);
    // A parsed chunk of the file is handed over record by record: without a turn of the event loop now and then,
    // the replies to the batch being written would wait until the whole chunk is parsed.
    const turn = summary.rows % YIELD_EVERY === 0;
    if (full) return turn ? nextTurn().then(cut) : cut();
    return turn ? nextTurn() : undefined;
  };
  /** Files a row under its batch; true when the batch is full. */
  const take = (
    line: number,
    text: string | (() => string),
    message: Record<string, unknown> | null,
    error?: string,
  ): boolean => {
    if (line <= startAfter) {
      summary.skippedByCheckpoint++;
      return false;
    }
    lastLine = line;
    if (!message) {
      early.push({ line, code: 'UNREADABLE_LINE', message: error ?? 'The line could not be read.' });
      return false;
    }
    // The same row of the same file always gets the same id, so importing twice adds nothing.
    if (message.messageId === undefined || message.messageId === null) {
      const content = typeof text === 'function' ? text() : text;
      message.messageId = `import-${createHash('sha256').update(`${line}\u0000${content}`).digest('hex').slice(0, 32)}`;
    }
    pending.push(message);
    pendingLines.push(line);
    return pending.length >= batchSize;
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
      const wait = add(line, text, message, error);
      if (wait) await wait;
    }
  } else {
    // Rows as arrays: an object per row keyed by the header costs more than the rest of reading it.
    const parser = input.pipe(
      parse({ bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: true }),
    );
    let reader: RowReader | undefined;
    // Pulled from the parser as it has them, rather than through its async iterator: a promise per row otherwise.
    // A failure is read from `parser.errored` below; the listener only keeps it from being thrown meanwhile.
    parser.on('error', () => {});
    for (;;) {
      const item = parser.read() as { record: string[]; info: { lines: number } } | null;
      if (item === null) {
        if (parser.readableEnded || parser.destroyed) break;
        await readableOrEnd(parser);
        continue;
      }
      const { record, info } = item;
      if (!reader) {
        reader = new RowReader(kind, record, options.mapping ?? {});
        continue;
      }
      const row = reader;
      const message = row.message(record);
      // The row keyed by its header is needed only to derive a message id for a row without one.
      const wait = add(
        info.lines,
        message.messageId === undefined ? () => JSON.stringify(row.record(record)) : '',
        message,
      );
      if (wait) await wait;
    }
    if (parser.errored) throw parser.errored;
  }
  await flush();
  options.onProgress?.({ ...progress(), bytes: options.totalBytes });
  return summary;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Until the stream has something to read, has ended or has failed (read its `errored` then). */
function readableOrEnd(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('readable', done);
      stream.off('end', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('readable', done);
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

export function formatOf(fileName: string): 'csv' | 'ndjson' {
  return /\.(nd)?jsonl?$/i.test(fileName) ? 'ndjson' : 'csv';
}

/** Checkpoints of the command line's import are written at most this often (and when the import ends or fails). */
const CHECKPOINT_EVERY_MS = 1_000;

/**
 * The command line's import: a file, with its checkpoint and reject file next to it. The checkpoint is replaced
 * atomically (a new file renamed over the old), at most once a second and once more when the import ends or fails:
 * after a kill the next run may send again up to a second of rows, which their message ids make add nothing. A
 * resumed run keeps the rejects of the lines before its checkpoint and lists the rest afresh.
 */
export async function importFile(ingest: Ingest, options: ImportOptions): Promise<ImportSummary> {
  const { file } = options;
  if (!existsSync(file)) throw new Error(`No file at ${file}`);
  const stat = statSync(file);
  const checkpointFile = `${file}.rapport-import.json`;
  const rejectsFile = options.rejectsFile ?? `${file}.rejects.csv`;
  let startAfter = 0;
  if (options.resume !== false && existsSync(checkpointFile)) {
    const saved = readCheckpoint(checkpointFile);
    if (saved && saved.size === stat.size && saved.mtimeMs === stat.mtimeMs) startAfter = saved.line;
  }
  let rejectsOpen = false;
  if (startAfter > 0 && existsSync(rejectsFile)) {
    const [header, ...lines] = readFileSync(rejectsFile, 'utf8').split('\n');
    const before = lines.filter((l) => l !== '' && Number(l.slice(0, l.indexOf(','))) <= startAfter);
    writeFileSync(rejectsFile, [header, ...before, ''].join('\n'));
    rejectsOpen = true;
  }
  let unsaved: number | null = null;
  let savedAt = 0;
  const save = (line: number) => {
    const temporary = `${checkpointFile}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ size: stat.size, mtimeMs: stat.mtimeMs, line } satisfies Checkpoint));
    renameSync(temporary, checkpointFile);
    savedAt = Date.now();
    unsaved = null;
  };
  let summary: Omit<ImportSummary, 'rejectsFile'>;
  try {
    summary = await importStream(ingest, {
      kind: options.kind,
      format: options.format ?? formatOf(file),
      // Chunks of 16 KB: the parser reads a chunk at once, and while it does, a batch committing meanwhile waits.
      input: createReadStream(file, { highWaterMark: READ_CHUNK }),
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
      onCheckpoint: (line) => {
        if (Date.now() - savedAt >= CHECKPOINT_EVERY_MS) save(line);
        else unsaved = line;
      },
      onProgress: options.onProgress,
    });
  } finally {
    if (unsaved !== null) save(unsaved);
  }
  return { ...summary, rejectsFile: rejectsOpen ? rejectsFile : null };
}
