import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { newId } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';
import { createTimelineDrain } from './loyalty.timeline.ts';

/**
 * The hand-over of till events to the timeline (loyalty.timeline.ts): the outbox row names the profile, and the
 * drain stores the event on whoever that profile is by then — its survivor after a merge, nobody after an erasure —
 * exactly once however many drains race, and brings the profile's last seen and channels up to date.
 */

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

describe('loyalty: timeline hand-over', () => {
  it('follows merges, skips the erased, stores each event once with racing drains, and touches the profile', async () => {
    const env = await loyaltyWorkspace(app);
    const workspaceId = env.ws.workspaceId;
    const identify = async (payload: Record<string, unknown>, lookup: string) => {
      const r = await app.server.inject({
        method: 'POST',
        url: '/v1/identify',
        headers: { ...env.writeAuth, 'content-type': 'application/json' },
        payload,
      });
      assert.equal(r.statusCode, 200, r.body);
      return (await env.call('GET', `/api/v1/profiles?identifier=${lookup}`)).body.items[0].id as string;
    };
    const survivor = await identify(
      { userId: 'tl-survivor', traits: { email: 'survivor@example.test' } },
      'user_id:tl-survivor',
    );
    const absorbed = await identify({ anonymousId: 'tl-device' }, 'anonymous_id:tl-device');
    const erased = await env.customer();

    // Outbox rows as a ledger change writes them, waiting while the person's profiles change.
    const at = new Date(Date.now() + 30_000); // within the minute of clock skew the events module accepts
    const rows = [
      { id: newId(), profile: absorbed, card: '7001000000000001' },
      { id: newId(), profile: absorbed, card: null },
      { id: newId(), profile: survivor, card: null },
      { id: newId(), profile: erased.profileId, card: erased.card },
    ];
    for (const r of rows) {
      await sql`insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at,
          identifier_kind, identifier_value)
        values (${r.id}, ${workspaceId}, ${r.profile}, 'Loyalty Purchase', ${JSON.stringify({ amount: 100 })}::jsonb,
          'till_test', ${at.toISOString()}, ${r.card ? 'card' : null}, ${r.card})`.execute(app.database.db);
    }
    const merged = await env.call('POST', `/api/v1/profiles/${survivor}/merge`, { absorbId: absorbed });
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    const gone = await env.call('POST', `/api/v1/profiles/${erased.profileId}/erase`, { reason: 'subject_request' });
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
    // The erasure cleared the erased person's waiting rows; one written after it (a late till) must not land either.
    await sql`insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at)
      values (${newId()}, ${workspaceId}, ${erased.profileId}, 'Loyalty Purchase', '{}'::jsonb, 'till_test',
        ${at.toISOString()})`.execute(app.database.db);

    // Two drains (two processes) race over the same rows.
    const other = createTimelineDrain({ db: app.database.db, events: app.events, profiles: app.profiles });
    await Promise.all([app.loyalty.drainTimeline(), other.drain()]);
    await other.stop();

    const left = await sql<{ n: number }>`select count(*)::int as n from loyalty_timeline_outbox
      where workspace_id = ${workspaceId}`.execute(app.database.db);
    assert.equal(left.rows[0]?.n, 0, 'every row handed over or dropped');

    const stored = await sql<{ message_id: string; profile_id: string; n: number }>`select message_id, profile_id,
        count(*)::int as n from events where workspace_id = ${workspaceId} and name = 'Loyalty Purchase'
      group by message_id, profile_id`.execute(app.database.db);
    const byMessage = new Map(stored.rows.map((r) => [r.message_id, r]));
    for (const r of rows.slice(0, 3)) {
      const e = byMessage.get(`loyalty-${r.id}`);
      assert.ok(e, `event of outbox row ${r.id} stored`);
      assert.equal(e.profile_id, survivor, 'on the live profile');
      assert.equal(e.n, 1, 'once');
    }
    assert.equal(stored.rows.length, 3, 'nothing for the erased person');

    const timeline = await env.call('GET', `/api/v1/profiles/${survivor}/events?name=Loyalty%20Purchase`);
    assert.equal(timeline.body.items.length, 3);
    const withCard = timeline.body.items.find((e: { messageId?: string; id: string }) =>
      JSON.stringify(e).includes('7001000000000001'),
    );
    assert.ok(withCard, 'the card the purchase came with stays on the event');
    const profile = await env.call('GET', `/api/v1/profiles/${survivor}`);
    assert.ok(profile.body.channels.includes('till_test'), JSON.stringify(profile.body.channels));
    assert.equal(new Date(profile.body.lastSeenAt).getTime(), at.getTime(), 'last seen moved to the purchase');
    assert.equal(profile.body.traits.card, undefined, 'the card is an identifier, not a trait');
  });
});
