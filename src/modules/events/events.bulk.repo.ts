import { sql } from 'kysely';
import { stringify as uuidText } from 'uuid';
import type { CopyIn, Db } from '../../platform/db.ts';
import { newIdInto } from '../../platform/ids.ts';
import type { NormalizedEvent } from './events.normalize.ts';

/**
 * SQL of bulk imports (events.bulk.ts). A chunk's events go in with COPY: straight into `events` when none of
 * their message ids is stored yet (the first run of a file), otherwise — or when the COPY meets one — through a
 * temporary staging table (emptied at every commit) and one INSERT … SELECT … ON CONFLICT DO NOTHING in file
 * order, so that of two rows with one message id the first is kept, as ingestion keeps the first it sees.
 */

/** Columns in the order EventRows writes them: the profile first, so that each row starts with its gap. */
const COLUMNS = `(profile_id, id, workspace_id, message_id, type, name, channel, occurred_at, received_at, user_id,
  anonymous_id, properties, traits, context)`;
const FIELDS = 14;

/** PostgreSQL's binary COPY: signature, flags, header extension; and the trailer. */
const HEADER = Buffer.from([...Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), 0, 0, 0, 0, 0, 0, 0, 0]);
const TRAILER = Buffer.from([0xff, 0xff]);
/** A row's start: its field count, then the profile id's length and the 16 bytes of the gap. */
const GAP_AT = 2 + 4;
const UUID_BYTES = 16;
const EPOCH_2000_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/**
 * One transaction's events as rows of PostgreSQL's binary COPY, encoded once ahead of it (while the one before
 * commits), each with a gap for its profile id — known only once people are resolved, inside the transaction,
 * where every moment the client spends PostgreSQL waits. Filling the gaps is then 16 bytes written a row. Binary
 * rather than text: the server stores UUIDs and times as sent instead of parsing them (≈ 1.2 µs a row of its CPU,
 * measured on the events table), and the client writes no escapes.
 */
export class EventRows {
  #buffer: Buffer;
  #at: number;
  /** Byte offset of each row. */
  readonly #starts: number[] = [];
  /** The workspace id's field, the same in every row: its length and 16 bytes. */
  readonly #workspace = Buffer.alloc(4 + UUID_BYTES);
  #receivedAt: Date | null = null;
  #received: [number, number] = [0, 0];
  constructor(workspaceId: string) {
    this.#workspace.writeInt32BE(UUID_BYTES, 0);
    writeUuid(this.#workspace, 4, workspaceId);
    this.#buffer = Buffer.allocUnsafe(64 * 1024);
    this.#at = HEADER.length;
  }

  get length(): number {
    return this.#starts.length;
  }

  /** Adds an event under a new id (newId's), made in place: idOf gives it as text. */
  add(e: NormalizedEvent) {
    this.#starts.push(this.#at);
    this.#ensure(GAP_AT + UUID_BYTES + 4 + UUID_BYTES);
    this.#buffer.writeInt16BE(FIELDS, this.#at);
    this.#buffer.writeInt32BE(UUID_BYTES, this.#at + 2);
    this.#at += GAP_AT + UUID_BYTES;
    this.#buffer.writeInt32BE(UUID_BYTES, this.#at);
    newIdInto(this.#buffer, this.#at + 4);
    this.#at += 4 + UUID_BYTES;
    this.#ensure(this.#workspace.length);
    this.#workspace.copy(this.#buffer, this.#at);
    this.#at += this.#workspace.length;
    this.#text(e.messageId);
    this.#text(e.type);
    this.#text(e.name);
    this.#text(e.channel);
    this.#time(microseconds(e.occurredAt.getTime()));
    if (e.receivedAt !== this.#receivedAt) {
      this.#receivedAt = e.receivedAt;
      this.#received = microseconds(e.receivedAt.getTime());
    }
    this.#time(this.#received);
    this.#text(e.userId);
    this.#text(e.anonymousId);
    this.#json(e.properties);
    this.#json(e.traits);
    this.#json(e.context);
  }

  /** The id of the i-th event added. */
  idOf(i: number): string {
    const at = (this.#starts[i] as number) + GAP_AT + UUID_BYTES + 4;
    return uuidText(this.#buffer.subarray(at, at + UUID_BYTES));
  }

  /** The COPY data of the rows that have a profile (null: left out), each with its profile id. */
  rows(profileIds: readonly (string | null)[]): Buffer {
    const starts = [...this.#starts, this.#at];
    if (profileIds.length !== starts.length - 1) throw new Error('one profile id (or null) a row');
    let kept = 0;
    for (const [i, id] of profileIds.entries()) {
      if (id !== null) kept += (starts[i + 1] as number) - (starts[i] as number);
    }
    const end = starts[starts.length - 1] as number;
    const all = kept === end - HEADER.length;
    // All kept (the usual case): the ids are written in place, between the header and trailer the buffer has room for.
    const out = all ? this.#buffer : Buffer.allocUnsafe(HEADER.length + kept + TRAILER.length);
    let at = HEADER.length;
    for (const [i, id] of profileIds.entries()) {
      if (id === null) continue;
      const start = starts[i] as number;
      const next = starts[i + 1] as number;
      if (all) at = start;
      else this.#buffer.copy(out, at, start, next);
      writeUuid(out, at + GAP_AT, id);
      at += next - start;
    }
    HEADER.copy(out, 0);
    TRAILER.copy(out, at);
    return out.subarray(0, at + TRAILER.length);
  }

  #ensure(bytes: number) {
    // Room for the trailer is kept at the end at all times.
    if (this.#at + bytes + TRAILER.length <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + bytes + TRAILER.length));
    this.#buffer.copy(grown, 0, 0, this.#at);
    this.#buffer = grown;
  }
  #text(value: string | null) {
    if (value === null) {
      this.#ensure(4);
      this.#buffer.writeInt32BE(-1, this.#at);
      this.#at += 4;
      return;
    }
    this.#ensure(4 + value.length * 3);
    const n = this.#buffer.write(value, this.#at + 4);
    this.#buffer.writeInt32BE(n, this.#at);
    this.#at += 4 + n;
  }
  #json(value: Record<string, unknown>) {
    let text = '{}';
    for (const _ in value) {
      text = JSON.stringify(value);
      break;
    }
    // jsonb's binary form: a version byte, then the text.
    this.#ensure(5 + text.length * 3);
    const n = this.#buffer.write(text, this.#at + 5);
    this.#buffer.writeInt32BE(n + 1, this.#at);
    this.#buffer[this.#at + 4] = 1;
    this.#at += 5 + n;
  }
  #time([hi, lo]: [number, number]) {
    this.#ensure(12);
    this.#buffer.writeInt32BE(8, this.#at);
    this.#buffer.writeInt32BE(hi, this.#at + 4);
    this.#buffer.writeUInt32BE(lo, this.#at + 8);
    this.#at += 12;
  }
}

/** A timestamptz as PostgreSQL sends it: microseconds since 2000-01-01 UTC, as the high and low halves of an int64. */
function microseconds(ms: number): [number, number] {
  const us = (ms - EPOCH_2000_MS) * 1000;
  if (Number.isSafeInteger(us)) {
    const hi = Math.floor(us / TWO_32);
    return [hi, us - hi * TWO_32];
  }
  const big = BigInt(ms - EPOCH_2000_MS) * 1000n;
  return [Number(BigInt.asIntN(32, big >> 32n)), Number(BigInt.asUintN(32, big))];
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * A UUID's 16 bytes from its text (8-4-4-4-12 hex digits), written in place: uuid's `parse` makes a new array per
 * id, and this runs for every row of a COPY inside its transaction.
 */
function writeUuid(buffer: Buffer, at: number, id: string) {
  if (id.length !== 36) throw new Error(`not a UUID: ${id}`);
  let byte = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== 45) throw new Error(`not a UUID: ${id}`);
      continue;
    }
    const hi = HEX[id.charCodeAt(i)] ?? -1;
    const lo = HEX[id.charCodeAt(++i)] ?? -1;
    if (hi < 0 || lo < 0) throw new Error(`not a UUID: ${id}`);
    buffer[at + byte++] = (hi << 4) | lo;
  }
}

