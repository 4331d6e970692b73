import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { shareOf } from './loyalty.ledger.ts';
import type { ReturnCreate, ReversalCreate, TransactionResult } from './loyalty.schemas.ts';
import type { LoyaltyDeps } from './loyalty.service.ts';
import { type Answer, type ChangeContext, change, idempotencyOf, result, tillFields } from './loyalty.till.ts';

/**
 * Returns, partial refunds and reversals: what a purchase (or an event earning, an adjustment) gave is taken back
 * in proportion to the money returned, what it took is given back in the same proportion, cumulatively.
 */

/** Takes back what a purchase gave and returns what it took, for the share of it that comes back. */
async function unwind(
  ctx: ChangeContext,
  workspaceId: string,
  purchase: ledgerRepo.TransactionRow,
  share: { before: number; after: number; whole: number },
  txId: string,
  reason: string | null,
) {
  const { db: trx, draft, member } = ctx;
  const entries = await ledgerRepo.entriesOfTransaction(trx, workspaceId, member.memberId, purchase.id);
  const own = entries.filter((e) => e.transaction_id === purchase.id && e.reverses === null);
  let clawedBack = 0;
  let notRecovered = 0;
  let refunded = 0;
  // Lots that spent points came from, open or not, so that they can be given back.
  const wanted = own.flatMap((e) => (e.amount < 0 ? (e.lots ?? []).map(([id]) => id) : []));
  draft.knowLots(await ledgerRepo.lotsByIds(trx, workspaceId, wanted));
  for (const e of own) {
    if (e.amount > 0) {
      const points = shareOf(e.amount, share.after, share.whole) - shareOf(e.amount, share.before, share.whole);
      const r = draft.clawBack(e, points, txId, reason);
      clawedBack += r.taken;
      notRecovered += r.short;
    } else {
      const spent = -e.amount;
      const from = shareOf(spent, share.before, share.whole);
      const to = shareOf(spent, share.after, share.whole);
      const r = draft.giveBack(e, from, to, txId, reason);
      refunded += r.given;
    }
  }
  return { clawedBack, notRecovered, refunded };
}

async function originalOf(ctx: ChangeContext, workspaceId: string, id: string) {
  const tx = await ledgerRepo.transactionById(ctx.db, workspaceId, id);
  if (!tx || tx.member_id !== ctx.member.memberId || tx.programme_id !== ctx.state.row.id)
    throw notFound('Transaction', 'TRANSACTION_NOT_FOUND');
  return tx;
}

/** The member a transaction belongs to (read before locking it). */
async function memberOfTransaction(deps: LoyaltyDeps, workspaceId: string, id: string) {
  const tx = await ledgerRepo.transactionById(deps.db, workspaceId, id);
  if (!tx) throw notFound('Transaction', 'TRANSACTION_NOT_FOUND');
  return tx.member_id;
}

/**
 * A return or partial refund of a purchase: by lines (SKU and quantity, at the price paid) or by money amount.
 * Points are clawed back in proportion to the money returned (cumulatively, so several partial returns add up to
 * exactly the whole), and points paid with are given back in the same proportion.
 */
export async function registerReturn(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  purchaseId: string,
  input: ReturnCreate,
  key: string,
): Promise<Answer<TransactionResult>> {
  const { workspaceId } = actor.principal.scope;
  const fields = tillFields(actor, input);
  const memberId = await memberOfTransaction(deps, workspaceId, purchaseId);
  return change(
    deps,
    workspaceId,
    programmeKey,
    { memberId },
    idempotencyOf(`return:${purchaseId}`, key, input),
    fields.recordedBy,
    async (ctx) => {
      const purchase = await originalOf(ctx, workspaceId, purchaseId);
      if (purchase.kind !== 'purchase')
        throw new DomainError('conflict', 'NOT_A_PURCHASE', 'Only purchases can be returned.');
      if (purchase.reversed_at)
        throw new DomainError('conflict', 'TRANSACTION_REVERSED', 'This purchase has been reversed.');
      let amount = 0;
      let lines: { sku: string; quantity: number; amount: number }[] | null = null;
      if (input.lines) {
        const returned = new Map<string, number>();
        for (const r of await ledgerRepo.returnsOf(ctx.db, workspaceId, ctx.member.memberId, purchase.id))
          for (const l of r.lines ?? []) returned.set(l.sku, (returned.get(l.sku) ?? 0) + l.quantity);
        lines = [];
        for (const want of input.lines) {
          let left = want.quantity;
          let money = 0;
          let before = returned.get(want.sku) ?? 0;
          for (const l of (purchase.lines ?? []).filter((x) => x.sku === want.sku)) {
            const free = Math.max(0, l.quantity - before);
            before = Math.max(0, before - l.quantity);
            const n = Math.min(free, left);
            money += Math.round((l.amount * n) / l.quantity);
            left -= n;
            if (left <= 1e-9) break;
          }
          if (left > 1e-9)
            throw new DomainError(
              'conflict',
              'RETURN_EXCEEDS_PURCHASE',
              `More of ${want.sku} is returned than was bought.`,
            );
          returned.set(want.sku, (returned.get(want.sku) ?? 0) + want.quantity);
          lines.push({ sku: want.sku, quantity: want.quantity, amount: money });
          amount += money;
        }
      } else amount = input.amount ?? 0;
      if (amount <= 0 && !lines)
        throw new DomainError('invalid', 'NOTHING_RETURNED', 'A return gives back some money.');
      if (purchase.returned_amount + amount > purchase.amount)
        throw new DomainError('conflict', 'RETURN_EXCEEDS_PURCHASE', 'More money is returned than the purchase was.');
      const txId = newId();
      const undone = await unwind(
        ctx,
        workspaceId,
        purchase,
        {
          before: purchase.returned_amount,
          after: purchase.returned_amount + amount,
          whole: purchase.amount,
        },
        txId,
        null,
      );
      ctx.changes.transactions.push({
        id: txId,
        programmeId: ctx.state.row.id,
        memberId: ctx.member.memberId,
        kind: 'return',
        originalId: purchase.id,
        externalId: input.externalId ?? null,
        occurredAt: ctx.now,
        recordedAt: ctx.now,
        ...fields,
        currency: purchase.currency,
        amount,
        pointsSpent: 0,
        lines,
        eventName: null,
        properties: null,
        tier: ctx.member.tier,
        localWeekday: null,
        localHour: null,
        earned: 0,
      });
      ctx.changes.transactionUpdates.push({ id: purchase.id, returned: amount, reversedAt: null });
      ctx.changes.timeline.push({
        id: txId,
        profileId: ctx.member.profileId,
        name: 'Loyalty Return',
        properties: {
          transactionId: txId,
          purchaseId: purchase.id,
          programme: programmeKey,
          amount,
          currency: purchase.currency,
          branch: fields.branch,
          pointsClawedBack: undone.clawedBack,
          pointsRefunded: undone.refunded,
        },
        channel: fields.channel,
        occurredAt: ctx.now,
        card: ctx.member.cardIdentifier,
      });
      return { status: 201, body: result(ctx, txId, 'return', undone) };
    },
  );
}

