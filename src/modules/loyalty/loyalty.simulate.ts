import { sql } from 'kysely';
import { z } from 'zod';
import { compileRule } from '../../platform/rules/index.ts';
import { rewardPointsOf } from './loyalty.events.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import {
  EARN_FIELDS,
  type EarnRecord,
  evaluateEarn,
  localTime,
  purchaseRecord,
  RuleInput,
  type Usage,
} from './loyalty.rules.ts';
import { type LoyaltyDeps, ruleFromInput } from './loyalty.service.ts';

export const SimulationRequest = z
  .object({
    rule: RuleInput,
    /** The period of past transactions to run the rule over; the last 30 days by default. */
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    /** At most this many transactions are looked at (the oldest of the period first). */
    limit: z.number().int().min(1).max(100_000).default(20_000),
  })
  .strict();
export type SimulationRequest = z.infer<typeof SimulationRequest>;

export const SimulationResult = z.object({
  from: z.string(),
  to: z.string(),
  /** Transactions of the rule's trigger the condition's SQL let through (a superset of those that matched). */
  scanned: z.number(),
  /** True when more transactions qualified than `limit`: the figures cover the oldest `limit`. */
  truncated: z.boolean(),
  matched: z.number(),
  points: z.number(),
  members: z.number(),
  sample: z.array(
    z.object({ transactionId: z.string(), occurredAt: z.string(), memberId: z.string(), points: z.number() }),
  ),
});
export type SimulationResult = z.infer<typeof SimulationResult>;

/**
 * What a rule would have given over past transactions, had it been the only rule: the same evaluation the till runs
 * (evaluateEarn, caps per person and period counted from zero at the start of the period), over the programme's
 * purchases or events of the period. The rule's condition, compiled to SQL by platform/rules, narrows the rows read;
 * the in-memory evaluation decides (both give the same answer, by platform/rules' differential test).
 */
export async function simulateRule(
  deps: LoyaltyDeps,
  workspaceId: string,
  programmeKey: string,
  input: SimulationRequest,
): Promise<SimulationResult> {
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const now = deps.clock.now();
  const to = input.to ? new Date(input.to) : now;
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - 30 * 86_400_000);
  const rule = { ...ruleFromInput('00000000-0000-7000-8000-000000000000', input.rule), status: 'active' as const };
  let where = rule.condition
    ? rule.scope === 'transaction'
      ? compileRule(EARN_FIELDS, rule.condition, now)
      : sql<boolean>`exists (select 1 from jsonb_array_elements(coalesce(t.lines, '[]')) as l(value)
          where ${compileRule(EARN_FIELDS, rule.condition, now)})`
    : null;
  if (rule.trigger === 'event') {
    const named = sql<boolean>`t.event_name = ${rule.eventName}`;
    where = where ? sql<boolean>`(${named} and ${where})` : named;
  }
  const rows = await ledgerRepo.transactionsBetween(
    deps.db,
    workspaceId,
    state.row.id,
    rule.trigger,
    from,
    to,
    input.limit + 1,
    where,
  );
  const truncated = rows.length > input.limit;
  const usage = new Map<string, Map<string, Usage>>();
  const members = new Set<string>();
  const sample: SimulationResult['sample'] = [];
  let matched = 0;
  let points = 0;
  const value = state.paymentWallet?.valueMinor ?? 0;
  for (const t of rows.slice(0, input.limit)) {
    const record: EarnRecord =
      t.kind === 'purchase'
        ? purchaseRecord({
            lines: t.lines ?? [],
            pointsValue: t.points_spent * value,
            channel: t.channel ?? 'pos',
            branch: t.branch,
            tier: t.tier,
            occurredAt: t.occurred_at,
            timeZone: state.row.time_zone,
          })
        : {
            trigger: 'event',
            amount: 0,
            paid: 0,
            channel: t.channel ?? '',
            branch: t.branch,
            tier: t.tier,
            weekday: localTime(t.occurred_at, state.row.time_zone).weekday,
            hour: localTime(t.occurred_at, state.row.time_zone).hour,
            skus: [],
            categories: [],
            lines: [],
            event: {
              name: t.event_name ?? '',
              promotionId: t.properties?.promotionId,
              batchId: t.properties?.batchId,
              rewardPoints: rewardPointsOf(t.properties ?? {}),
            },
            occurredAt: t.occurred_at,
          };
    const own = usage.get(t.member_id) ?? new Map<string, Usage>();
    usage.set(t.member_id, own);
    const result = evaluateEarn([rule], record, own, state.row.time_zone);
    for (const u of result.usage) {
      const k = `${u.ruleId}\u0001${u.period}`;
      const before = own.get(k) ?? { points: 0, times: 0 };
      own.set(k, { points: before.points + u.points, times: before.times + u.times });
    }
    const got = result.earned.reduce((s, e) => s + e.points, 0);
    if (result.matched.length > 0) matched++;
    if (got > 0) {
      points += got;
      members.add(t.member_id);
      if (sample.length < 20)
        sample.push({
          transactionId: t.id,
          occurredAt: t.occurred_at.toISOString(),
          memberId: t.member_id,
          points: got,
        });
    }
  }
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    scanned: Math.min(rows.length, input.limit),
    truncated,
    matched,
    points,
    members: members.size,
    sample,
  };
}
