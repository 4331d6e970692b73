import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The keyed hash a workspace's codes are stored as. Workspaces whose codes exist keep HMAC-SHA-256 (a stored hash
  // cannot be converted without the clear code); new ones use AES-CMAC, which generation computes a chunk at a time
  // in one call into hardware AES (platform/codes/cmac.ts).
  await sql`alter table code_settings add column code_mac text not null default 'hmac-sha256'
    check (code_mac in ('hmac-sha256', 'aes-cmac'))`.execute(db);
  await sql`alter table code_settings alter column code_mac set default 'aes-cmac'`.execute(db);
}
