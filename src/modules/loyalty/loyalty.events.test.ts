import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../testing.ts';
import { CODE_REGISTERED } from './index.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * A code registration earns the configured points through an earn rule, end to end: the `Code Registered` event
 * (the contract with the codes module: properties promotionId, batchId, rewardPoints) is ingested the way the
 * codes module hands it over — events.ingest — and the loyalty listener earns inside the events' transaction.
 */

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

describe('loyalty: earning on events', () => {
  it('a Code Registered event earns by the rule once per message, with caps per person and day', async () => {
    const env = await loyaltyWorkspace(app, {
      rules: [
        {
          name: 'Summer promo: points named by the code',
          trigger: 'event',
          eventName: CODE_REGISTERED,
          condition: { field: 'event.promotion_id', op: 'eq', value: 'summer-tea' },
          formula: { kind: 'from_event', factor: 1 },
          caps: [{ period: 'day', maxTimes: 2 }],
          priority: 10,
        },
        {
          name: 'Any other promotion: 5 points',
          trigger: 'event',
          eventName: CODE_REGISTERED,
          formula: { kind: 'fixed', points: 5 },
          priority: 20,
        },
      ],
    });
    const { profileId, userId } = await env.customer();
    const registration = (messageId: string, properties: Record<string, unknown>) => ({
      type: 'track',
      event: CODE_REGISTERED,
      userId,
      messageId,
      properties,
      context: { channel: 'web' },
    });
    const ingest = (messages: unknown[]) => app.events.ingest(env.ws.workspaceId, messages);

    const first = await ingest([
      registration('reg-1', { promotionId: 'summer-tea', batchId: 'b-1', rewardPoints: 30 }),
    ]);
    assert.equal(first.accepted, 1);
    let balance = await env.balance(profileId);
    assert.equal(balance.available, 30 + 5, 'the promotion rule gave the code’s 30 points; the general one 5 more');

    // The same message again (a retried job, a re-imported file) earns nothing.
    await ingest([registration('reg-1', { promotionId: 'summer-tea', batchId: 'b-1', rewardPoints: 30 })]);
    assert.equal((await env.balance(profileId)).available, 35);

    // The codes module's reward shape is read too; the cap lets two registrations a day through the first rule.
    await ingest([
      registration('reg-2', { promotionId: 'summer-tea', reward: { kind: 'points', points: 20 } }),
      registration('reg-3', { promotionId: 'summer-tea', rewardPoints: 40 }),
    ]);
    balance = await env.balance(profileId);
    assert.equal(balance.available, 35 + (20 + 5) + 5, 'the third registration of the day earns only the general rule');

    // Other promotions take the general rule; other events earn nothing.
    await ingest([
      registration('reg-4', { promotionId: 'winter-coffee', rewardPoints: 99 }),
      { type: 'track', event: 'Page Viewed', userId, messageId: 'pv-1' },
    ]);
    assert.equal((await env.balance(profileId)).available, 65 + 5);

    // Through the public tracking API as well (the same ingestion).
    const tracked = await app.server.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { ...env.writeAuth, 'content-type': 'application/json' },
      payload: registration('reg-5', { promotionId: 'winter-coffee' }),
    });
    assert.equal(tracked.statusCode, 200, tracked.body);
    assert.equal((await env.balance(profileId)).available, 75);

    const ledger = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${profileId}/ledger?limit=50`);
    assert.ok(ledger.body.items.every((e: { kind: string; ruleId: string | null }) => e.kind === 'earn' && e.ruleId));
  });

  it('an event of a person who is not a member yet enrols them; a rule for a new event name is heard at once', async () => {
    const env = await loyaltyWorkspace(app, { rules: [] });
    const rule = await env.call('POST', '/api/v1/loyalty/programmes/main/rules', {
      name: 'Survey answered',
      trigger: 'event',
      eventName: 'Survey Answered',
      formula: { kind: 'fixed', points: 15 },
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await app.events.ingest(env.ws.workspaceId, [
      { type: 'track', event: 'Survey Answered', userId: 'newcomer-1', messageId: 'survey-1', properties: {} },
    ]);
    const profileId = (await env.call('GET', '/api/v1/profiles?identifier=user_id:newcomer-1')).body.items[0].id;
    assert.equal((await env.balance(profileId)).available, 15);
  });
});
