import type { Clock } from '../../platform/clock.ts';
import { isWellFormed, MAX_LENGTH, normalizeCode } from '../../platform/codes/alphabet.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import { type CounterReading, countRateLimits, refundRateLimits } from '../../platform/ratelimit.ts';
import { CONCURRENT_MERGE, type Identifier, normalizeIdentifier } from '../profiles/index.ts';
import {
  allowanceKeys,
  attemptRow,
  decided,
  isOpen,
  type Prepared,
  type RegistrationInput,
  type RegistrationOutcome,
  type WorkspaceContext,
  type WorkspaceContextCache,
} from './codes.attempt.ts';
import { IMPORTED_CODE } from './codes.bulk.ts';
import { type ClaimDeps, commitGroup } from './codes.claim.ts';
import { type AttemptKeys, admit, afterGroup, beforeGroup, limitsOf, networkOf } from './codes.limits.ts';
import * as repo from './codes.repo.ts';
import type { KeyRing } from './codes.service.ts';

export type {
  Enqueue,
  RegistrationChannel,
  RegistrationInput,
  RegistrationOutcome,
  WorkspaceContext,
  WorkspaceContextCache,
} from './codes.attempt.ts';
export { CODE_REGISTERED_JOB } from './codes.attempt.ts';

/**
 * Registration of a code: the busiest and most attacked path of the module. Requests arriving together are
 * handled as a group in one transaction (group commit, as ingestion does), so that a TV spot's burst costs a
 * handful of statements per group rather than per person. Per attempt, in order:
 *
 *   1. limits (attempts counted, failure counters read) — before anything depends on the code;
 *   2. the typo check (check character) — depends on the text alone, leaks nothing;
 *   3. pre-checks that depend on the person and the promotion only: allowance used up, prize fund spent;
 *      (the code is looked up alongside, without locks; its result is used only for attempts let through);
 *   4. in one transaction (codes.claim.ts): resolve the person, claim the code (a unique row: exactly once whatever
 *      the concurrency), raise the person's allowance and the budget under lock, record every attempt, consents,
 *      enqueue the `Code Registered` event for the timeline;
 *   5. count failures, give back the guess reservations of lookups that did not fail.
 *
 * Unknown, used, expired, foreign and other-promotion codes all end as the same `refused` outcome.
 */

export interface RegisterDeps extends ClaimDeps {
  db: Db;
  clock: Clock;
  logger?: Logger;
  keys: KeyRing;
  context: WorkspaceContextCache;
}

// ---- what a process knows about a workspace, briefly

/** Promotions and limits change rarely: each process keeps them for two seconds (and forgets at once its own changes). */
export function createContextCache(keys: KeyRing, clock: Clock, ttlMs = 2_000): WorkspaceContextCache {
  const cache = new Map<string, { at: number; value: Promise<WorkspaceContext> }>();
  return {
    get(db, workspaceId) {
      const hit = cache.get(workspaceId);
      if (hit && Date.now() - hit.at < ttlMs) return hit.value;
      const value = (async () => {
        const ring = await keys.of(db, workspaceId);
        const settings = await repo.ensureSettings(db, workspaceId, 'unused: the key ring created it');
        const all = await repo.listPromotions(db, workspaceId);
        const now = clock.now();
        return {
          keys: ring,
          limits: limitsOf(settings.limits),
          guessesPerMinute: settings.guesses_per_minute,
          open: all.filter((p) => p.status === 'active' && p.starts_at <= now && p.ends_at > now),
          byId: new Map(all.map((p) => [p.id, p])),
          byKey: new Map(all.map((p) => [p.key, p])),
          imported: await repo.importedShapes(db, workspaceId),
        };
      })();
      value.catch(() => cache.delete(workspaceId));
      if (cache.size > 10_000) cache.clear();
      cache.set(workspaceId, { at: Date.now(), value });
      return value;
    },
    invalidate(workspaceId) {
      cache.delete(workspaceId);
    },
  };
}

function identifiersOf(input: RegistrationInput): Identifier[] {
  const ids: Identifier[] = [];
  const add = (kind: string, raw: string | undefined, code: string, what: string) => {
    if (raw === undefined || raw === '') return;
    const id = normalizeIdentifier(kind, raw);
    if (!id) throw new DomainError('invalid', code, `${what} is not valid.`);
    ids.push(id);
  };
  add('user_id', input.userId, 'INVALID_USER_ID', 'The user id');
  add('email', input.email, 'INVALID_EMAIL', 'The e-mail address');
  add('phone', input.phone, 'INVALID_PHONE', 'The phone number');
  if (input.messenger) {
    const colon = input.messenger.indexOf(':');
    add(input.messenger.slice(0, colon), input.messenger.slice(colon + 1), 'INVALID_MESSENGER_ID', 'The messenger id');
  }
  add('anonymous_id', input.anonymousId, 'INVALID_ANONYMOUS_ID', 'The anonymous id');
  if (ids.length === 0)
    throw new DomainError(
      'invalid',
      'IDENTITY_REQUIRED',
      'Send a phone number, e-mail address, user id or anonymous id.',
    );
  return ids;
}

