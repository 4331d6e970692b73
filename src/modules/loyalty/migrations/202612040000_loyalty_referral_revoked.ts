import { type Kysely, sql } from 'kysely';

// A completed referral whose qualifying purchase is returned (below the programme's minimum) or reversed, with no
// other qualifying purchase to stand in for it, is revoked: its rewards are clawed back.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table loyalty_referrals drop constraint loyalty_referrals_status_check`.execute(db);
  await sql`alter table loyalty_referrals add constraint loyalty_referrals_status_check
    check (status in ('pending', 'held', 'rejected', 'completed', 'revoked'))`.execute(db);
  await sql`alter table loyalty_referrals add column revoked_at timestamptz`.execute(db);
}