/**
 * Reverses a transaction as a whole (a voided receipt, a cancelled code registration, a wrong adjustment): what it
 * credited is clawed back and what it debited is given back, net of earlier partial returns.
 */
export async function reverseTransaction(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  id: string,
  input: ReversalCreate,
  key: string,
): Promise<Answer<TransactionResult>> {
  const { workspaceId } = actor.principal.scope;
  const fields = tillFields(actor, input);
  const memberId = await memberOfTransaction(deps, workspaceId, id);
  return change(
    deps,
    workspaceId,
    programmeKey,
    { memberId },
    idempotencyOf(`reverse:${id}`, key, input),
    fields.recordedBy,
    async (ctx) => {
      const original = await originalOf(ctx, workspaceId, id);
      const { txId, undone } = await reverseWithin(
        ctx,
        workspaceId,
        programmeKey,
        original,
        fields,
        input.reason ?? null,
      );
      return { status: 201, body: result(ctx, txId, 'reversal', undone) };
    },
  );
}

/**
 * Reverses a transaction inside a change being planned (staff's reversal; a revoked referral's rewards): what it
 * credited is clawed back and what it debited is given back, net of earlier partial returns.
 */
export async function reverseWithin(
  ctx: ChangeContext,
  workspaceId: string,
  programmeKey: string,
  original: ledgerRepo.TransactionRow,
  fields: {
    channel: string;
    branch: string | null;
    branchId: string | null;
    cashier: string | null;
    recordedBy: string | null;
  },
  reason: string | null,
) {
  if (original.kind === 'return' || original.kind === 'reversal')
    throw new DomainError('conflict', 'NOT_REVERSIBLE', 'Returns and reversals cannot be reversed.');
  if (original.reversed_at)
    throw new DomainError('conflict', 'ALREADY_REVERSED', 'This transaction has been reversed.');
  const txId = newId();
  const whole = original.kind === 'purchase' ? original.amount : 1;
  const undone = await unwind(
    ctx,
    workspaceId,
    original,
    {
      before: original.kind === 'purchase' ? original.returned_amount : 0,
      after: whole,
      whole,
    },
    txId,
    reason,
  );
  ctx.changes.transactions.push({
    id: txId,
    programmeId: ctx.state.row.id,
    memberId: ctx.member.memberId,
    kind: 'reversal',
    originalId: original.id,
    externalId: null,
    occurredAt: ctx.now,
    recordedAt: ctx.now,
    ...fields,
    currency: original.currency,
    amount: original.kind === 'purchase' ? original.amount - original.returned_amount : 0,
    pointsSpent: 0,
    lines: null,
    eventName: null,
    properties: reason ? { reason } : null,
    tier: ctx.member.tier,
    localWeekday: null,
    localHour: null,
    earned: 0,
  });
  ctx.changes.transactionUpdates.push({ id: original.id, returned: 0, reversedAt: ctx.now });
  ctx.changes.timeline.push({
    id: txId,
    profileId: ctx.member.profileId,
    name: 'Loyalty Reversal',
    properties: {
      transactionId: txId,
      reversedId: original.id,
      programme: programmeKey,
      pointsClawedBack: undone.clawedBack,
      pointsRefunded: undone.refunded,
    },
    channel: fields.channel,
    occurredAt: ctx.now,
    card: ctx.member.cardIdentifier,
  });
  return { txId, undone };
}
