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

// ---- many counters in one round trip (consumer endpoints under load: code entry)

export interface CounterHit {
  bucket: string;
  rule: RateLimit;
  /** How many hits to add (a group of requests counted at once). */
  count: number;
}

export interface CounterReading {
  /** The counter after this call's hits (hit counters) or as it stands (peeked counters). */
  hits: number;
  retryAfterSeconds: number;
  /** The window counted in: pass it back to refundRateLimits. */
  windowStart: Date;
}

/**
 * Adds hits to some counters and reads others, in one statement. Hits to the same bucket are summed first, and
 * counters are written in bucket order so that concurrent callers cannot deadlock. Returns every counter named,
 * keyed by bucket (a bucket both hit and peeked is reported once, after the hit).
 */
export async function countRateLimits(
  db: Db,
  clock: Clock,
  hits: readonly CounterHit[],
  peeks: readonly { bucket: string; rule: RateLimit }[] = [],
): Promise<Map<string, CounterReading>> {
  const now = clock.now();
  const summed = new Map<string, { bucket: string; start: Date; end: Date; count: number }>();
  for (const h of hits) {
    if (h.count <= 0) continue;
    const { start, end } = windowOf(now, h.rule);
    const key = `${h.bucket}\u0001${start.getTime()}`;
    const seen = summed.get(key);
    if (seen) seen.count += h.count;
    else summed.set(key, { bucket: h.bucket, start, end, count: h.count });
  }
  const writes = [...summed.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  const reads = peeks.map((p) => ({ bucket: p.bucket, ...windowOf(now, p.rule) }));
  const ends = new Map<string, Date>();
  for (const w of [...reads, ...writes]) ends.set(`${w.bucket}\u0001${w.start.getTime()}`, w.end);
  if (writes.length === 0 && reads.length === 0) return new Map();
  const rows = await sql<{ bucket: string; window_start: Date; hits: number; hit: boolean }>`/*prepared*/
    with hit as (
      insert into rate_limit_counters (bucket, window_start, hits, expires_at)
      select bucket, window_start, hits, expires_at
      from unnest(${writes.map((w) => w.bucket)}::text[], ${writes.map((w) => w.start.toISOString())}::timestamptz[],
        ${writes.map((w) => w.count)}::int[], ${writes.map((w) => w.end.toISOString())}::timestamptz[])
        with ordinality as v(bucket, window_start, hits, expires_at, ord)
      order by ord
      on conflict (bucket, window_start) do update set hits = rate_limit_counters.hits + excluded.hits
      returning bucket, window_start, hits
    )
    select bucket, window_start, hits, true as hit from hit
    union all
    select c.bucket, c.window_start, c.hits, false as hit
    from unnest(${reads.map((r) => r.bucket)}::text[], ${reads.map((r) => r.start.toISOString())}::timestamptz[])
      as p(bucket, window_start)
    cross join lateral (select bucket, window_start, hits from rate_limit_counters c
      where c.bucket = p.bucket and c.window_start = p.window_start limit 1) c`.execute(db);
  const out = new Map<string, CounterReading>();
  for (const r of [...reads, ...writes]) {
    out.set(r.bucket, {
      hits: 0,
      retryAfterSeconds: Math.max(1, Math.ceil((r.end.getTime() - now.getTime()) / 1000)),
      windowStart: r.start,
    });
  }
  // Hit rows first in the statement's output would be overwritten by stale peeks of the same bucket: apply peeks first.
  const ordered = [...rows.rows].sort((a, b) => Number(a.hit) - Number(b.hit));
  for (const row of ordered) {
    const start = new Date(row.window_start).getTime();
    const end = ends.get(`${row.bucket}\u0001${start}`);
    if (!end) continue;
    out.set(row.bucket, {
      hits: row.hits,
      retryAfterSeconds: Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000)),
      windowStart: new Date(start),
    });
  }
  return out;
}

/**
 * Gives back hits counted in advance (a reservation for work that might fail, returned when it did not), in the
 * window they were counted in: a window that has ended is left alone, and no counter goes below zero.
 */
export async function refundRateLimits(
  db: Db,
  refunds: readonly { bucket: string; windowStart: Date; count: number }[],
): Promise<void> {
  const summed = new Map<string, { bucket: string; windowStart: Date; count: number }>();
  for (const r of refunds) {
    const key = `${r.bucket}\u0001${r.windowStart.getTime()}`;
    const seen = summed.get(key);
    if (seen) seen.count += r.count;
    else summed.set(key, { ...r });
  }
  const rows = [...summed.values()]
    .filter((r) => r.count > 0)
    .sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  if (rows.length === 0) return;
  await sql`/*prepared*/ update rate_limit_counters c set hits = greatest(c.hits - v.n, 0)
    from unnest(${rows.map((r) => r.bucket)}::text[], ${rows.map((r) => r.windowStart.toISOString())}::timestamptz[],
      ${rows.map((r) => r.count)}::int[]) as v(bucket, window_start, n)
    where c.bucket = v.bucket and c.window_start = v.window_start`.execute(db);
}
