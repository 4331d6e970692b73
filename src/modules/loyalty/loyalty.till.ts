import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, sha256Hex } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { heardApply, LedgerDraft } from './loyalty.ledger.ts';
import { checkProof, FAILED_PROOFS, WrongCode } from './loyalty.proof.ts';
import * as repo from './loyalty.repo.ts';
import { currentPeriods, evaluateEarn, localTime, purchaseRecord, usageKey } from './loyalty.rules.ts';
import type { AdjustmentCreate, CustomerRef, PurchaseCreate, TransactionResult } from './loyalty.schemas.ts';
import { keyReused, type LoyaltyDeps, type ProgrammeState, requestHash } from './loyalty.service.ts';
import { tiersSince, upgradeFor } from './loyalty.tiers.ts';

/**
 * Till and e-commerce transactions: purchases (earning by the rules, paying with points), adjustments, expiry; the
 * `change` every ledger change runs through (returns and reversals are in loyalty.returns.ts). Each change reads the
 * member's state, plans in memory (LedgerDraft) and applies in one statement on the version it read.
 */

export interface Answer<T> {
  status: number;
  body: T;
  /** True when the idempotency key had been used for this very request: the stored answer, nothing changed. */
  replayed: boolean;
}

export interface ChangeContext {
  /** Reads while planning (no transaction: the version check at apply time makes them consistent or retried). */
  db: Db;
  state: ProgrammeState;
  member: ledgerRepo.MemberState;
  draft: LedgerDraft;
  changes: ledgerRepo.Changes;
  now: Date;
  /** A one-time code the change uses up (checked while planning, consumed by the apply). */
  verification: { id: string; at: Date } | null;
  /** Written in the apply's transaction (the audit entry of a staff change). */
  alongside?: (trx: Db) => Promise<void>;
}

type Who = ledgerRepo.MemberKey | { profileId: string };

const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 12;

export function memberKeyOf(ref: CustomerRef): Who {
  if ('card' in ref) return { card: ref.card };
  if ('qr' in ref) return { qrHash: sha256Hex(ref.qr) };
  return { profileId: ref.profileId };
}

const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));

/**
 * Runs one change of a member's wallets in two statements: read the member's state (and the stored answer of the
 * idempotency key), let `plan` draft the change in memory, apply it with the answer — only on the version read;
 * a concurrent change of the same member makes the apply raise 40001 and the change is planned again on fresh
 * state. A replay answers the stored result; the same key with another request is 409.
 */
