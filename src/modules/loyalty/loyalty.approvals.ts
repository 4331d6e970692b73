import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import * as refRepo from './loyalty.referrals.repo.ts';
import type { AdjustmentDecision, AdjustmentRequest } from './loyalty.referrals.schemas.ts';
import type { AdjustmentCreate } from './loyalty.schemas.ts';
import { keyReused, type LoyaltyDeps, requestHash } from './loyalty.service.ts';
import * as till from './loyalty.till.ts';

/**
 * Approval of large manual adjustments. With `settings.adjustmentApprovalThreshold` set, an adjustment whose
 * absolute amount is above it is stored as a pending request (202) under its idempotency key instead of applied.
 * Another staff principal with loyalty:manage — never the requester — approves it, which applies it through the
 * ledger with the original key and body (so however often approval is retried, the ledger changes once), or rejects
 * it with a reason. Every step is audited in its own transaction.
 */

export function requestOut(a: refRepo.AdjustmentRequestRow): AdjustmentRequest {
  const body = a.body as { customer?: Record<string, unknown>; wallet?: string; reason?: string };
  return {
    id: a.id,
    programme: a.programme_key,
    status: a.status,
    points: Number(a.points),
    wallet: body.wallet ?? 'points',
    reason: body.reason ?? '',
    profileId: a.profile_id,
    customer: body.customer ?? {},
    requestedBy: a.requested_by,
    requestedAt: a.requested_at.toISOString(),
    decidedBy: a.decided_by,
    decidedAt: a.decided_at?.toISOString() ?? null,
    decisionReason: a.decision_reason,
    transactionId: typeof a.result?.transactionId === 'string' ? a.result.transactionId : null,
  };
}

/**
 * Called before an adjustment is applied: null when it may go ahead (under the threshold, or approved already —
 * then the ledger replays its stored answer), else the pending (or rejected) request.
 */
export async function holdIfLarge(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  input: AdjustmentCreate,
  key: string,
): Promise<AdjustmentRequest | null> {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const existing = await refRepo.adjustmentRequestByKey(deps.db, workspaceId, key);
  if (existing) {
    if (
      existing.programme_id !== state.row.id ||
      requestHash(`adjust:${programmeKey}`, existing.body) !== requestHash(`adjust:${programmeKey}`, input)
    )
      throw keyReused();
    return existing.status === 'approved' ? null : requestOut(existing);
  }
  const threshold = state.row.settings.adjustmentApprovalThreshold;
  if (threshold === undefined || Math.abs(input.points) <= threshold) return null;
  if (!state.wallets.has(input.wallet))
    throw new DomainError('invalid', 'UNKNOWN_WALLET', `The programme has no wallet "${input.wallet}".`);
  const profileId = await profileOfCustomer(deps, deps.db, workspaceId, state.row.id, input);
  const id = newId();
  await deps.db.transaction().execute(async (trx) => {
    const inserted = await refRepo.insertAdjustmentRequest(trx, workspaceId, {
      id,
      programmeId: state.row.id,
      key,
      body: input,
      points: input.points,
      profileId,
      requestedBy: actor.principal.actorLabel,
      requestedByUser: actor.principal.userId,
      now: deps.clock.now(),
    });
    if (inserted)
      await deps.audit(
        trx,
        actor,
        'loyalty.adjustment_requested',
        profileId ? { kind: 'profile', id: profileId } : null,
        { requestId: id, wallet: input.wallet, points: input.points },
      );
  });
  // A concurrent identical request may have won the key: answer whatever is stored.
  return holdIfLarge(deps, actor, programmeKey, input, key);
}

async function profileOfCustomer(
  deps: LoyaltyDeps,
  db: Db,
  workspaceId: string,
  _programmeId: string,
  input: AdjustmentCreate,
): Promise<string | null> {
  if ('profileId' in input.customer) {
    const live = await deps.profiles.directory.liveProfileId(db, workspaceId, input.customer.profileId);
    if (!live) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    return live;
  }
  if ('card' in input.customer) {
    const owner = await deps.profiles.directory.ownerOf(db, workspaceId, 'card', input.customer.card);
    return owner ?? null;
  }
  return null;
}

export async function listRequests(
  deps: LoyaltyDeps,
  workspaceId: string,
  q: { status?: string; after?: string; limit: number },
) {
  const rows = await refRepo.listAdjustmentRequests(deps.db, workspaceId, q);
  return rows.map(requestOut);
}

/** Approve (applies the adjustment once, with its original key) or reject (applies nothing) — never by the requester. */
export async function decide(deps: LoyaltyDeps, actor: Actor, id: string, input: AdjustmentDecision) {
  const { workspaceId } = actor.principal.scope;
  const request = await refRepo.adjustmentRequestById(deps.db, workspaceId, id);
  if (!request) throw notFound('Adjustment request', 'ADJUSTMENT_REQUEST_NOT_FOUND');
  const p = actor.principal;
  if (
    p.actorLabel === request.requested_by ||
    (p.userId !== null && request.requested_by_user !== null && p.userId === request.requested_by_user)
  )
    throw new DomainError('forbidden', 'APPROVER_IS_REQUESTER', 'Another staff user must decide on this request.');
  if (request.status !== 'pending')
    throw new DomainError('conflict', 'ADJUSTMENT_REQUEST_DECIDED', `This request was ${request.status} already.`);
  const now = deps.clock.now();
  if (input.decision === 'reject') {
    await deps.db.transaction().execute(async (trx) => {
      const moved = await refRepo.decideAdjustmentRequest(trx, workspaceId, id, {
        status: 'rejected',
        by: p.actorLabel,
        reason: input.reason ?? null,
        result: null,
        now,
      });
      if (!moved)
        throw new DomainError('conflict', 'ADJUSTMENT_REQUEST_DECIDED', 'This request was decided meanwhile.');
      await deps.audit(
        trx,
        actor,
        'loyalty.adjustment_rejected',
        request.profile_id ? { kind: 'profile', id: request.profile_id } : null,
        { requestId: id, points: Number(request.points), reason: input.reason },
      );
    });
  } else {
    // The ledger's idempotency key makes this exactly-once even when two approvals race or one is retried after a
    // crash between the apply and the status update.
    const applied = await till.adjust(
      deps,
      actor,
      request.programme_key,
      request.body as AdjustmentCreate,
      request.idempotency_key,
    );
    await deps.db.transaction().execute(async (trx) => {
      const moved = await refRepo.decideAdjustmentRequest(trx, workspaceId, id, {
        status: 'approved',
        by: p.actorLabel,
        reason: input.reason ?? null,
        result: { transactionId: applied.body.transactionId },
        now,
      });
      if (moved)
        await deps.audit(
          trx,
          actor,
          'loyalty.adjustment_approved',
          request.profile_id ? { kind: 'profile', id: request.profile_id } : null,
          { requestId: id, points: Number(request.points), transactionId: applied.body.transactionId },
        );
    });
  }
  return requestOut((await refRepo.adjustmentRequestById(deps.db, workspaceId, id)) as refRepo.AdjustmentRequestRow);
}
