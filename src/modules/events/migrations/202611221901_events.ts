import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The interaction log: append-only. `message_id` is the sender's idempotency key (Segment's messageId).
  await db.schema
    .createTable('events')
    // The sender's message id is the key (dedup needs that index anyway); `id` is our public, time-ordered id,
    // never looked up alone, so it carries no index of its own.
    .addColumn('id', 'uuid', (c) => c.notNull())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'uuid', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('anonymous_id', 'text')
    .addColumn('properties', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('traits', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('context', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addCheckConstraint('events_type', sql`type in ('identify','track','page','screen','group','alias')`)
    .addPrimaryKeyConstraint('events_pk', ['workspace_id', 'message_id'])
    .execute();
  // The timeline: one profile's events, newest first.
  await sql`create index events_timeline on events (profile_id, occurred_at desc, id desc)`.execute(db);
}
