import { createCipheriv } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { codeFromBytes, normalizeCode } from '../../platform/codes/alphabet.ts';
import type { CodeMac } from '../../platform/codes/hash.ts';
import type { Database } from '../../platform/db.ts';
import * as repo from './codes.repo.ts';
import type { ExportFormat } from './codes.schemas.ts';

/**
 * Bulk work on codes: generation, import and re-export, streamed in chunks so that a batch of any size never sits
 * in memory. Hashes go in by binary COPY, each chunk sorted by hash (inserting into the unique index in key order
 * is what keeps a 10-million-code batch fast), each chunk committed on its own. The clear codes of a chunk are
 * written out only after its COPY committed, so the list handed to the printer is exactly what is stored.
 *
 * Generated codes come from a CSPRNG: AES-256-CTR keyed by a random 256-bit seed (NIST's CTR_DRBG construction),
 * one keystream per 2^20 positions. The seed is kept sealed, so the owner can re-export the same codes; nothing
 * else about a clear code is stored.
 */

/** Positions per keystream: position p is code p mod 2^20 of stream ⌊p / 2^20⌋. */
const STREAM_CODES = 1 << 20;
/** Codes per COPY: 2^20 (≈ 90 MB of working memory at most). */
export const CHUNK_CODES = STREAM_CODES;
const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const ROW_BYTES = 2 + (4 + 8) + (4 + 16) + (4 + 16);
const UNIQUE_VIOLATION = '23505';
const DEADLOCK = '40P01';

/** Where chunks of hashed codes are copied to: a connection of its own on PostgreSQL, the one session on PGlite. */
export interface BulkTarget {
  copy(rows: Buffer): Promise<void>;
  close(): Promise<void>;
}

const COPY_SQL = 'copy codes (hash, workspace_id, batch_id) from stdin with (format binary)';

/** Connections for bulk loads: `count` of them on PostgreSQL, the one session on PGlite. */
export async function openBulkTargets(database: Database, count: number): Promise<BulkTarget[]> {
  if (database.kind === 'pglite') return [await openBulkTarget(database)];
  const targets: BulkTarget[] = [];
  try {
    for (let i = 0; i < count; i++) targets.push(await openBulkTarget(database));
  } catch (error) {
    await Promise.all(targets.map((t) => t.close()));
    throw error;
  }
  return targets;
}

