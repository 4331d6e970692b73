import { type Kysely, sql } from 'kysely';

// The interaction log is the busiest table there is, and its foreign key to `workspaces` cost as much as the rest of
// an event's insert: a lookup and a share lock on the same workspace row for every event (6.8 of 13.5 µs a row,
// measured on PostgreSQL 15; concurrent writers also turn that lock into multixacts). Every event is written for a
// workspace its write key, an import or a module has just authenticated, and workspaces are never deleted (a
// deletion would have to clear the log explicitly, as erasure does for a person), so the key guarded nothing.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table events drop constraint if exists events_workspace_id_fkey`.execute(db);
}