export async function change<T>(
  deps: LoyaltyDeps,
  workspaceId: string,
  programmeKey: string,
  who: Who,
  idempotency: { key: string; hash: string } | null,
  recordedBy: string | null,
  plan: (ctx: ChangeContext) => Promise<{ status: number; body: T }>,
): Promise<Answer<T>> {
  let state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  let key: ledgerRepo.MemberKey | undefined = 'profileId' in who ? undefined : who;
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    try {
      if (!key) {
        const profileId = await deps.profiles.directory.liveProfileId(
          deps.db,
          workspaceId,
          (who as { profileId: string }).profileId,
        );
        if (!profileId) throw notFound('Profile', 'PROFILE_NOT_FOUND');
        const m = await repo.ensureMember(deps.db, workspaceId, state.row.id, profileId, {
          id: newId(),
          now,
          wallets: [...state.wallets.keys()],
        });
        key = { memberId: m.id };
      }
      const read = {
        periods: currentPeriods(state.rules, now, state.row.time_zone),
        idempotencyKey: idempotency?.key,
        tiersSince: tiersSince(state, now),
      };
      const member = deps.batches
        ? await deps.batches.read(ledgerRepo.stateItem(workspaceId, state.row.id, key, read))
        : await ledgerRepo.readMember(deps.db, workspaceId, state.row.id, key, read);
      if (!member) {
        if ('memberId' in key) throw notFound('Member', 'MEMBER_NOT_FOUND');
        throw notFound('Card', 'CARD_NOT_FOUND');
      }
      if (member.request && idempotency) {
        if (member.request.hash !== idempotency.hash) throw keyReused();
        return { status: member.request.status, body: member.request.response as T, replayed: true };
      }
      if (member.programmeVersion !== state.row.version) {
        // Rules or settings changed since this process cached them: reload, and read again with the new caps.
        state = await deps.programmes.load(deps.db, workspaceId, programmeKey);
        continue;
      }
      if (member.cardStatus === 'blocked') throw new DomainError('conflict', 'CARD_BLOCKED', 'This card is blocked.');
      if (member.cardStatus === 'replaced')
        throw new DomainError('conflict', 'CARD_REPLACED', 'This card was replaced; use the new card.');
      const changes = ledgerRepo.emptyChanges();
      const draft = new LedgerDraft(member, changes, now, recordedBy);
      const ctx: ChangeContext = { db: deps.db, state, member, draft, changes, now, verification: null };
      const result = await plan(ctx);
      const apply: ledgerRepo.Apply = {
        ...heardApply(member, changes),
        request: idempotency ? { ...idempotency, status: result.status, response: result.body, at: now } : null,
        verification: ctx.verification,
      };
      const alongside = ctx.alongside;
      if (alongside)
        await deps.db.transaction().execute(async (trx) => {
          await ledgerRepo.applyChanges(trx, workspaceId, apply);
          await alongside(trx);
        });
      else if (deps.batches) await deps.batches.apply(ledgerRepo.applyItem(workspaceId, apply));
      else await ledgerRepo.applyChanges(deps.db, workspaceId, apply);
      deps.timelineWritten();
      return { ...result, replayed: false };
    } catch (error) {
      if (error instanceof WrongCode) {
        if (error.verificationId) await repo.countFailedAttempt(deps.db, workspaceId, error.verificationId);
        await hitRateLimit(deps.db, deps.clock, `loyalty-proof:${error.memberId}`, FAILED_PROOFS);
        throw error;
      }
      const e = error as { code?: string; constraint?: string };
      // The key's holder committed meanwhile: read again, which answers its stored result (or 409).
      if (e.code === '23505' && e.constraint === 'loyalty_requests_pkey' && attempt < ATTEMPTS) continue;
      if (e.code === 'LY001')
        throw new DomainError('conflict', 'VERIFICATION_USED', 'This code has been used; ask for a new one.');
      if (e.code === '23514')
        // A CHECK (balance or lot never negative) refused the write: the planning guards make this unreachable.
        throw new DomainError('conflict', 'INSUFFICIENT_POINTS', 'Not enough points for this change.');
      if (e.code && RETRYABLE.has(e.code)) {
        if (attempt < ATTEMPTS) {
          await pause(attempt);
          continue;
        }
        throw new DomainError('conflict', 'CONCURRENT_CHANGE', 'The customer’s points kept changing; try again.');
      }
      throw error;
    }
  }
}

export function result(
  ctx: ChangeContext,
  transactionId: string,
  kind: TransactionResult['kind'],
  parts: Partial<Pick<TransactionResult, 'earned' | 'spent' | 'clawedBack' | 'notRecovered' | 'refunded'>>,
): TransactionResult {
  return {
    transactionId,
    kind,
    memberId: ctx.member.memberId,
    profileId: ctx.member.profileId,
    earned: parts.earned ?? [],
    spent: parts.spent ?? 0,
    clawedBack: parts.clawedBack ?? 0,
    notRecovered: parts.notRecovered ?? 0,
    refunded: parts.refunded ?? 0,
    balances: ctx.draft.balancesAfter([...ctx.state.wallets.keys()]),
    tier: ctx.changes.tier?.key ?? ctx.member.tier,
  };
}

