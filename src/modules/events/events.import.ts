import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import type { IngestResult } from './events.schemas.ts';

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
  onProgress?: (progress: {
    bytes: number;
    totalBytes: number;
    rows: number;
    accepted: number;
    rejected: number;
  }) => void;
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
  for (const [header, raw] of Object.entries(row)) {
    if (raw === undefined || raw === '') continue;
    const field = mapping[header] ?? header;
    const lower = field.toLowerCase();
    if (field.startsWith('traits.')) traits[field.slice(7)] = raw;
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
  delete message.channel;
  return message;
}

function numberOrText(raw: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(raw) && raw.length < 16 ? Number(raw) : raw;
}

interface Checkpoint {
  size: number;
  mtimeMs: number;
  line: number;
}

export async function importFile(ingest: Ingest, options: ImportOptions): Promise<ImportSummary> {
  const { file, kind } = options;
  if (!existsSync(file)) throw new Error(`No file at ${file}`);
  const stat = statSync(file);
  const format = options.format ?? (/\.(nd)?jsonl?$/i.test(file) ? 'ndjson' : 'csv');
  const batchSize = options.batchSize ?? 500;
  const checkpointFile = `${file}.rapport-import.json`;
  const rejectsFile = options.rejectsFile ?? `${file}.rejects.csv`;
  let startAfter = 0;
  if (options.resume !== false && existsSync(checkpointFile)) {
    const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as Checkpoint;
    if (saved.size === stat.size && saved.mtimeMs === stat.mtimeMs) startAfter = saved.line;
  }

  const input = createReadStream(file);
  let bytes = 0;
  input.on('data', (chunk) => {
    bytes += chunk.length;
  });
  const summary: ImportSummary = { rows: 0, accepted: 0, rejected: 0, skippedByCheckpoint: 0, rejectsFile: null };
  let pending: { line: number; message: unknown }[] = [];
  let rejectsOpen = false;
  const reject = (line: number, code: string, message: string) => {
    if (!rejectsOpen) {
      writeFileSync(rejectsFile, 'line,code,message\n');
      rejectsOpen = true;
      summary.rejectsFile = rejectsFile;
    }
    appendFileSync(rejectsFile, `${line},${code},"${message.replaceAll('"', '""')}"\n`);
    summary.rejected++;
  };
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const result = await ingest(batch.map((p) => p.message));
    summary.accepted += result.accepted;
    for (const r of result.rejected) reject(batch[r.index]?.line ?? 0, r.code, r.message);
    const last = batch.at(-1)?.line ?? 0;
    writeFileSync(
      checkpointFile,
      JSON.stringify({ size: stat.size, mtimeMs: stat.mtimeMs, line: last } satisfies Checkpoint),
    );
    options.onProgress?.({
      bytes,
      totalBytes: stat.size,
      rows: summary.rows,
      accepted: summary.accepted,
      rejected: summary.rejected,
    });
  };
  const add = async (line: number, text: string, message: Record<string, unknown> | null, error?: string) => {
    summary.rows++;
    if (line <= startAfter) {
      summary.skippedByCheckpoint++;
      return;
    }
    if (!message) {
      reject(line, 'UNREADABLE_LINE', error ?? 'The line could not be read.');
      return;
    }
    // The same row of the same file always gets the same id, so importing twice adds nothing.
    message.messageId ??= `import-${createHash('sha256').update(`${line}\u0000${text}`).digest('hex').slice(0, 32)}`;
    pending.push({ line, message });
    if (pending.length >= batchSize) await flush();
  };

  if (format === 'ndjson') {
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
      const text = JSON.stringify(record.record);
      await add(record.info.lines, text, rowToMessage(kind, record.record, options.mapping ?? {}));
    }
  }
  await flush();
  options.onProgress?.({
    bytes: stat.size,
    totalBytes: stat.size,
    rows: summary.rows,
    accepted: summary.accepted,
    rejected: summary.rejected,
  });
  return summary;
}
