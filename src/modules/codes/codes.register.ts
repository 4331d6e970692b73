import { sql } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { type CounterReading, countRateLimits, refundRateLimits } from '../../platform/ratelimit.ts';
import type { ConsentStatement } from '../consent/index.ts';
import { CONCURRENT_MERGE, type Identifier, normalizeIdentifier, type ProfilesModule } from '../profiles/index.ts';
import { isWellFormed, MAX_LENGTH, normalizeCode } from './codes.alphabet.ts';
import { IMPORTED_CODE } from './codes.bulk.ts';
import {
  type AttemptKeys,
  admit,
  afterGroup,
  beforeGroup,
  type LimitSettings,
  limitsOf,
  networkOf,
} from './codes.limits.ts';
import * as repo from './codes.repo.ts';
import type { GivenConsent, Reward } from './codes.schemas.ts';
import type { KeyRing, WorkspaceKeys } from './codes.service.ts';

/**
 * Registration of a code: the busiest and most attacked path of the module. Requests arriving together are
 * handled as a group in one transaction (group commit, as ingestion does), so that a TV spot's burst costs a
 * handful of statements per group rather than per person. Per attempt, in order:
 *
 *   1. limits (attempts counted, failure counters read) — before anything depends on the code;
 *   2. the typo check (check character) — depends on the text alone, leaks nothing;
 *   3. pre-checks that depend on the person and the promotion only: allowance used up, prize fund spent;
 *   4. in one transaction: look the code up, resolve the person, claim the code (a unique row: exactly once
 *      whatever the concurrency), post-check the person's allowance and the budget under lock, record consents,
 *      record every attempt, enqueue the `Code Registered` event for the timeline;
 *   5. count failures.
 *
 * Unknown, used, expired, foreign and other-promotion codes all end as the same `refused` outcome.
 */

export const CODE_REGISTERED_JOB = 'codes.registered';

export type Enqueue = (trx: Db, name: string, data: object) => Promise<string | null>;

export interface RegisterDeps {
  db: Db;
  clock: Clock;
  logger?: Logger;
  keys: KeyRing;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection' | 'readmitIdentifiers'>;
  recordConsents: (
    trx: Db,
    workspaceId: string,
    profileId: string,
    statements: ConsentStatement[],
    proof: { ip?: string | null; userAgent?: string | null },
  ) => Promise<unknown>;
  enqueue: Enqueue;
  context: WorkspaceContextCache;
}

export type RegistrationChannel = 'api' | 'page' | 'sms' | 'messenger';

export interface RegistrationInput {
  code: string;
  phone?: string;
  email?: string;
  userId?: string;
  anonymousId?: string;
  /** A messenger id, `kind:id` (telegram:12345). */
  messenger?: string;
  /** A promotion key or id: the code is looked up in this promotion only. */
  promotion?: string;
  consents?: GivenConsent[];
  channel: RegistrationChannel;
  ip?: string | null;
  userAgent?: string | null;
  /** A device id other than anonymousId (the hosted page's cookie). */
  device?: string | null;
}

export type RegistrationOutcome =
  | {
      status: 'accepted';
      registrationId: string;
      promotion: { id: string; key: string; name: string };
      reward: Reward;
      consents: { recorded: number; rejected: string | null };
    }
  | { status: 'typo' }
  | { status: 'refused' }
  | { status: 'limited'; retryAfterSeconds: number }
  | { status: 'person_limit' }
  | { status: 'budget_exhausted' }
  | { status: 'closed' };

// ---- what a process knows about a workspace, briefly

export interface WorkspaceContext {
  keys: WorkspaceKeys;
  limits: LimitSettings;
  guessesPerMinute: number;
  /** Active promotions whose window is open (as of when this was read). */
  open: repo.PromotionRow[];
  byId: Map<string, repo.PromotionRow>;
  byKey: Map<string, repo.PromotionRow>;
  /** Code lengths of live imported batches, per promotion. */
  imported: { promotion_id: string; min_length: number; max_length: number }[];
}

export interface WorkspaceContextCache {
  get(db: Db, workspaceId: string): Promise<WorkspaceContext>;
  invalidate(workspaceId: string): void;
}

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

// ---- one attempt, prepared