/** The stored hash of what was typed, or null when the text cannot be a code (the typo answer). */
function codeHashOf(ctx: WorkspaceContext, typed: string, promotion: repo.PromotionRow | null): string | null {
  const code = normalizeCode(typed);
  if (code.length > MAX_LENGTH * 2 || !IMPORTED_CODE.test(code)) return null;
  if (isWellFormed(code)) return ctx.keys.hasher.hash(code);
  // Codes printed elsewhere carry no check character of ours: text of their shape is looked up.
  const fitsImported = ctx.imported.some(
    (s) =>
      (!promotion || s.promotion_id === promotion.id) && code.length >= s.min_length && code.length <= s.max_length,
  );
  return fitsImported ? ctx.keys.hasher.hash(code) : null;
}

function prepare(ctx: WorkspaceContext, workspaceId: string, input: RegistrationInput, now: Date) {
  const ids = identifiersOf(input);
  let promotion: repo.PromotionRow | null = null;
  if (input.promotion) {
    promotion = ctx.byKey.get(input.promotion) ?? ctx.byId.get(input.promotion) ?? null;
    if (!promotion) throw new DomainError('not_found', 'PROMOTION_NOT_FOUND', 'There is no such promotion.');
  }
  const personLevel = ids.filter((i) => i.kind !== 'anonymous_id');
  const idHashes = personLevel.map((i) => ctx.keys.identify(`${i.kind}:${i.value}`));
  const primaryIndex = Math.max(
    personLevel.findIndex((i) => i.kind === 'phone'),
    0,
  );
  const primaryId = personLevel[primaryIndex];
  const deviceRaw = input.device ?? ids.find((i) => i.kind === 'anonymous_id')?.value ?? null;
  const device = deviceRaw ? ctx.keys.identify(`device:${deviceRaw}`) : null;
  const ip = input.ip ?? null;
  const net = ip ? networkOf(ip) : null;
  const codeHash = codeHashOf(ctx, input.code, promotion);
  // Devices stand in for people only when nobody is named (an anonymous id alone): then they are the identifier.
  const limitIds = idHashes.length > 0 ? idHashes : device ? [device] : [];
  const keys: AttemptKeys = {
    workspaceId,
    identifiers: limitIds,
    device,
    ip: ip ? ctx.keys.identify(`ip:${ip}`) : null,
    net: net ? ctx.keys.identify(`net:${net}`) : null,
    guessScope: promotion?.id ?? '*',
    guessesPerMinute: promotion?.guesses_per_minute ?? ctx.guessesPerMinute,
    looksUp: codeHash !== null,
  };
  return {
    at: now,
    ids,
    idHashes,
    primary: primaryId ? { kind: primaryId.kind, hash: idHashes[primaryIndex] as string } : null,
    device,
    ip,
    net,
    codeHash,
    promotion,
    keys,
  };
}

const FAILURES = new Set(['unknown', 'used', 'expired', 'paused', 'revoked', 'other_promotion']);
const RETRYABLE = new Set(['40P01', '40001', CONCURRENT_MERGE]);