/**
 * Appends the events (binary COPY data: EventRows). Returns the message ids stored by
 * this call — the others had been stored before — when `returning`, else null. `distinct`: the caller knows that
 * no message id repeats among them.
 */
export async function appendEvents(
  trx: Db,
  copyIn: CopyIn,
  rows: Uint8Array,
  messageIds: readonly string[],
  returning: boolean,
  distinct = false,
): Promise<Set<string> | null> {
  if (messageIds.length === 0) return returning ? new Set() : null;
  if (distinct || new Set(messageIds).size === messageIds.length) {
    await sql`savepoint rapport_bulk_events`.execute(trx);
    try {
      await copyIn(`events ${COLUMNS}`, rows, 'binary');
      // (Not released: the commit does that, one round trip later.)
      return returning ? new Set(messageIds) : null;
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      // A message id stored before (a second run, a resumed one): only what is new goes in, below.
      await sql`rollback to savepoint rapport_bulk_events`.execute(trx);
    }
  }
  await sql`create temp table if not exists rapport_import_events (
      n bigserial, profile_id uuid not null, id uuid not null, workspace_id uuid not null, message_id text not null,
      type text not null, name text, channel text not null, occurred_at timestamptz not null,
      received_at timestamptz not null, user_id text, anonymous_id text, properties jsonb not null,
      traits jsonb not null, context jsonb not null
    ) on commit delete rows`.execute(trx);
  await copyIn(`rapport_import_events ${COLUMNS}`, rows, 'binary');
  const result = await sql<{ message_id: string }>`insert into events ${sql.raw(COLUMNS)}
    select profile_id, id, workspace_id, message_id, type, name, channel, occurred_at, received_at, user_id,
      anonymous_id, properties, traits, context
    from rapport_import_events order by n
    on conflict (workspace_id, message_id) do nothing${returning ? sql` returning message_id` : sql``}`.execute(trx);
  return returning ? new Set(result.rows.map((r) => r.message_id)) : null;
}
