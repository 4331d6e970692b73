import { z } from 'zod';
import type { CounterHit, CounterReading, RateLimit } from '../../platform/ratelimit.ts';

/**
 * The anti-fraud limits of code entry, kept in the database (platform/ratelimit.ts) so that restarts and every
 * process share them. Three kinds:
 *
 * - attempts: every attempt counts (per identifier and per device, per minute) — floods, whatever they send;
 * - failures: well-formed codes that were not accepted (unknown, used, expired …) per identifier, device, IP and
 *   network (/24, /48). Reaching one locks the key out until its window ends: the lockout after repeated
 *   failures. They are read before the code is looked at and counted after, so that the answer for a locked-out
 *   caller never depends on the code. Within a group of concurrent attempts, each admitted attempt of an
 *   identifier or device is assumed to fail, so a burst from one person cannot overshoot; IPs and networks are
 *   shared by many people (mobile carriers' NAT), so for them a burst may overshoot by what is in flight;
 * - the guess budget: well-formed lookups per minute, per promotion (entries that name it) or per workspace (the
 *   rest). It is what bounds a botnet, and the code length is computed from it, so it is exact across processes:
 *   every lookup reserves a unit before it runs and gives it back after it if it was accepted.
 */

export const LimitSettings = z.object({
  identifierPerMinute: z.number().int().min(1).max(100_000).default(10),
  devicePerMinute: z.number().int().min(1).max(100_000).default(20),
  identifierFailures: z.number().int().min(1).max(1_000_000).default(5),
  identifierFailureMinutes: z.number().int().min(1).max(1440).default(15),
  identifierDailyFailures: z.number().int().min(1).max(1_000_000).default(20),
  deviceFailures: z.number().int().min(1).max(1_000_000).default(10),
  deviceFailureMinutes: z.number().int().min(1).max(1440).default(60),
  ipFailures: z.number().int().min(1).max(1_000_000).default(50),
  networkFailures: z.number().int().min(1).max(1_000_000).default(200),
  ipFailureMinutes: z.number().int().min(1).max(1440).default(10),
});
export type LimitSettings = z.infer<typeof LimitSettings>;

export function limitsOf(stored: unknown): LimitSettings {
  const parsed = LimitSettings.safeParse(stored ?? {});
  return parsed.success ? parsed.data : LimitSettings.parse({});
}

/** The keys of one attempt (already hashed: no personal data goes into counter names). */
export interface AttemptKeys {
  workspaceId: string;
  identifiers: string[];
  device: string | null;
  ip: string | null;
  net: string | null;
  /** The guess budget it draws on: a promotion id, or '*' for the workspace's (entries that name no promotion). */
  guessScope: string;
  guessesPerMinute: number;
  /** Whether it will look a code up (a typo never does). */
  looksUp: boolean;
}

interface Check {
  bucket: string;
  rule: RateLimit;
}

function attemptChecks(k: AttemptKeys, s: LimitSettings): Check[] {
  const checks = k.identifiers.map((id) => ({
    bucket: `codes:a:${k.workspaceId}:${id}`,
    rule: { limit: s.identifierPerMinute, windowSeconds: 60 },
  }));
  if (k.device)
    checks.push({
      bucket: `codes:d:${k.workspaceId}:${k.device}`,
      rule: { limit: s.devicePerMinute, windowSeconds: 60 },
    });
  return checks;
}

function failureChecks(k: AttemptKeys, s: LimitSettings): Check[] {
  const w = k.workspaceId;
  const checks: Check[] = [];
  for (const id of k.identifiers) {
    checks.push({
      bucket: `codes:fi:${w}:${id}`,
      rule: { limit: s.identifierFailures, windowSeconds: s.identifierFailureMinutes * 60 },
    });
    checks.push({ bucket: `codes:fI:${w}:${id}`, rule: { limit: s.identifierDailyFailures, windowSeconds: 86_400 } });
  }
  if (k.device)
    checks.push({
      bucket: `codes:fd:${w}:${k.device}`,
      rule: { limit: s.deviceFailures, windowSeconds: s.deviceFailureMinutes * 60 },
    });
  if (k.ip)
    checks.push({
      bucket: `codes:fp:${w}:${k.ip}`,
      rule: { limit: s.ipFailures, windowSeconds: s.ipFailureMinutes * 60 },
    });
  if (k.net)
    checks.push({
      bucket: `codes:fn:${w}:${k.net}`,
      rule: { limit: s.networkFailures, windowSeconds: s.ipFailureMinutes * 60 },
    });
  return checks;
}

