import { sql } from 'kysely';
import type { Clock } from './clock.ts';
import { type Db, tables } from './db.ts';

/**
 * Fixed-window counters in the database, so that a limit holds across restarts and across every process serving
 * the same workspace. One round trip per hit (an upsert returning the new count).
 */
export interface RateLimit {
  /** Requests allowed per window. */
  limit: number;
  windowSeconds: number;
}

export interface RateLimitState {
  allowed: boolean;
  hits: number;
  retryAfterSeconds: number;
}

interface CounterTables {
  rate_limit_counters: { bucket: string; window_start: Date; hits: number; expires_at: Date };
}

function windowOf(now: Date, rule: RateLimit) {
  const ms = rule.windowSeconds * 1000;
  const start = new Date(Math.floor(now.getTime() / ms) * ms);
  return { start, end: new Date(start.getTime() + ms) };
}

function state(hits: number, rule: RateLimit, now: Date, end: Date, allowWhenEqual: boolean): RateLimitState {
  const allowed = allowWhenEqual ? hits <= rule.limit : hits < rule.limit;
  return { allowed, hits, retryAfterSeconds: Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000)) };
}

/** Counts one hit and says whether it was within the limit. */
export async function hitRateLimit(db: Db, clock: Clock, bucket: string, rule: RateLimit): Promise<RateLimitState> {
  const now = clock.now();
  const { start, end } = windowOf(now, rule);
  const row = await tables<CounterTables>(db)
    .insertInto('rate_limit_counters')
    .values({ bucket, window_start: start, hits: 1, expires_at: end })
    .onConflict((oc) => oc.columns(['bucket', 'window_start']).doUpdateSet({ hits: sql`rate_limit_counters.hits + 1` }))
    .returning('hits')
    .executeTakeFirstOrThrow();
  return state(row.hits, rule, now, end, true);
}

/** Reads a counter without counting: for limits on failures, checked before the attempt and hit only on failure. */
export async function peekRateLimit(db: Db, clock: Clock, bucket: string, rule: RateLimit): Promise<RateLimitState> {
  const now = clock.now();
  const { start, end } = windowOf(now, rule);
  const row = await tables<CounterTables>(db)
    .selectFrom('rate_limit_counters')
    .select('hits')
    .where('bucket', '=', bucket)
    .where('window_start', '=', start)
    .executeTakeFirst();
  return state(row?.hits ?? 0, rule, now, end, false);
}

export async function clearRateLimit(db: Db, bucket: string): Promise<void> {
  await tables<CounterTables>(db).deleteFrom('rate_limit_counters').where('bucket', '=', bucket).execute();
}

export async function purgeExpiredRateLimits(db: Db, clock: Clock): Promise<number> {
  const result = await tables<CounterTables>(db)
    .deleteFrom('rate_limit_counters')
    .where('expires_at', '<', clock.now())
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