export function tillFields(actor: Actor, input: { branch?: string; cashier?: string; channel: string }) {
  return {
    channel: input.channel,
    branch: input.branch ?? null,
    branchId: actor.principal.scope.branchId,
    cashier: input.cashier ?? null,
    recordedBy: actor.principal.actorLabel,
  };
}

export function idempotencyOf(operation: string, key: string | undefined, body: unknown) {
  return key ? { key, hash: requestHash(operation, body) } : null;
}

/** A purchase at a till or online: pays with points if asked (with proof), then earns by the rules. */
export async function registerPurchase(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  input: PurchaseCreate,
  key: string,
): Promise<Answer<TransactionResult>> {
  const { workspaceId } = actor.principal.scope;
  const now = deps.clock.now();
  const occurredAt = input.occurredAt ? new Date(input.occurredAt) : now;
  if (occurredAt.getTime() > now.getTime() + 60_000)
    throw new DomainError('invalid', 'INVALID_TIME', 'occurredAt lies in the future.');
  const fields = tillFields(actor, input);
  return change(
    deps,
    workspaceId,
    programmeKey,
    memberKeyOf(input.customer),
    idempotencyOf(`purchase:${programmeKey}`, key, input),
    fields.recordedBy,
    async (ctx) => {
      const { state, member, draft, changes } = ctx;
      if (input.currency !== state.row.currency)
        throw new DomainError('invalid', 'CURRENCY_MISMATCH', `The programme counts in ${state.row.currency}.`);
      const txId = newId();
      const wallet = state.paymentWallet;
      const spend = input.pointsToSpend;
      let pointsValue = 0;
      const draftRecord = purchaseRecord({
        ...input,
        pointsValue: 0,
        ...fields,
        tier: member.tier,
        clubs: member.clubs,
        occurredAt,
        timeZone: state.row.time_zone,
      });
      if (spend > 0) {
        if (!wallet)
          throw new DomainError('invalid', 'POINTS_PAYMENT_DISABLED', 'Points cannot pay in this programme.');
        pointsValue = spend * wallet.valueMinor;
        if (pointsValue > Math.floor((draftRecord.amount * state.row.settings.maxPaymentPercent) / 100))
          throw new DomainError(
            'invalid',
            'PAYMENT_TOO_LARGE',
            `Points may pay at most ${state.row.settings.maxPaymentPercent}% of a purchase.`,
          );
        await checkProof(ctx, workspaceId, input.verification, 'qrHash' in memberKeyOf(input.customer));
        draft.debit({ kind: 'burn', wallet: wallet.key, points: spend, transactionId: txId, reason: null });
      }
      const record =
        spend > 0
          ? purchaseRecord({
              ...input,
              pointsValue,
              ...fields,
              tier: member.tier,
              clubs: member.clubs,
              occurredAt,
              timeZone: state.row.time_zone,
            })
          : draftRecord;
      const usage = new Map(member.usage.map((u) => [usageKey(u.ruleId, u.period), u]));
      const evaluation = evaluateEarn(state.rules, record, usage, state.row.time_zone);
      const earned: TransactionResult['earned'] = [];
      for (const e of evaluation.earned) {
        const w = state.wallets.get(e.wallet);
        if (!w) continue;
        draft.credit({
          kind: 'earn',
          wallet: w,
          points: e.points,
          transactionId: txId,
          ruleId: e.ruleId,
          reason: null,
          from: occurredAt,
          pending: true,
        });
        earned.push({ wallet: e.wallet, points: e.points, ruleId: e.ruleId });
      }
      changes.usage = evaluation.usage.map((u) => ({ ...u, memberId: member.memberId }));
      const local = localTime(occurredAt, state.row.time_zone);
      const total = earned.reduce((s, e) => s + e.points, 0);
      changes.tier = upgradeFor(state, member, { spend: record.amount, points: total }, ctx.now);
      changes.transactions.push({
        id: txId,
        programmeId: state.row.id,
        memberId: member.memberId,
        kind: 'purchase',
        originalId: null,
        externalId: input.externalId ?? null,
        occurredAt,
        recordedAt: ctx.now,
        ...fields,
        currency: input.currency,
        amount: record.amount,
        pointsSpent: spend,
        lines: record.lines.map(({ paid: _paid, ...l }) => l),
        eventName: null,
        properties: null,
        tier: member.tier,
        localWeekday: local.weekday,
        localHour: local.hour,
        earned: total,
      });
      changes.timeline.push({
        id: txId,
        profileId: member.profileId,
        name: 'Loyalty Purchase',
        properties: {
          transactionId: txId,
          programme: programmeKey,
          externalId: input.externalId ?? null,
          amount: record.amount,
          currency: input.currency,
          branch: fields.branch,
          pointsEarned: total,
          pointsSpent: spend,
        },
        channel: fields.channel,
        occurredAt,
        card: member.cardIdentifier,
      });
      return { status: 201, body: result(ctx, txId, 'purchase', { earned, spent: spend }) };
    },
  );
}

