import { type Kysely, sql } from 'kysely';

// Profile rows are rewritten by every batch that changes their projection (last seen, traits, channels), but no
// indexed column changes: with free room on the page PostgreSQL updates them in place (HOT) instead of adding
// entries to every index. Applies to pages written from now on.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table profiles set (fillfactor = 80)`.execute(db);
}