interface Prepared {
  input: RegistrationInput;
  workspaceId: string;
  at: Date;
  ids: Identifier[];
  /** Keyed hashes of the person-level identifiers. */
  idHashes: string[];
  primary: { kind: string; hash: string } | null;
  device: string | null;
  ip: string | null;
  net: string | null;
  /** The stored hash of the code, or null when it is a typo. */
  codeHash: string | null;
  promotion: repo.PromotionRow | null;
  keys: AttemptKeys;
  outcome?: RegistrationOutcome;
  reason?: string;
  profileId?: string;
  batchId?: string;
  promotionId?: string;
  failure?: unknown;
  resolve: (outcome: RegistrationOutcome) => void;
  reject: (error: unknown) => void;
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

// ---- local day and counts

const dayFormats = new Map<string, Intl.DateTimeFormat>();
function localDay(timeZone: string, at: Date) {
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, f);
  }
  return f.format(at);
}

function allowanceKeys(p: repo.PromotionRow, subject: string, at: Date): { key: repo.CountKey; limit: number }[] {
  const keys: { key: repo.CountKey; limit: number }[] = [];
  if (p.per_person_per_day)
    keys.push({
      key: { promotionId: p.id, subject, period: localDay(p.time_zone, at) },
      limit: p.per_person_per_day,
    });
  if (p.per_person_total)
    keys.push({ key: { promotionId: p.id, subject, period: 'total' }, limit: p.per_person_total });
  return keys;
}

const FAILURES = new Set(['unknown', 'used', 'expired', 'paused', 'revoked', 'other_promotion']);
const RETRYABLE = new Set(['40P01', '40001', CONCURRENT_MERGE]);