export async function openBulkTarget(database: Database): Promise<BulkTarget> {
  if (database.kind === 'pglite' && database.pglite) {
    const pglite = database.pglite;
    return {
      async copy(rows) {
        const blob = new Blob([COPY_HEADER, rows, COPY_TRAILER]);
        await pglite.query(COPY_SQL.replace('stdin', "'/dev/blob'"), [], { blob });
      },
      async close() {},
    };
  }
  const client = new pg.Client({ connectionString: database.connectionString });
  client.on('error', () => {});
  await client.connect();
  return {
    async copy(rows) {
      const stream = client.query(copyFrom(COPY_SQL));
      stream.write(COPY_HEADER);
      stream.write(rows);
      stream.end(COPY_TRAILER);
      await once(stream, 'finish');
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

function uuidBytes(id: string): Buffer {
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

/** The codes of a generated batch, position by position: deterministic from the seed, so re-export repeats them. */
export class CodeStream {
  readonly #seed: Buffer;
  readonly #length: number;
  #stream = -1;
  #cipher: ReturnType<typeof createCipheriv> | undefined;
  #bytes: Uint8Array = new Uint8Array(0);
  #offset = 0;
  position = 0;

  constructor(seed: Buffer, length: number) {
    this.#seed = seed;
    this.#length = length;
  }

  /** Writes the code at `this.position` into `out` (from `at`) and moves on. */
  next(out: Uint8Array, at = 0) {
    const stream = Math.floor(this.position / STREAM_CODES);
    if (stream !== this.#stream) {
      const iv = Buffer.alloc(16);
      iv.writeUInt32BE(stream, 0);
      this.#cipher = createCipheriv('aes-256-ctr', this.#seed, iv);
      this.#stream = stream;
      this.#bytes = new Uint8Array(0);
      this.#offset = 0;
    }
    for (;;) {
      const next = codeFromBytes(this.#bytes, this.#offset, this.#length, out, at);
      if (next >= 0) {
        this.#offset = next;
        break;
      }
      // Out of keystream: keep what is left and append the next 64 KiB (CTR is a stream; the cut changes nothing).
      const rest = this.#bytes.subarray(this.#offset);
      const more = (this.#cipher as ReturnType<typeof createCipheriv>).update(ZEROES);
      const joined = new Uint8Array(rest.length + more.length);
      joined.set(rest, 0);
      joined.set(more, rest.length);
      this.#bytes = joined;
      this.#offset = 0;
    }
    this.position++;
  }

  /** Moves to `position` (from the start of its keystream). */
  seek(position: number) {
    if (position === this.position) return;
    const scratch = new Uint8Array(this.#length);
    if (Math.floor(position / STREAM_CODES) !== this.#stream || position < this.position) {
      this.#stream = -1;
      this.position = Math.floor(position / STREAM_CODES) * STREAM_CODES;
    }
    while (this.position < position) this.next(scratch);
  }
}
const ZEROES = Buffer.alloc(65_536);

/** A chunk of codes: their ASCII text (fixed width for generated codes) and 64-bit hashes, in position order. */
interface Chunk {
  firstPosition: number;
  count: number;
  length: number;
  text: Uint8Array;
  hashes: BigInt64Array;
  /** Indexes within the chunk not to store or print (a duplicate, or a hash taken by an earlier code). */
  dropped: Set<number>;
}

/**
 * Generates a chunk in slices, yielding to the event loop between them: the previous chunk's COPY is being
 * written to the socket meanwhile, and a thread busy for a second would starve PostgreSQL of it.
 */
async function generateChunk(stream: CodeStream, hasher: CodeMac, length: number, count: number): Promise<Chunk> {
  const firstPosition = stream.position;
  const text = new Uint8Array(count * length);
  const hashes = new BigInt64Array(count);
  const words = new Int32Array(hashes.buffer);
  for (let from = 0; from < count; from += SLICE_CODES) {
    if (from > 0) await new Promise((resolve) => setImmediate(resolve));
    const to = Math.min(count, from + SLICE_CODES);
    for (let i = from; i < to; i++) stream.next(text, i * length);
    hasher.hashFixed(text, length, to - from, words.subarray(2 * from, 2 * to), from * length);
  }
  return { firstPosition, count, length, text, hashes, dropped: new Set() };
}
/** Codes generated and hashed between two turns of the event loop. */
const SLICE_CODES = 16_384;

/** Whether sorted element i equals element i − 1, compared as 32-bit words (no BigInt per element). */
function sameAsPrevious(words: Int32Array, i: number) {
  return words[2 * i] === words[2 * i - 2] && words[2 * i + 1] === words[2 * i - 1];
}

/** Marks every repeated hash of the chunk after its first occurrence. */
function dropRepeats(chunk: Chunk) {
  const sorted = chunk.hashes.slice().sort();
  const words = new Int32Array(sorted.buffer, sorted.byteOffset, sorted.length * 2);
  const repeated = new Set<bigint>();
  for (let i = 1; i < sorted.length; i++) if (sameAsPrevious(words, i)) repeated.add(sorted[i] as bigint);
  if (repeated.size === 0) return sorted;
  const seen = new Set<bigint>();
  chunk.hashes.forEach((h, i) => {
    if (!repeated.has(h)) return;
    if (seen.has(h)) chunk.dropped.add(i);
    else seen.add(h);
  });
  return sorted;
}

/** Binary COPY rows of the chunk's kept hashes, in hash order. */
function copyRows(sorted: BigInt64Array, exclude: Set<bigint>, workspace: Buffer, batch: Buffer): Buffer {
  const words = new Int32Array(sorted.buffer, sorted.byteOffset, sorted.length * 2);
  // Every row is the same but for its 8 hash bytes: a template row is copied in, then the hash written into it.
  const template = Buffer.alloc(ROW_BYTES);
  template.writeInt16BE(3, 0);
  template.writeInt32BE(8, 2);
  template.writeInt32BE(16, 14);
  workspace.copy(template, 18);
  template.writeInt32BE(16, 34);
  batch.copy(template, 38);
  const out = Buffer.allocUnsafe(sorted.length * ROW_BYTES);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let o = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sameAsPrevious(words, i)) continue;
    if (exclude.size > 0 && exclude.has(sorted[i] as bigint)) continue;
    out.set(template, o);
    view.setInt32(o + 6, words[2 * i + 1] as number);
    view.setInt32(o + 10, words[2 * i] as number);
    o += ROW_BYTES;
  }
  return out.subarray(0, o);
}

export interface LoadContext {
  /** Connections to copy on: two on PostgreSQL, so that index maintenance runs on two cores at once. */
  targets: BulkTarget[];
  database: Database;
  workspaceId: string;
  batchId: string;
}

/**
 * Copies a chunk's hashes. A hash already in the table (another code, any batch, any workspace) fails the COPY;
 * then the taken ones are found, dropped from the chunk, and the rest copied again.
 */
async function loadChunk(ctx: LoadContext, target: BulkTarget, chunk: Chunk, sorted: BigInt64Array) {
  const workspace = uuidBytes(ctx.workspaceId);
  const batch = uuidBytes(ctx.batchId);
  // Hashes taken by codes stored earlier (repeats within the chunk are skipped by copyRows, first one kept).
  const exclude = new Set<bigint>();
  let deadlocks = 0;
  let fruitless = 0;
  for (;;) {
    try {
      await target.copy(copyRows(sorted, exclude, workspace, batch));
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Two chunks copied at once that share a hash can deadlock on it (one is aborted): copy again.
      if (code === DEADLOCK && ++deadlocks <= 5) continue;
      if (code !== UNIQUE_VIOLATION) throw error;
      const candidates = [...new Set(sorted)].filter((h) => !exclude.has(h)).map(String);
      const taken = await repo.takenHashes(ctx.database.db, candidates);
      const before = exclude.size;
      chunk.hashes.forEach((h, i) => {
        if (taken.has(h.toString())) {
          exclude.add(h);
          chunk.dropped.add(i);
        }
      });
      // A retry that drops newly taken hashes made progress (chunks committed meanwhile on the other connection can
      // take more, as often as there are codes in the chunk); only retries that find nothing new are counted.
      if (exclude.size === before && ++fruitless > 5) throw error;
    }
  }
}

export interface OutputSink {
  out: Writable;
  format: ExportFormat;
}

/** Writes with backpressure; fails when the reader went away (a closed download must stop the generation). */
async function write(out: Writable, data: Uint8Array) {
  if (out.destroyed || out.writableEnded) throw new Error('the output was closed before the codes were written');
  if (out.write(data)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the output was closed before the codes were written'));
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}

function headerOf(format: ExportFormat) {
  return format === 'csv' ? Buffer.from('code\n') : Buffer.alloc(0);
}

/** "7KQ4-M2XD-9RPT\n" for each kept code of the chunk. */
function printable(chunk: Chunk): Buffer {
  const L = chunk.length;
  const width = L + Math.floor((L - 1) / 4) + 1;
  const out = Buffer.allocUnsafe(chunk.count * width);
  let o = 0;
  for (let i = 0; i < chunk.count; i++) {
    if (chunk.dropped.has(i)) continue;
    const base = i * L;
    for (let j = 0; j < L; j++) {
      if (j > 0 && j % 4 === 0) out[o++] = 45; // '-'
      out[o++] = chunk.text[base + j] as number;
    }
    out[o++] = 10;
  }
  return out.subarray(0, o);
}

export interface GenerationResult {
  loaded: number;
  /** Positions of the stream that are not codes of the batch (repeats and taken hashes): re-export skips them. */
  skipped: string[];
}

/**
 * Generates `count` codes of `length` from `seed` into the batch, writing each committed chunk's clear codes to
 * `sink`. The next chunk is generated while the previous one is being copied, so Node and PostgreSQL work at once.
 */
export async function generateCodes(
  ctx: LoadContext,
  input: {
    seed: Buffer;
    length: number;
    count: number;
    hasher: CodeMac;
    sink: OutputSink;
    onProgress?: (done: number, total: number) => void;
    chunkCodes?: number;
  },
): Promise<GenerationResult> {
  const stream = new CodeStream(input.seed, input.length);
  const chunkCodes = input.chunkCodes ?? CHUNK_CODES;
  const skipped: number[] = [];
  let kept = 0;
  await write(input.sink.out, headerOf(input.sink.format));
  const free = [...ctx.targets];
  const inFlight = new Set<{ expected: number; done: Promise<void> }>();
  const settle = () => Promise.race([...inFlight].map((f) => f.done));
  try {
    for (;;) {
      // What is still missing if the chunks in flight keep all their codes; repeats and taken hashes are made up
      // in a later round.
      let expected = 0;
      for (const f of inFlight) expected += f.expected;
      const need = input.count - kept - expected;
      if (need <= 0) {
        if (inFlight.size === 0) break;
        await settle();
        continue;
      }
      // Generated while earlier chunks are being copied.
      const chunk = await generateChunk(stream, input.hasher, input.length, Math.min(chunkCodes, need));
      const sorted = dropRepeats(chunk);
      while (free.length === 0) await settle();
      const target = free.pop() as BulkTarget;
      const flight = {
        expected: chunk.count - chunk.dropped.size,
        done: (async () => {
          try {
            await loadChunk(ctx, target, chunk, sorted);
          } finally {
            free.push(target);
          }
          for (const i of chunk.dropped) skipped.push(chunk.firstPosition + i);
          kept += chunk.count - chunk.dropped.size;
          await write(input.sink.out, printable(chunk));
          input.onProgress?.(kept, input.count);
        })(),
      };
      inFlight.add(flight);
      flight.done.then(
        () => inFlight.delete(flight),
        () => {}, // a failure stays in the set and is raised by settle()
      );
    }
  } catch (error) {
    // No COPY may still be running when the caller removes the batch's codes.
    await Promise.allSettled([...inFlight].map((f) => f.done));
    throw error;
  }
  return { loaded: kept, skipped: skipped.sort((a, b) => a - b).map(String) };
}

/** The owner's re-export: the same codes, replayed from the sealed seed, skipping the positions that were dropped. */
export async function replayCodes(input: {
  seed: Buffer;
  length: number;
  count: number;
  skipped: Set<number>;
  sink: OutputSink;
}) {
  const stream = new CodeStream(input.seed, input.length);
  await write(input.sink.out, headerOf(input.sink.format));
  const L = input.length;
  const width = L + Math.floor((L - 1) / 4) + 1;
  const code = new Uint8Array(L);
  const block = 65_536;
  let buffer = Buffer.allocUnsafe(block * width);
  let o = 0;
  let emitted = 0;
  while (emitted < input.count) {
    const position = stream.position;
    stream.next(code);
    if (input.skipped.has(position)) continue;
    for (let j = 0; j < L; j++) {
      if (j > 0 && j % 4 === 0) buffer[o++] = 45;
      buffer[o++] = code[j] as number;
    }
    buffer[o++] = 10;
    emitted++;
    if (o + width > buffer.length) {
      await write(input.sink.out, buffer.subarray(0, o));
      buffer = Buffer.allocUnsafe(block * width);
      o = 0;
    }
  }
  if (o > 0) await write(input.sink.out, buffer.subarray(0, o));
  return emitted;
}

export interface ImportOutcome {
  lines: number;
  imported: number;
  rejected: number;
  duplicates: number;
  minLength: number | null;
  maxLength: number | null;
}

/** Codes printed elsewhere: letters and digits only once normalised, 4 to 40 of them. */
export const IMPORTED_CODE = /^[A-Z0-9]{4,40}$/;

function firstField(line: string): string {
  const cell = line.split(/[,;\t]/)[0] ?? '';
  return cell.trim().replace(/^"(.*)"$/, '$1');
}

/**
 * Imports clear codes (CSV or text, the code in the first column; a header line is recognised by not being a
 * code) into the batch as hashes. Repeats within the file and codes already stored anywhere count as duplicates.
 */
export async function importCodes(
  ctx: LoadContext,
  input: { source: Readable; hasher: CodeMac; onProgress?: (lines: number) => void; chunkCodes?: number },
): Promise<ImportOutcome> {
  const outcome: ImportOutcome = {
    lines: 0,
    imported: 0,
    rejected: 0,
    duplicates: 0,
    minLength: null,
    maxLength: null,
  };
  const chunkCodes = input.chunkCodes ?? 262_144;
  let text: string[] = [];
  const flush = async () => {
    if (text.length === 0) return;
    const hashes = new BigInt64Array(text.map((c) => BigInt(input.hasher.hash(c))));
    const chunk: Chunk = {
      firstPosition: 0,
      count: text.length,
      length: 0,
      text: new Uint8Array(0),
      hashes,
      dropped: new Set(),
    };
    const sorted = dropRepeats(chunk);
    await loadChunk(ctx, ctx.targets[0] as BulkTarget, chunk, sorted);
    outcome.duplicates += chunk.dropped.size;
    text.forEach((code, i) => {
      if (chunk.dropped.has(i)) return;
      outcome.imported++;
      outcome.minLength = Math.min(outcome.minLength ?? code.length, code.length);
      outcome.maxLength = Math.max(outcome.maxLength ?? code.length, code.length);
    });
    input.onProgress?.(outcome.lines);
    text = [];
  };
  const lines = createInterface({ input: input.source, crlfDelay: Number.POSITIVE_INFINITY });
  let first = true;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const code = normalizeCode(firstField(line));
    if (first) {
      first = false;
      if (!IMPORTED_CODE.test(code) || code === 'CODE') continue;
    }
    outcome.lines++;
    if (!IMPORTED_CODE.test(code)) {
      outcome.rejected++;
      continue;
    }
    text.push(code);
    if (text.length >= chunkCodes) await flush();
  }
  await flush();
  return outcome;
}
