import { sql } from 'kysely';
import { type CopyIn, copyField, type Db } from '../../platform/db.ts';
import type { EventWrite } from './events.repo.ts';

/**
 * SQL of bulk imports (events.bulk.ts): a chunk's events are COPYed into a temporary table of the session (emptied
 * at every commit) and appended with one INSERT … SELECT, in file order, so that of two rows with one message id
 * the first is the one kept — as ingestion keeps the first it sees.
 */
/** Returns the message ids stored by this call (the others had been stored before), or null unless `returning`. */
export async function appendStagedEvents(
  trx: Db,
  copyIn: CopyIn,
  workspaceId: string,
  rows: readonly EventWrite[],
  returning: boolean,
): Promise<Set<string> | null> {
  if (rows.length === 0) return returning ? new Set() : null;
  await sql`create temp table if not exists rapport_import_events (
      n int not null, id uuid not null, message_id text not null, profile_id uuid not null, type text not null,
      name text, channel text not null, occurred_at timestamptz not null, received_at timestamptz not null,
      user_id text, anonymous_id text, properties jsonb not null, traits jsonb not null, context jsonb not null
    ) on commit delete rows`.execute(trx);
  let text = '';
  for (const [n, r] of rows.entries()) {
    text += `${n}\t${r.id}\t${copyField(r.messageId)}\t${r.profileId}\t${r.type}\t${copyField(r.name)}\t${copyField(
      r.channel,
    )}\t${r.occurredAt.toISOString()}\t${r.receivedAt.toISOString()}\t${copyField(r.userId)}\t${copyField(
      r.anonymousId,
    )}\t${copyField(JSON.stringify(r.properties))}\t${copyField(JSON.stringify(r.traits))}\t${copyField(
      JSON.stringify(r.context),
    )}\n`;
  }
  await copyIn(
    `rapport_import_events (n, id, message_id, profile_id, type, name, channel, occurred_at, received_at, user_id,
      anonymous_id, properties, traits, context)`,
    text,
  );
  const result = await sql<{ message_id: string }>`insert into events (id, workspace_id, message_id, profile_id, type,
      name, channel, occurred_at, received_at, user_id, anonymous_id, properties, traits, context)
    select id, ${workspaceId}, message_id, profile_id, type, name, channel, occurred_at, received_at, user_id,
      anonymous_id, properties, traits, context
    from rapport_import_events order by n
    on conflict (workspace_id, message_id) do nothing${returning ? sql` returning message_id` : sql``}`.execute(trx);
  return returning ? new Set(result.rows.map((r) => r.message_id)) : null;
}
