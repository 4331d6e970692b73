import { type Kysely, sql } from 'kysely';

// As for `events` (events/202611230430): every new person costs a profile row and an identity row or two, and each
// of their foreign keys to `workspaces` looked up and share-locked the same workspace row, which concurrent writers
// (ingestion, imports, code registrations, tills enrolling members) turn into multixacts. Profiles and identities
// are only ever written for a workspace that was just authenticated, and workspaces are never deleted, so the keys
// guarded nothing. The key from identities to their profile stays: it is the identity graph's integrity.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table identities drop constraint if exists identities_workspace_id_fkey`.execute(db);
  await sql`alter table profiles drop constraint if exists profiles_workspace_id_fkey`.execute(db);
}
