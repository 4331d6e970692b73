import { type Kysely, sql } from 'kysely';

/**
 * Two indexes every till transaction paid a B-tree insert for become BRIN: both columns grow with insertion time
 * (idempotency keys' age, for the daily purge; transactions' time, for simulations over a period), so block ranges
 * find them as well at a fraction of the write cost.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index loyalty_requests_age`.execute(db);
  await sql`create index loyalty_requests_age on loyalty_requests using brin (created_at)`.execute(db);
  await sql`drop index loyalty_transactions_time`.execute(db);
  await sql`create index loyalty_transactions_time on loyalty_transactions using brin (occurred_at)`.execute(db);
}
