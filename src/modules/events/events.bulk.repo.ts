import { sql } from 'kysely';
import { type CopyIn, copyField, type Db } from '../../platform/db.ts';
import type { NormalizedEvent } from './events.normalize.ts';

/**
 * SQL of bulk imports (events.bulk.ts). A chunk's events go in with COPY: straight into `events` when none of
 * their message ids is stored yet (the first run of a file), otherwise — or when the COPY meets one — through a
 * temporary staging table (emptied at every commit) and one INSERT … SELECT … ON CONFLICT DO NOTHING in file
 * order, so that of two rows with one message id the first is kept, as ingestion keeps the first it sees.
 */

/** Columns in the order of `eventLineTail` below: the profile first, so that a line is the profile id and a tail. */
const COLUMNS = `(profile_id, id, workspace_id, message_id, type, name, channel, occurred_at, received_at, user_id,
  anonymous_id, properties, traits, context)`;

/**
 * An event as one COPY line without its leading profile id (known only once people are resolved). `fixed` is the
 * part every event of a batch shares: `batchFields(workspaceId, receivedAt)`.
 */
export function eventLineTail(fixed: BatchFields, id: string, e: NormalizedEvent): string {
  return `\t${id}\t${fixed.workspaceId}\t${copyField(e.messageId)}\t${e.type}\t${copyField(e.name)}\t${copyField(e.channel)}\t${e.occurredAt.toISOString()}\t${fixed.receivedAt}\t${copyField(e.userId)}\t${copyField(e.anonymousId)}\t${json(e.properties)}\t${json(e.traits)}\t${json(e.context)}\n`;
}

/** A profile id as it stands at the start of a COPY line: a UUID's 36 characters. */
const ID_LENGTH = 36;

/**
 * One transaction's COPY lines, encoded once ahead of it (while the one before commits), each with a gap at its
 * start for its profile id — known only once people are resolved, inside the transaction, where every moment the
 * client spends PostgreSQL waits. Filling the gaps is then a few bytes written a line.
 */
export class EventLines {
  readonly #buffer: Buffer;
  /** Byte offset of each line, and the end of the last. */
  readonly #starts: number[];
  constructor(tails: readonly string[]) {
    let chars = 0;
    for (const tail of tails) chars += tail.length;
    const buffer = Buffer.allocUnsafe(tails.length * ID_LENGTH + chars * 3);
    const starts = [0];
    let at = 0;
    for (const tail of tails) {
      at += ID_LENGTH;
      at += buffer.write(tail, at);
      starts.push(at);
    }
    this.#buffer = buffer;
    this.#starts = starts;
  }
  /** The lines of the rows that have a profile (null: left out), each with its profile id. */
  lines(profileIds: readonly (string | null)[]): Buffer {
    const starts = this.#starts;
    if (profileIds.length !== starts.length - 1) throw new Error('one profile id (or null) a line');
    let kept = 0;
    for (const [i, id] of profileIds.entries()) {
      if (id === null) continue;
      if (id.length !== ID_LENGTH) throw new Error(`not a profile id: ${id}`);
      kept += (starts[i + 1] as number) - (starts[i] as number);
    }
    const all = kept === (starts[starts.length - 1] as number);
    const out = all ? this.#buffer : Buffer.allocUnsafe(kept);
    let at = 0;
    for (const [i, id] of profileIds.entries()) {
      if (id === null) continue;
      const start = starts[i] as number;
      const end = starts[i + 1] as number;
      if (all) at = start;
      else this.#buffer.copy(out, at + ID_LENGTH, start + ID_LENGTH, end);
      out.write(id, at, 'latin1');
      at += end - start;
    }
    return out.subarray(0, kept);
  }
}

export interface BatchFields {
  workspaceId: string;
  /** ISO text. */
  receivedAt: string;
}

function json(value: Record<string, unknown>): string {
  for (const _ in value) return copyField(JSON.stringify(value));
  return '{}';
}

/**
 * Appends the events (COPY lines: EventLines). Returns the message ids stored by
 * this call — the others had been stored before — when `returning`, else null.
 */
export async function appendEvents(
  trx: Db,
  copyIn: CopyIn,
  lines: Uint8Array,
  messageIds: readonly string[],
  returning: boolean,
): Promise<Set<string> | null> {
  if (messageIds.length === 0) return returning ? new Set() : null;
  if (new Set(messageIds).size === messageIds.length) {
    await sql`savepoint rapport_bulk_events`.execute(trx);
    try {
      await copyIn(`events ${COLUMNS}`, lines);
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
  await copyIn(`rapport_import_events ${COLUMNS}`, lines);
  const result = await sql<{ message_id: string }>`insert into events ${sql.raw(COLUMNS)}
    select profile_id, id, workspace_id, message_id, type, name, channel, occurred_at, received_at, user_id,
      anonymous_id, properties, traits, context
    from rapport_import_events order by n
    on conflict (workspace_id, message_id) do nothing${returning ? sql` returning message_id` : sql``}`.execute(trx);
  return returning ? new Set(result.rows.map((r) => r.message_id)) : null;
}
