import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // An erased profile stays as a tombstone (its id keeps events and aggregates whole) with its traits emptied.
  await db.schema.alterTable('profiles').addColumn('erased_at', 'timestamptz').execute();

  // What is left of an erased person's identifiers: HMAC-SHA-256 of kind and value under the workspace's key, so
  // that a later import or event carrying the same e-mail or phone is recognised without the value being kept.
  await db.schema
    .createTable('erased_identities')
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'uuid', (c) => c.notNull())
    .addColumn('erased_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('erased_identities_pk', ['workspace_id', 'kind', 'hash'])
    .execute();
}
