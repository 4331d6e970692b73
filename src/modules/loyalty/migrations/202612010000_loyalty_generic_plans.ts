import { type Kysely, sql } from 'kysely';

// The member-state read runs one statement with six subqueries (wallets, open lots, rule usage, the idempotency key,
// the tier window's sums, clubs). PL/pgSQL plans it with the call's values each time as long as the planner
// estimates such a plan cheaper than a generic one, and here it always did: ~580 µs of planning per read, half of
// PostgreSQL's time per till transaction (pg_stat_statements with track = all, bench/loyalty). Every lookup in it is
// by key (card number, member id, request key), so the generic plan is the right one whatever the values. The same
// for the apply's inserts and updates by key (≈ 30 µs a change, and more throughput in the same run).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter function loyalty_member_state(uuid, uuid, text, text, uuid, text[], text, timestamptz)
    set plan_cache_mode = force_generic_plan`.execute(db);
  await sql`alter function loyalty_apply(uuid, uuid, bigint, jsonb, jsonb) set plan_cache_mode = force_generic_plan`.execute(
    db,
  );
}