export function createRegistrar(deps: RegisterDeps) {
  const queues = new Map<string, Prepared[]>();
  let inFlight = 0;
  const LANES = 2;
  const MAX_GROUP = 200;

  function pump() {
    while (inFlight < LANES && queues.size > 0) {
      const [workspaceId, waiting] = queues.entries().next().value as [string, Prepared[]];
      const group = waiting.splice(0, MAX_GROUP);
      if (waiting.length === 0) queues.delete(workspaceId);
      inFlight++;
      void runGroup(workspaceId, group).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  async function runGroup(workspaceId: string, group: Prepared[]) {
    let ctx: WorkspaceContext;
    let readings: Map<string, CounterReading>;
    try {
      // Read before any transaction: on PGlite a read on the root handle inside one would wait for it forever.
      ctx = await deps.context.get(deps.db, workspaceId);
      readings = await decide(ctx, workspaceId, group);
    } catch (error) {
      deps.logger?.error({ err: error }, 'code registration: limits and pre-checks failed');
      for (const p of group) p.reject(error);
      return;
    }
    const before = group.filter((p) => p.outcome);
    const pending = group.filter((p) => !p.outcome);
    try {
      if (pending.length === 0) await repo.insertAttempts(deps.db, workspaceId, before.map(attemptRow));
      else await commitWithRetry(ctx, workspaceId, pending, before);
    } catch (error) {
      // One bad attempt must not fail the others: the attempts decided before, then each of the rest alone.
      deps.logger?.warn({ err: error, size: group.length }, 'code registration group failed; retrying one by one');
      await repo.insertAttempts(deps.db, workspaceId, before.map(attemptRow)).catch(() => {});
      for (const p of pending) {
        await commitWithRetry(ctx, workspaceId, [p], []).catch((e: unknown) => {
          p.outcome = undefined;
          p.failure = e;
        });
      }
    }
    await countAfter(ctx, group, readings).catch((error: unknown) =>
      deps.logger?.error({ err: error }, 'code registration: failures not counted'),
    );
    // Answered once the failures are counted: the caller's next attempt sees them.
    for (const p of group) {
      if (p.outcome) p.resolve(p.outcome);
      else p.reject(p.failure ?? new Error('registration not decided'));
    }
  }

  /** Steps 1–3: limits, typos, closed promotions, used-up allowances and budgets. No lock, no code lookup. */
  async function decide(ctx: WorkspaceContext, workspaceId: string, group: Prepared[]) {
    const { hits, peeks } = beforeGroup(
      group.map((p) => p.keys),
      ctx.limits,
    );
    // The limits and the allowance pre-check read at once (the pre-check's reads are wasted on attempts the limits
    // stop, which are few): one round trip instead of two.
    const candidates = group.filter((p) => p.codeHash && !(p.promotion && !isOpen(p.promotion, p.at)));
    const relevant = (p: Prepared) => (p.promotion ? [p.promotion] : ctx.open);
    const keys = candidates.flatMap((p) =>
      relevant(p).flatMap((promo) => p.idHashes.flatMap((h) => allowanceKeys(promo, `i:${h}`, p.at).map((k) => k.key))),
    );
    const budgeted = new Set(
      candidates.flatMap((p) =>
        relevant(p)
          .filter((promo) => promo.budget !== null)
          .map((x) => x.id),
      ),
    );
    // The lookup runs alongside too: a read without locks, whose result is used only for attempts the limits let
    // through (the claim's unique row settles any race since).
    const [readings, counts, used, found] = await Promise.all([
      countRateLimits(deps.db, deps.clock, hits, peeks),
      repo.personCounts(deps.db, workspaceId, keys),
      repo.budgetsUsed(deps.db, workspaceId, [...budgeted]),
      repo.lookUpCodes(
        deps.db,
        workspaceId,
        deps.clock.now(),
        candidates.map((p) => p.codeHash as string),
        candidates.map((p) => p.promotion?.id ?? null),
      ),
    ]);
    const byOrd = new Map(found.map((c) => [c.ord, c]));
    candidates.forEach((p, i) => {
      p.found = byOrd.get(i) ?? null;
    });
    const waits = admit(
      group.map((p) => p.keys),
      ctx.limits,
      readings,
    );
    group.forEach((p, i) => {
      const wait = waits[i];
      if (wait) decided(p, { status: 'limited', retryAfterSeconds: wait }, 'rate_limit');
      else if (!p.codeHash) decided(p, { status: 'typo' }, 'check_character');
      else if (p.promotion && !isOpen(p.promotion, p.at)) decided(p, { status: 'closed' }, 'promotion_closed');
    });
    for (const p of group) {
      if (p.outcome) continue;
      const promos = relevant(p);
      if (promos.length === 0) continue;
      const spent = (promo: repo.PromotionRow) =>
        promo.budget !== null && (used.get(promo.id) ?? promo.budget_used) >= promo.budget;
      const atLimit = (promo: repo.PromotionRow) =>
        p.idHashes.some((h) =>
          allowanceKeys(promo, `i:${h}`, p.at).some(
            ({ key, limit }) => (counts.get(repo.countKey(key.promotionId, key.subject, key.period)) ?? 0) >= limit,
          ),
        );
      if (promos.every((promo) => spent(promo) || atLimit(promo))) {
        if (promos.every(spent)) decided(p, { status: 'budget_exhausted' }, 'budget');
        else decided(p, { status: 'person_limit' }, 'person_limit');
      }
    }
    return readings;
  }

  async function commitWithRetry(ctx: WorkspaceContext, workspaceId: string, pending: Prepared[], before: Prepared[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.db
          .transaction()
          .execute((trx) => commitGroup(deps, trx, ctx, workspaceId, deps.clock.now(), pending, before));
        return;
      } catch (error) {
        for (const p of pending) {
          p.outcome = undefined;
          p.reason = undefined;
        }
        const code = (error as { code?: string }).code;
        if (attempt < 6 && code && RETRYABLE.has(code)) continue;
        throw error;
      }
    }
  }

  /** Step 5: failures counted, guess reservations of lookups that did not fail given back. */
  async function countAfter(ctx: WorkspaceContext, group: Prepared[], readings: Map<string, CounterReading>) {
    const { hits, refunds } = afterGroup(
      group.map((p) => ({ keys: p.keys, failed: Boolean(p.reason && FAILURES.has(p.reason)) })),
      ctx.limits,
      readings,
    );
    await Promise.all([
      hits.length > 0 ? countRateLimits(deps.db, deps.clock, hits) : undefined,
      refundRateLimits(deps.db, refunds),
    ]);
  }

  return {
    /** Registers one code; resolves with the outcome once it is committed. */
    async register(workspaceId: string, input: RegistrationInput): Promise<RegistrationOutcome> {
      const ctx = await deps.context.get(deps.db, workspaceId);
      const prepared = prepare(ctx, workspaceId, input, deps.clock.now());
      return new Promise<RegistrationOutcome>((resolve, reject) => {
        const item: Prepared = { ...prepared, input, workspaceId, resolve, reject };
        const waiting = queues.get(workspaceId);
        if (waiting) waiting.push(item);
        else queues.set(workspaceId, [item]);
        pump();
      });
    },
  };
}
