import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type * as ledgerRepo from './loyalty.ledger.repo.ts';
import type * as repo from './loyalty.repo.ts';
import type { TierLevel, TierSettings } from './loyalty.schemas.ts';
import type { LoyaltyDeps, ProgrammeState } from './loyalty.service.ts';
import * as upkeep from './loyalty.upkeep.repo.ts';

/**
 * Tiers (status levels). What counts: money spent net of returns, or points earned by purchases and events, over a
 * rolling window. A change that takes a member over a level's threshold moves them up at once, in the change's own
 * statement. Going down is the daily review's: a level holds for at least a window after it was reached; then a
 * member below its threshold is "at risk" from that day, and loses the level after the grace period unless they
 * qualify again meanwhile. Benefits are earn rules with a condition on `tier` (the tier before the transaction).
 */

const DAY = 86_400_000;

/** The start of the qualification window, when the programme has tiers. */
export function tiersSince(state: ProgrammeState, now: Date): Date | null {
  const tiers = state.row.settings.tiers;
  return tiers ? new Date(now.getTime() - tiers.windowDays * DAY) : null;
}

function levelFor(tiers: TierSettings, value: number): number {
  let found = -1;
  tiers.levels.forEach((l, i) => {
    if (value >= l.threshold) found = i;
  });
  return found;
}

const indexOf = (tiers: TierSettings, key: string | null) => (key ? tiers.levels.findIndex((l) => l.key === key) : -1);

/** The tier a change moves a member up to (never down), or null. */
export function upgradeFor(
  state: ProgrammeState,
  member: ledgerRepo.MemberState,
  added: { spend: number; points: number },
  now: Date,
): { key: string; since: Date } | null {
  const tiers = state.row.settings.tiers;
  if (!tiers || !member.qualifying) return null;
  const value =
    tiers.metric === 'spend' ? member.qualifying.spend + added.spend : member.qualifying.points + added.points;
  const level = levelFor(tiers, value);
  if (level <= indexOf(tiers, member.tier)) return null;
  return { key: (tiers.levels[level] as TierLevel).key, since: now };
}

/** Where a member stands: value in the window, the next level, whether the current one is at risk. */
export async function tierProgress(
  deps: LoyaltyDeps,
  db: Db,
  workspaceId: string,
  state: ProgrammeState,
  member: repo.MemberRow,
) {
  const tiers = state.row.settings.tiers;
  if (!tiers) return null;
  const since = tiersSince(state, deps.clock.now()) as Date;
  const q = await upkeep.qualifyingOf(db, workspaceId, member.id, since);
  const value = tiers.metric === 'spend' ? q.spend : q.points;
  const next = tiers.levels[indexOf(tiers, member.tier) + 1] ?? null;
  return {
    metric: tiers.metric,
    value,
    since: since.toISOString(),
    next,
    atRiskSince: member.tier_at_risk_since?.toISOString() ?? null,
  };
}

/**
 * The daily review of one programme's tiers: upgrades that events or returns' reversals made possible, risk
 * marks set and cleared, downgrades after the grace period. Each decision applies only on the member version it
 * read, so a till transaction meanwhile is never undone; that member is reviewed again the next day.
 */
export async function reviewTiers(deps: LoyaltyDeps, programme: repo.ProgrammeRow, now: Date, logger?: Logger) {
  const tiers = programme.settings.tiers;
  if (!tiers) return { reviewed: 0, changed: 0 };
  const since = new Date(now.getTime() - tiers.windowDays * DAY);
  let after = '00000000-0000-0000-0000-000000000000';
  let reviewed = 0;
  let changed = 0;
  for (;;) {
    const rows = await upkeep.membersForTierReview(deps.db, programme.id, since, after, 1000);
    if (rows.length === 0) break;
    for (const m of rows) {
      reviewed++;
      const decision = decide(tiers, m, now);
      if (decision && (await upkeep.setTierReview(deps.db, m.workspace_id, m.id, m.version, decision))) changed++;
    }
    after = (rows.at(-1) as upkeep.TierReviewRow).id;
  }
  logger?.info({ programme: programme.id, reviewed, changed }, 'loyalty tiers reviewed');
  return { reviewed, changed };
}

/** What the review does with one member, or null for nothing. */
export function decide(
  tiers: TierSettings,
  m: Pick<upkeep.TierReviewRow, 'tier' | 'tier_since' | 'tier_at_risk_since' | 'spend' | 'points'>,
  now: Date,
): { tier: string | null; since: Date | null; atRiskSince: Date | null } | null {
  const current = indexOf(tiers, m.tier);
  const level = levelFor(tiers, tiers.metric === 'spend' ? m.spend : m.points);
  if (level > current) return { tier: (tiers.levels[level] as TierLevel).key, since: now, atRiskSince: null };
  if (level === current || current < 0) {
    return m.tier_at_risk_since ? { tier: m.tier, since: m.tier_since, atRiskSince: null } : null;
  }
  // Below the level: it holds for a window after it was reached, then for the grace period.
  if (m.tier_since && now.getTime() < m.tier_since.getTime() + tiers.windowDays * DAY) return null;
  if (!m.tier_at_risk_since) return { tier: m.tier, since: m.tier_since, atRiskSince: now };
  if (now.getTime() < m.tier_at_risk_since.getTime() + tiers.graceDays * DAY) return null;
  return { tier: level >= 0 ? (tiers.levels[level] as TierLevel).key : null, since: now, atRiskSince: null };
}
