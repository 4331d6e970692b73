import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../testing.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';
import { decide } from './loyalty.tiers.ts';

const DAY = 86_400_000;
let app: TestApp;
const clock = { t: Date.parse('2026-03-02T09:00:00Z'), now: () => new Date(clock.t) };
before(async () => {
  app = await createTestApp({ clock });
});
after(async () => app?.close());

const TIERS = {
  metric: 'spend',
  windowDays: 90,
  graceDays: 30,
  levels: [
    { key: 'member', name: 'Member', threshold: 0 },
    { key: 'silver', name: 'Silver', threshold: 1_000_000 },
    { key: 'gold', name: 'Gold', threshold: 3_000_000 },
  ],
};

describe('loyalty: tiers', () => {
  it('upgrade at once with the purchase that qualifies; benefits are rules on the tier; downgrade after grace', async () => {
    const env = await loyaltyWorkspace(app, {
      settings: {
        wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 }],
        tiers: TIERS,
      },
      rules: [
        { name: 'base', trigger: 'purchase', priority: 10, formula: { kind: 'per_unit', points: 1, per: 10_000 } },
        {
          name: 'gold: double points',
          trigger: 'purchase',
          priority: 20,
          condition: { field: 'tier', op: 'eq', value: 'gold' },
          formula: { kind: 'multiplier', factor: 2 },
        },
      ],
    });
    const { profileId, card } = await env.customer();
    const buy = (amount: number) =>
      env.purchase({ customer: { card }, lines: [{ sku: 'TEA', price: amount, quantity: 1 }] });

    const first = await buy(500_000);
    assert.equal(first.body.tier, 'member', 'the first purchase reaches the base level');
    const second = await buy(600_000);
    assert.equal(second.body.tier, 'silver', 'over 10,000 roubles in the window: silver at once');
    let member = await env.member(profileId);
    assert.equal(member.tier, 'silver');
    assert.deepEqual(
      { value: member.tierProgress.value, next: member.tierProgress.next.key },
      { value: 1_100_000, next: 'gold' },
    );
    const third = await buy(2_000_000);
    assert.equal(third.body.tier, 'gold');
    assert.deepEqual(
      third.body.earned.map((e: { points: number }) => e.points),
      [200],
      'the tier before the purchase decides its benefits',
    );
    const fourth = await buy(100_000);
    assert.deepEqual(
      fourth.body.earned.map((e: { points: number }) => e.points),
      [10, 10],
      'gold doubles from the next purchase on',
    );

    // A return takes the spend below gold, but a level holds for a window after it was reached.
    const returned = await env.call(
      'POST',
      `/api/v1/loyalty/programmes/main/transactions/${third.body.transactionId}/returns`,
      { amount: 2_000_000 },
      { 'idempotency-key': 'tier-return-1' },
    );
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    await app.loyalty.reviewTiers();
    assert.equal((await env.member(profileId)).tier, 'gold');

    // 100 days later every purchase is out of the 90-day window: at risk, then down after 30 days of grace.
    clock.t += 100 * DAY;
    await app.loyalty.reviewTiers();
    member = await env.member(profileId);
    assert.equal(member.tier, 'gold');
    assert.ok(member.tierProgress.atRiskSince);
    clock.t += 20 * DAY;
    await app.loyalty.reviewTiers();
    assert.equal((await env.member(profileId)).tier, 'gold', 'still within the grace period');
    clock.t += 11 * DAY;
    await app.loyalty.reviewTiers();
    member = await env.member(profileId);
    assert.equal(member.tier, 'member', 'down to what the window qualifies for');
    assert.equal(member.tierProgress.atRiskSince, null);
    const again = await buy(1_200_000);
    assert.equal(again.body.tier, 'silver', 'and up again at once');
  });

  it('the review: up when qualified, risk cleared on qualifying again, nothing within the window', () => {
    const t = (days: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + days * DAY);
    const tiers = TIERS as Parameters<typeof decide>[0];
    const m = (tier: string | null, since: number | null, risk: number | null, spend: number) => ({
      tier,
      tier_since: since === null ? null : t(since),
      tier_at_risk_since: risk === null ? null : t(risk),
      spend,
      points: 0,
    });
    assert.deepEqual(decide(tiers, m('member', 0, null, 1_500_000), t(5)), {
      tier: 'silver',
      since: t(5),
      atRiskSince: null,
    });
    assert.equal(decide(tiers, m('gold', 0, null, 0), t(89)), null);
    assert.deepEqual(decide(tiers, m('gold', 0, null, 0), t(91)), { tier: 'gold', since: t(0), atRiskSince: t(91) });
    assert.deepEqual(decide(tiers, m('gold', 0, 91, 3_100_000), t(95)), {
      tier: 'gold',
      since: t(0),
      atRiskSince: null,
    });
    assert.deepEqual(decide(tiers, m('gold', 0, 91, 1_200_000), t(121)), {
      tier: 'silver',
      since: t(121),
      atRiskSince: null,
    });
    assert.equal(decide(tiers, m('gold', 0, 91, 1_200_000), t(120)), null);
  });
});
