import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { StoredEvent, StoredEventListener } from '../events/index.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { heardApply, LedgerDraft } from './loyalty.ledger.ts';
import * as repo from './loyalty.repo.ts';
import { currentPeriods, type EarnRecord, evaluateEarn, localTime, usageKey } from './loyalty.rules.ts';
import type { LoyaltyDeps } from './loyalty.service.ts';
import { tiersSince, upgradeFor } from './loyalty.tiers.ts';

/**
 * Earning on events. The contract with the modules that emit them (documented in README.md):
 *
 *   track "Code Registered", properties { promotionId: string, batchId?: string, rewardPoints?: integer }
 *
 * (`reward: {kind: 'points', points}` is read as rewardPoints too.) Any other event name earns as soon as an
 * active event rule names it. The listener runs inside the events module's transaction that stored the event, for
 * message ids stored for the first time only, so a retried batch or a re-imported file earns nothing twice.
 */
export const CODE_REGISTERED = 'Code Registered';

/** Reward points an event names, per the contract above. */
export function rewardPointsOf(properties: Record<string, unknown>): number | undefined {
  const direct = properties.rewardPoints;
  if (typeof direct === 'number' && Number.isFinite(direct)) return direct;
  const reward = properties.reward as { kind?: unknown; points?: unknown } | undefined;
  if (reward && reward.kind === 'points' && typeof reward.points === 'number' && Number.isFinite(reward.points))
    return reward.points;
  return undefined;
}

function eventRecord(e: StoredEvent, tier: string | null, timeZone: string, clubs: string[] = []): EarnRecord {
  const local = localTime(e.occurredAt, timeZone);
  return {
    trigger: 'event',
    amount: 0,
    paid: 0,
    channel: e.channel,
    branch: typeof e.properties.branch === 'string' ? e.properties.branch : null,
    tier,
    clubs,
    weekday: local.weekday,
    hour: local.hour,
    skus: [],
    categories: [],
    lines: [],
    event: {
      name: e.name ?? '',
      promotionId: e.properties.promotionId,
      batchId: e.properties.batchId,
      rewardPoints: rewardPointsOf(e.properties),
    },
    occurredAt: e.occurredAt,
  };
}

/**
 * The listener for events.onStored. `names` is kept current in place (the events module reads it on every
 * batch): Code Registered always, plus every event name an active rule of any workspace names, refreshed by
 * `refresh()` — after a rule change here at once, and every few seconds for changes made by other processes.
 */
export function eventEarning(deps: LoyaltyDeps) {
  const names: string[] = [CODE_REGISTERED];
  const listener: StoredEventListener = {
    names,
    types: ['track'],
    handle: (trx, workspaceId, events) => earnOnEvents(deps, trx, workspaceId, events),
  };
  return {
    listener,
    async refresh(db: Db) {
      const heard = await repo.eventNamesWithRules(db);
      const next = [...new Set([CODE_REGISTERED, ...heard])].sort();
      names.splice(0, names.length, ...next);
    },
  };
}

async function earnOnEvents(deps: LoyaltyDeps, trx: Db, workspaceId: string, events: StoredEvent[]) {
  const programmes = await repo.programmesHearing(trx, workspaceId, [
    ...new Set(events.flatMap((e) => (e.name ? [e.name] : []))),
  ]);
  if (programmes.length === 0) return;
  // Same order in every transaction: members are locked profile by profile.
  const ordered = [...events].sort((a, b) => (a.profileId < b.profileId ? -1 : a.profileId > b.profileId ? 1 : 0));
  for (const p of programmes) {
    let state = await deps.programmes.get(trx, workspaceId, p.key);
    for (const e of ordered) {
      const now = deps.clock.now();
      const m = await repo.ensureMember(trx, workspaceId, p.id, e.profileId, {
        id: newId(),
        now,
        wallets: [...state.wallets.keys()],
      });
      const read = () => ({
        periods: currentPeriods(state.rules, e.occurredAt, state.row.time_zone),
        tiersSince: tiersSince(state, now),
      });
      let member = await ledgerRepo.readMember(trx, workspaceId, p.id, { memberId: m.id }, read());
      if (!member) continue;
      if (member.programmeVersion !== state.row.version) {
        state = await deps.programmes.load(trx, workspaceId, p.key);
        member = (await ledgerRepo.readMember(
          trx,
          workspaceId,
          p.id,
          { memberId: m.id },
          read(),
        )) as ledgerRepo.MemberState;
      }
      const record = eventRecord(e, member.tier, state.row.time_zone, member.clubs);
      const usage = new Map(member.usage.map((u) => [usageKey(u.ruleId, u.period), u]));
      const evaluation = evaluateEarn(state.rules, record, usage, state.row.time_zone);
      if (evaluation.earned.length === 0) continue;
      const changes = ledgerRepo.emptyChanges();
      const draft = new LedgerDraft(member, changes, now, `event:${e.name}`);
      const txId = newId();
      let total = 0;
      for (const earning of evaluation.earned) {
        const wallet = state.wallets.get(earning.wallet);
        if (!wallet) continue;
        draft.credit({
          kind: 'earn',
          wallet,
          points: earning.points,
          transactionId: txId,
          ruleId: earning.ruleId,
          reason: null,
          from: e.occurredAt,
          pending: false,
        });
        total += earning.points;
      }
      changes.usage = evaluation.usage.map((u) => ({ ...u, memberId: member.memberId }));
      changes.tier = upgradeFor(state, member, { spend: 0, points: total }, now);
      const local = localTime(e.occurredAt, state.row.time_zone);
      changes.transactions.push({
        id: txId,
        programmeId: p.id,
        memberId: member.memberId,
        kind: 'event',
        originalId: null,
        externalId: e.messageId,
        occurredAt: e.occurredAt,
        recordedAt: now,
        channel: e.channel,
        branch: record.branch,
        branchId: null,
        cashier: null,
        recordedBy: `event:${e.name}`,
        currency: null,
        amount: 0,
        pointsSpent: 0,
        lines: null,
        eventName: e.name,
        properties: e.properties,
        tier: member.tier,
        localWeekday: local.weekday,
        localHour: local.hour,
        earned: total,
      });
      // A concurrent change of the member raises 40001 here: the events module runs the whole batch again.
      await ledgerRepo.applyChanges(trx, workspaceId, heardApply(member, changes));
    }
  }
}
