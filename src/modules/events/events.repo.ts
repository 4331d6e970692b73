import { type CompiledQuery, sql } from 'kysely';
import { type Db, PREPARED } from '../../platform/db.ts';
import type { EventType } from './events.schemas.ts';

/** All SQL of the events module. */

/** What an event stores besides its ids: produced by normalisation, written by insertEvents. */
export interface EventFields {
  messageId: string;
  type: EventType;
  name: string | null;
  channel: string;
  occurredAt: Date;
  receivedAt: Date;
  userId: string | null;
  anonymousId: string | null;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
}

export interface EventWrite extends EventFields {
  id: string;
  profileId: string;
}

/** Appends events; a message id seen before in the workspace adds nothing. Returns how many were new. */
export async function insertEvents(db: Db, workspaceId: string, rows: EventWrite[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await insertStatement(workspaceId, rows, false).execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** The same, saying which message ids were stored by this call (the others had been seen before). */
export async function insertEventsReturningNew(db: Db, workspaceId: string, rows: EventWrite[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const result = await insertStatement(workspaceId, rows, true).execute(db);
  return new Set((result.rows as { message_id: string }[]).map((r) => r.message_id));
}

function insertStatement(workspaceId: string, rows: EventWrite[], returning: boolean) {
  const col = <T>(f: (r: EventWrite) => T) => rows.map(f);
  return sql`/*prepared*/ insert into events (id, workspace_id, message_id, profile_id, type, name, channel, occurred_at,
      received_at, user_id, anonymous_id, properties, traits, context)
    select id, ${workspaceId}, message_id, profile_id, type, name, channel, occurred_at, received_at, user_id, anonymous_id,
      properties, traits, context
    from unnest(${col((r) => r.id)}::uuid[], ${col((r) => r.messageId)}::text[], ${col((r) => r.profileId)}::uuid[],
      ${col((r) => r.type)}::text[], ${col((r) => r.name)}::text[], ${col((r) => r.channel)}::text[],
      ${col((r) => r.occurredAt.toISOString())}::timestamptz[], ${col((r) => r.receivedAt.toISOString())}::timestamptz[],
      ${col((r) => r.userId)}::text[], ${col((r) => r.anonymousId)}::text[], ${col((r) => JSON.stringify(r.properties))}::jsonb[],
      ${col((r) => JSON.stringify(r.traits))}::jsonb[], ${col((r) => JSON.stringify(r.context))}::jsonb[])
      as v(id, message_id, profile_id, type, name, channel, occurred_at, received_at, user_id, anonymous_id, properties, traits, context)
    on conflict (workspace_id, message_id) do nothing${returning ? sql` returning message_id` : sql``}`;
}

/** A merge moves the absorbed profiles' timelines to the survivor. */
export async function repointEvents(db: Db, workspaceId: string, merges: { survivorId: string; absorbedId: string }[]) {
  await sql`update events e set profile_id = v.survivor
    from unnest(${merges.map((m) => m.absorbedId)}::uuid[], ${merges.map((m) => m.survivorId)}::uuid[]) as v(absorbed, survivor)
    where e.profile_id = v.absorbed and e.workspace_id = ${workspaceId}`.execute(db);
}

export interface TimelineFilter {
  type?: string;
  name?: string;
  channel?: string;
  from?: Date;
  to?: Date;
}

/** The rows a compiled Kysely query answers. */
type InferResult<C> = C extends CompiledQuery<infer R> ? R : never;

export async function timeline(
  db: Db,
  workspaceId: string,
  profileId: string,
  filter: TimelineFilter,
  page: { limit: number; before?: { at: Date; id: string } },
) {
  let query = db
    .selectFrom('events')
    .select([
      'id',
      'message_id',
      'type',
      'name',
      'channel',
      'occurred_at',
      'received_at',
      'properties',
      'traits',
      'context',
    ])
    .where('profile_id', '=', profileId)
    .where('workspace_id', '=', workspaceId);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.name) query = query.where('name', '=', filter.name);
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.from) query = query.where('occurred_at', '>=', filter.from);
  if (filter.to) query = query.where('occurred_at', '<', filter.to);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('occurred_at', '<', before.at), eb.and([eb('occurred_at', '=', before.at), eb('id', '<', before.id)])]),
    );
  }
  // Every shape of this query is best planned the same way whatever the values (the profile's timeline index, newest
  // first), so it is prepared once per connection and never planned again (≈ 0.1 ms a page otherwise).
  const compiled = query
    .orderBy('occurred_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .compile();
  const result = await db.executeQuery<InferResult<typeof compiled>>({
    ...compiled,
    sql: `${PREPARED} ${compiled.sql}`,
  });
  return result.rows;
}
