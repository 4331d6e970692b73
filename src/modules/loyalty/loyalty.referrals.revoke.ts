import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { StoredEvent } from '../events/index.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { heardApply, LedgerDraft } from './loyalty.ledger.ts';
import * as refRepo from './loyalty.referrals.repo.ts';
import { REFERRAL_COMPLETED, REFERRAL_REVOKED } from './loyalty.referrals.schemas.ts';
import { settingsOf } from './loyalty.referrals.ts';
import { reverseWithin } from './loyalty.returns.ts';
import { currentPeriods } from './loyalty.rules.ts';
import type { LoyaltyDeps, ProgrammeState } from './loyalty.service.ts';
import { tiersSince } from './loyalty.tiers.ts';
import type { ChangeContext } from './loyalty.till.ts';

/**
 * Referrals whose qualifying purchase goes away. The referral listener (loyalty.referrals.ts) hears `Loyalty Return`
 * and `Loyalty Reversal`: the invitee's next qualifying purchase completes the referral instead, or it is revoked
 * and a `Referral Revoked` event for each side, heard by the same listener, reverses their rewards.
 */

/**
 * A return or reversal of the purchase that completed a referral: when what is left of it no longer qualifies, the
 * invitee's next qualifying purchase (made after the referral, not returned below the minimum) completes it
 * instead; without one the referral is revoked and a `Referral Revoked` event for each side claws their rewards back.
 */
export async function onUnwound(deps: LoyaltyDeps, trx: Db, workspaceId: string, events: StoredEvent[]) {
  const purchases = events.flatMap((e) => {
    const id = e.name === 'Loyalty Return' ? e.properties.purchaseId : e.properties.reversedId;
    return typeof id === 'string' ? [id] : [];
  });
  for (const r of await refRepo.referralsCompletedBy(trx, workspaceId, purchases)) {
    const purchase = r.completion_ref as string;
    const state = await deps.programmes.get(trx, workspaceId, r.programme_key).catch(() => null);
    if (!state) continue;
    const min = settingsOf(state).minPurchaseMinor;
    const left = await refRepo.purchaseRemainder(trx, workspaceId, purchase);
    if (left && !left.reversed && left.remaining > 0 && left.remaining >= min) continue;
    const other = await refRepo.qualifyingPurchase(
      trx,
      workspaceId,
      state.row.id,
      r.invitee_profile_id,
      r.created_at,
      min,
    );
    if (other) {
      await refRepo.moveCompletion(trx, workspaceId, r.id, purchase, other);
      continue;
    }
    const now = deps.clock.now();
    if (!(await refRepo.revokeReferral(trx, workspaceId, r.id, purchase, now))) continue;
    const base = { referralId: r.id, programme: state.row.key, code: r.code, purchase };
    await refRepo.insertTimelineEvents(trx, workspaceId, [
      {
        id: newId(),
        profileId: r.referrer_profile_id,
        name: REFERRAL_REVOKED,
        properties: { ...base, role: 'referrer' },
        occurredAt: now,
      },
      {
        id: newId(),
        profileId: r.invitee_profile_id,
        name: REFERRAL_REVOKED,
        properties: { ...base, role: 'invitee' },
        occurredAt: now,
      },
    ]);
    deps.timelineWritten();
  }
}

/**
 * A `Referral Revoked` event: what the member earned on the referral's `Referral Completed` events (by any earn
 * rule) is reversed, in the transaction that stores the event — once, since only a first delivery is heard and a
 * reversed transaction cannot be reversed again. Points already spent are clawed back as far as the balance allows.
 */
export async function clawBack(deps: LoyaltyDeps, trx: Db, workspaceId: string, e: StoredEvent) {
  const { referralId, programme } = e.properties;
  if (typeof referralId !== 'string' || typeof programme !== 'string') return;
  let state = await deps.programmes.get(trx, workspaceId, programme).catch(() => null);
  if (!state) return;
  const earned = await refRepo.referralEarnings(
    trx,
    workspaceId,
    state.row.id,
    e.profileId,
    REFERRAL_COMPLETED,
    referralId,
  );
  if (earned.length === 0) return;
  const now = deps.clock.now();
  const key = { memberId: (earned[0] as ledgerRepo.TransactionRow).member_id };
  const read = (s: ProgrammeState) =>
    ledgerRepo.readMember(trx, workspaceId, s.row.id, key, {
      periods: currentPeriods(s.rules, now, s.row.time_zone),
      tiersSince: tiersSince(s, now),
    });
  let member = await read(state);
  if (member && member.programmeVersion !== state.row.version) {
    state = await deps.programmes.load(trx, workspaceId, programme);
    member = await read(state);
  }
  if (!member) return;
  const changes = ledgerRepo.emptyChanges();
  const ctx: ChangeContext = {
    db: trx,
    state,
    member,
    draft: new LedgerDraft(member, changes, now, 'referral revoked'),
    changes,
    now,
    verification: null,
  };
  const fields = { channel: 'loyalty', branch: null, branchId: null, cashier: null, recordedBy: 'referral revoked' };
  for (const tx of earned) await reverseWithin(ctx, workspaceId, programme, tx, fields, 'referral revoked');
  // A concurrent change of the member raises 40001 here: the drain runs the whole hand-over again.
  await ledgerRepo.applyChanges(trx, workspaceId, heardApply(member, changes));
  deps.timelineWritten();
}