export function createRegistrar(deps: RegisterDeps) {
  const queues = new Map<string, Prepared[]>();
  let inFlight = 0;
  const LANES = Number(process.env.CODES_LANES ?? 2);
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
    const [readings, counts, used] = await Promise.all([
      countRateLimits(deps.db, deps.clock, hits, peeks),
      repo.personCounts(deps.db, workspaceId, keys),
      repo.budgetsUsed(deps.db, workspaceId, [...budgeted]),
    ]);
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
        await deps.db.transaction().execute((trx) => commit(trx, ctx, workspaceId, pending, before));
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

  /** Step 4, in one transaction. */
  async function commit(trx: Db, ctx: WorkspaceContext, workspaceId: string, pending: Prepared[], before: Prepared[]) {
    const now = deps.clock.now();
    const found = await repo.lookUpCodes(
      trx,
      workspaceId,
      now,
      pending.map((p) => p.codeHash as string),
      pending.map((p) => p.promotion?.id ?? null),
    );
    const byOrd = new Map(found.map((c) => [c.ord, c]));
    const claims: { p: Prepared; c: repo.Candidate }[] = [];
    const claimedHashes = new Set<string>();
    for (const [i, p] of pending.entries()) {
      const c = byOrd.get(i);
      if (!c) {
        decided(p, { status: 'refused' }, 'unknown');
        continue;
      }
      p.batchId = c.batch_id;
      p.promotionId = c.promotion_id;
      if (c.refusal) decided(p, { status: 'refused' }, c.refusal);
      // The same code twice in one group: the first one claims it.
      else if (claimedHashes.has(c.code_hash)) decided(p, { status: 'refused' }, 'used');
      else {
        claimedHashes.add(c.code_hash);
        claims.push({ p, c });
      }
    }

    let projection: Parameters<RegisterDeps['profiles']['applyProjection']>[2] = [];
    if (claims.length > 0) {
      const resolution = await deps.profiles.resolveObservations(
        trx,
        workspaceId,
        claims.map(({ p }) => ({ ids: p.ids, traits: null, at: now, channel: 'code_entry' })),
      );
      projection = resolution.projection;
      // Entering a code is the person's own doing: an erased person who comes back is taken in again.
      await deps.profiles.readmitIdentifiers(
        trx,
        workspaceId,
        claims.flatMap(({ p }) => p.ids),
      );
      const promotionOf = async (id: string) =>
        ctx.byId.get(id) ?? ((await repo.promotionById(trx, workspaceId, id)) as repo.PromotionRow);
      const rows: (repo.RedemptionWrite & { p: Prepared })[] = [];
      for (const [i, { p, c }] of claims.entries()) {
        p.profileId = resolution.profileIds[i] as string;
        const promo = await promotionOf(c.promotion_id);
        rows.push({
          p,
          id: newId(),
          codeHash: c.code_hash,
          promotionId: c.promotion_id,
          batchId: c.batch_id,
          profileId: p.profileId,
          channel: p.input.channel,
          reward: promo.reward,
        });
      }
      const won = await repo.insertRedemptions(trx, workspaceId, now, rows);
      const winners = rows.filter((r) => {
        if (won.has(r.id)) return true;
        decided(r.p, { status: 'refused' }, 'used');
        return false;
      });
      const dropped = new Set<string>();
      await checkAllowances(trx, workspaceId, winners, promotionOf, dropped);
      await takeBudgets(trx, workspaceId, winners, promotionOf, dropped);
      await repo.deleteRedemptions(trx, workspaceId, [...dropped]);
      const messages: object[] = [];
      for (const r of winners) {
        if (dropped.has(r.id)) continue;
        const promo = await promotionOf(r.promotionId);
        const consents = await recordConsents(trx, workspaceId, r.p);
        decided(
          r.p,
          {
            status: 'accepted',
            registrationId: r.id,
            promotion: { id: promo.id, key: promo.key, name: promo.name },
            reward: promo.reward,
            consents,
          },
          null,
        );
        messages.push(eventOf(r, promo, now));
      }
      if (messages.length > 0) await deps.enqueue(trx, CODE_REGISTERED_JOB, { workspaceId, messages });
    }
    await repo.insertAttempts(trx, workspaceId, [...before, ...pending].map(attemptRow));
    // Last: row locks on busy profiles are held only until the commit right after.
    if (projection.length > 0) await deps.profiles.applyProjection(trx, workspaceId, projection);
  }

  /**
   * The person's allowance per day and per promotion: the counts are raised in one statement (locking them until
   * the commit) and read back; a claim that takes one over its limit is undone and its share given back.
   */
  async function checkAllowances(
    trx: Db,
    workspaceId: string,
    winners: (repo.RedemptionWrite & { p: Prepared })[],
    promotionOf: (id: string) => Promise<repo.PromotionRow>,
    dropped: Set<string>,
  ) {
    const plans: { r: (typeof winners)[number]; keys: { id: string; limit: number }[] }[] = [];
    const adds = new Map<string, number>();
    for (const r of winners) {
      const promo = await promotionOf(r.promotionId);
      const subjects = [`p:${r.profileId}`, ...r.p.idHashes.map((h) => `i:${h}`)];
      const keys = [
        ...new Map(
          subjects
            .flatMap((s) => allowanceKeys(promo, s, r.p.at))
            .map(
              ({ key, limit }) =>
                [
                  repo.countKey(key.promotionId, key.subject, key.period),
                  { id: repo.countKey(key.promotionId, key.subject, key.period), limit },
                ] as const,
            ),
        ).values(),
      ];
      if (keys.length === 0) continue;
      plans.push({ r, keys });
      for (const k of keys) adds.set(k.id, (adds.get(k.id) ?? 0) + 1);
    }
    if (plans.length === 0) return;
    const after = await repo.addPersonCounts(trx, workspaceId, adds);
    // The counts before this group, then each claim in order: within the limit, or undone.
    const running = new Map([...adds.entries()].map(([id, n]) => [id, (after.get(id) ?? n) - n]));
    const giveBack = new Map<string, number>();
    for (const { r, keys } of plans) {
      const over = keys.some(({ id, limit }) => (running.get(id) ?? 0) >= limit);
      if (over) {
        dropped.add(r.id);
        // Said as a refusal, not as "limit reached": that would tell a valid code from an unknown one.
        decided(r.p, { status: 'refused' }, 'person_limit');
        for (const { id } of keys) giveBack.set(id, (giveBack.get(id) ?? 0) - 1);
        continue;
      }
      for (const { id } of keys) running.set(id, (running.get(id) ?? 0) + 1);
    }
    if (giveBack.size > 0) await repo.addPersonCounts(trx, workspaceId, giveBack);
  }

  async function takeBudgets(
    trx: Db,
    workspaceId: string,
    winners: (repo.RedemptionWrite & { p: Prepared })[],
    promotionOf: (id: string) => Promise<repo.PromotionRow>,
    dropped: Set<string>,
  ) {
    const byPromotion = new Map<string, (typeof winners)[number][]>();
    for (const r of winners) {
      if (dropped.has(r.id) || (await promotionOf(r.promotionId)).budget === null) continue;
      byPromotion.set(r.promotionId, [...(byPromotion.get(r.promotionId) ?? []), r]);
    }
    for (const [promotionId, rows] of [...byPromotion.entries()].sort()) {
      const granted = await repo.takeBudget(trx, workspaceId, promotionId, rows.length);
      for (const r of rows.slice(granted)) {
        dropped.add(r.id);
        decided(r.p, { status: 'refused' }, 'budget');
      }
    }
  }

  async function recordConsents(trx: Db, workspaceId: string, p: Prepared) {
    const statements = p.input.consents ?? [];
    if (statements.length === 0 || !p.profileId) return { recorded: 0, rejected: null };
    // A savepoint: consents the consent module refuses (unknown purpose …) do not cost the person their code.
    await sql`savepoint code_consents`.execute(trx);
    try {
      await deps.recordConsents(
        trx,
        workspaceId,
        p.profileId,
        statements.map((s) => ({ ...s, source: 'code_entry' }) as ConsentStatement),
        { ip: p.ip, userAgent: p.input.userAgent ?? null },
      );
      await sql`release savepoint code_consents`.execute(trx);
      return { recorded: statements.length, rejected: null };
    } catch (error) {
      await sql`rollback to savepoint code_consents`.execute(trx);
      if (error instanceof DomainError) return { recorded: 0, rejected: error.code };
      throw error;
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

function decided(p: Prepared, outcome: RegistrationOutcome, reason: string | null) {
  p.outcome = outcome;
  p.reason = reason ?? undefined;
}

function isOpen(p: repo.PromotionRow, at: Date) {
  return p.status === 'active' && p.starts_at <= at && p.ends_at > at;
}

function attemptRow(p: Prepared): repo.AttemptWrite {
  const outcome = p.outcome?.status;
  return {
    id: newId(),
    at: p.at,
    outcome:
      outcome === 'accepted' ? 'accepted' : outcome === 'typo' ? 'typo' : outcome === 'limited' ? 'limited' : 'refused',
    reason: p.reason ?? null,
    channel: p.input.channel,
    promotionId: p.promotionId ?? p.promotion?.id ?? null,
    batchId: p.batchId ?? null,
    codeHash: p.codeHash,
    ip: p.ip,
    net: p.net,
    deviceHash: p.device,
    identifierKind: p.primary?.kind ?? null,
    identifierHash: p.primary?.hash ?? null,
    profileId: p.outcome?.status === 'accepted' ? (p.profileId ?? null) : null,
  };
}

/** The timeline's `Code Registered` event; its messageId makes the job's retries add nothing. */
function eventOf(r: repo.RedemptionWrite & { p: Prepared }, promo: repo.PromotionRow, at: Date) {
  const input = r.p.input;
  const traits: Record<string, string> = {};
  for (const id of r.p.ids) if (id.kind === 'phone' || id.kind === 'email') traits[id.kind] = id.value;
  const userId = r.p.ids.find((i) => i.kind === 'user_id')?.value;
  const anonymousId = r.p.ids.find((i) => i.kind === 'anonymous_id')?.value;
  const messenger = r.p.ids.find((i) => !['user_id', 'email', 'phone', 'anonymous_id'].includes(i.kind));
  return {
    type: 'track',
    event: 'Code Registered',
    messageId: `code-registration:${r.id}`,
    timestamp: at.toISOString(),
    ...(userId ? { userId } : {}),
    ...(anonymousId ? { anonymousId } : {}),
    context: {
      channel: 'code_entry',
      traits,
      ...(messenger ? { externalIds: [{ type: messenger.kind, id: messenger.value }] } : {}),
    },
    properties: {
      registrationId: r.id,
      promotionId: promo.id,
      promotion: promo.key,
      batchId: r.batchId,
      channel: input.channel,
      reward: promo.reward,
      ...(promo.reward.kind === 'points' ? { rewardPoints: promo.reward.points } : {}),
    },
  };
}