function guessCheck(k: AttemptKeys): Check {
  return { bucket: `codes:g:${k.workspaceId}:${k.guessScope}`, rule: { limit: k.guessesPerMinute, windowSeconds: 60 } };
}

/** What to count before a group: every attempt, a guess reservation per lookup, and the failure counters to read. */
export function beforeGroup(keys: AttemptKeys[], s: LimitSettings) {
  const hits: CounterHit[] = [];
  const peeks = new Map<string, Check>();
  for (const k of keys) {
    for (const c of attemptChecks(k, s)) hits.push({ ...c, count: 1 });
    if (!k.looksUp) continue;
    hits.push({ ...guessCheck(k), count: 1 });
    for (const c of failureChecks(k, s)) peeks.set(c.bucket, c);
  }
  return { hits, peeks: [...peeks.values()] };
}

/**
 * Which attempts of a group may go on, in order. An attempt is stopped when one of its attempt counters or its
 * guess reservation went over with it, or when one of its failure counters is at its limit (for identifiers and
 * devices counting the earlier admitted attempts of the group, which may fail too). Returns, per attempt, null
 * (go on) or how long to wait.
 */
export function admit(keys: AttemptKeys[], s: LimitSettings, readings: Map<string, CounterReading>): (number | null)[] {
  const seenSoFar = new Map<string, number>();
  const groupTotals = new Map<string, number>();
  const counted = (k: AttemptKeys) => [...attemptChecks(k, s), ...(k.looksUp ? [guessCheck(k)] : [])];
  for (const k of keys) for (const c of counted(k)) groupTotals.set(c.bucket, (groupTotals.get(c.bucket) ?? 0) + 1);
  const pendingFailures = new Map<string, number>();
  return keys.map((k) => {
    let wait = 0;
    for (const c of counted(k)) {
      const reading = readings.get(c.bucket);
      const seen = (seenSoFar.get(c.bucket) ?? 0) + 1;
      seenSoFar.set(c.bucket, seen);
      // The counter holds this group's hits too: this attempt is the (before + seen)-th of the window.
      const before = (reading?.hits ?? 0) - (groupTotals.get(c.bucket) ?? 0);
      if (before + seen > c.rule.limit) wait = Math.max(wait, reading?.retryAfterSeconds ?? c.rule.windowSeconds);
    }
    const failures = k.looksUp ? failureChecks(k, s) : [];
    for (const c of failures) {
      const reading = readings.get(c.bucket);
      if ((reading?.hits ?? 0) + (pendingFailures.get(c.bucket) ?? 0) >= c.rule.limit)
        wait = Math.max(wait, reading?.retryAfterSeconds ?? c.rule.windowSeconds);
    }
    if (wait > 0) return wait;
    for (const c of failures)
      if (c.bucket.startsWith('codes:fi') || c.bucket.startsWith('codes:fI') || c.bucket.startsWith('codes:fd'))
        pendingFailures.set(c.bucket, (pendingFailures.get(c.bucket) ?? 0) + 1);
    return null;
  });
}

/**
 * What to count after a group: a hit on every failure counter of each refused attempt, and the guess
 * reservations of the lookups that were not failures given back (accepted, or never run because stopped).
 */
export function afterGroup(
  all: { keys: AttemptKeys; failed: boolean }[],
  s: LimitSettings,
  readings: Map<string, CounterReading>,
) {
  const hits: CounterHit[] = [];
  const refunds: { bucket: string; windowStart: Date; count: number }[] = [];
  for (const { keys: k, failed } of all) {
    if (!k.looksUp) continue;
    if (failed) for (const c of failureChecks(k, s)) hits.push({ ...c, count: 1 });
    else {
      const bucket = guessCheck(k).bucket;
      const reading = readings.get(bucket);
      if (reading) refunds.push({ bucket, windowStart: reading.windowStart, count: 1 });
    }
  }
  return { hits, refunds };
}

/** The network an address belongs to, for the /24 (IPv4) or /48 (IPv6) limit. */
export function networkOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  const groups = ip.toLowerCase().split('::')[0]?.split(':') ?? [];
  return `${[0, 1, 2].map((i) => groups[i] || '0').join(':')}::/48`;
}