/** A manual credit or debit by staff with a reason (loyalty:manage), audited in the same transaction. */
export async function adjust(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  input: AdjustmentCreate,
  key: string,
): Promise<Answer<TransactionResult>> {
  const { workspaceId } = actor.principal.scope;
  const recordedBy = actor.principal.actorLabel;
  return change(
    deps,
    workspaceId,
    programmeKey,
    memberKeyOf(input.customer),
    idempotencyOf(`adjust:${programmeKey}`, key, input),
    recordedBy,
    async (ctx) => {
      const wallet = ctx.state.wallets.get(input.wallet);
      if (!wallet) throw new DomainError('invalid', 'UNKNOWN_WALLET', `The programme has no wallet "${input.wallet}".`);
      const txId = newId();
      if (input.points > 0)
        ctx.draft.credit({
          kind: 'adjust',
          wallet,
          points: input.points,
          transactionId: txId,
          ruleId: null,
          reason: input.reason,
          from: ctx.now,
          pending: false,
        });
      else
        ctx.draft.debit({
          kind: 'adjust',
          wallet: wallet.key,
          points: -input.points,
          transactionId: txId,
          reason: input.reason,
        });
      ctx.changes.transactions.push({
        id: txId,
        programmeId: ctx.state.row.id,
        memberId: ctx.member.memberId,
        kind: 'adjustment',
        originalId: null,
        externalId: null,
        occurredAt: ctx.now,
        recordedAt: ctx.now,
        channel: 'staff',
        branch: null,
        branchId: actor.principal.scope.branchId,
        cashier: null,
        recordedBy,
        currency: null,
        amount: 0,
        pointsSpent: 0,
        lines: null,
        eventName: null,
        properties: { reason: input.reason },
        tier: ctx.member.tier,
        localWeekday: null,
        localHour: null,
        earned: Math.max(0, input.points),
      });
      ctx.alongside = (trx) =>
        deps.audit(
          trx,
          actor,
          'loyalty.adjusted',
          { kind: 'profile', id: ctx.member.profileId },
          {
            transactionId: txId,
            wallet: wallet.key,
            points: input.points,
          },
        );
      const earned = input.points > 0 ? [{ wallet: wallet.key, points: input.points, ruleId: null }] : [];
      return {
        status: 201,
        body: result(ctx, txId, 'adjustment', { earned, spent: input.points < 0 ? -input.points : 0 }),
      };
    },
  );
}

/** Writes off points past their expiry for one member (the expiry job calls it per member). */
export async function expireMember(deps: LoyaltyDeps, workspaceId: string, programmeKey: string, memberId: string) {
  let expired = 0;
  await change(deps, workspaceId, programmeKey, { memberId }, null, 'expiry', async (ctx) => {
    expired = ctx.draft.expireDue();
    return { status: 200, body: null };
  });
  return expired;
}
