import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import { createTestApp, newWorkspace, type TestApp, type TestWorkspace } from '../../testing.ts';

// The tracking libraries brands already use, unmodified, pointed at Rapport by changing only the host.
let app: TestApp;
let url: string;
before(async () => {
  app = await createTestApp();
  url = await app.server.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => app?.close());

async function writeKeyFor(ws: TestWorkspace) {
  const res = await app.server.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: ws.bearer,
    payload: { kind: 'write', name: 'sdk' },
  });
  return res.json().secret as string;
}

async function profileBy(ws: TestWorkspace, identifier: string) {
  const found = await app.server.inject({
    method: 'GET',
    url: `/api/v1/profiles?identifier=${encodeURIComponent(identifier)}`,
    headers: ws.bearer,
  });
  const id = found.json().items[0]?.id as string | undefined;
  if (!id) return null;
  const profile = (
    await app.server.inject({ method: 'GET', url: `/api/v1/profiles/${id}`, headers: ws.bearer })
  ).json();
  const timeline = (
    await app.server.inject({ method: 'GET', url: `/api/v1/profiles/${id}/events`, headers: ws.bearer })
  ).json();
  return {
    profile,
    events: timeline.items as { type: string; name: string | null; properties: Record<string, unknown> }[],
  };
}

describe('tracking SDKs deliver to Rapport', () => {
  it('@segment/analytics-node: identify, track, page, group and alias land on one profile', async () => {
    const ws = await newWorkspace(app);
    const analytics = new SegmentAnalytics({
      writeKey: await writeKeyFor(ws),
      host: url,
      maxEventsInBatch: 5,
      flushInterval: 50,
    });
    const failures: unknown[] = [];
    analytics.on('error', (e) => failures.push(e));
    analytics.track({ anonymousId: 'seg-device-1', event: 'Product Viewed', properties: { sku: 'TEA-1' } });
    analytics.page({ anonymousId: 'seg-device-1', name: 'Catalogue', properties: { path: '/tea' } });
    analytics.identify({
      anonymousId: 'seg-device-1',
      userId: 'seg-user-1',
      traits: { email: 'Olga@Example.test', name: 'Olga' },
    });
    analytics.group({ userId: 'seg-user-1', groupId: 'acme-corp', traits: { name: 'Acme' } });
    analytics.alias({ previousId: 'seg-device-2', userId: 'seg-user-1' });
    analytics.track({ userId: 'seg-user-1', event: 'Order Completed', properties: { total: 1250, currency: 'RUB' } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.deepEqual(failures, []);

    const found = await profileBy(ws, 'email:olga@example.test');
    assert.ok(found, 'the profile is found by e-mail');
    assert.equal(found.profile.traits.name, 'Olga');
    const kinds = found.profile.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort();
    assert.deepEqual(kinds, [
      'anonymous_id:seg-device-1',
      'anonymous_id:seg-device-2',
      'email:olga@example.test',
      'user_id:seg-user-1',
    ]);
    assert.deepEqual(found.events.map((e) => `${e.type}:${e.name ?? ''}`).sort(), [
      'alias:',
      'group:acme-corp',
      'identify:',
      'page:Catalogue',
      'track:Order Completed',
      'track:Product Viewed',
    ]);
    assert.equal(found.events.find((e) => e.name === 'Order Completed')?.properties.total, 1250);
  });

  it('RudderStack Node SDK (gzip on): identify, track, page, group and alias land on one profile', async () => {
    const ws = await newWorkspace(app);
    const client = new RudderAnalytics(await writeKeyFor(ws), {
      dataPlaneUrl: url,
      flushAt: 5,
      flushInterval: 50,
      logLevel: 'error',
    });
    client.track({ anonymousId: 'rs-device-1', event: 'Coupon Clipped', properties: { coupon: 'TEA10' } });
    client.page({ anonymousId: 'rs-device-1', name: 'Home' });
    client.identify({
      anonymousId: 'rs-device-1',
      userId: 'rs-user-1',
      traits: { phone: '+7 916 123-45-67', name: 'Ivan' },
    });
    client.group({ userId: 'rs-user-1', groupId: 'club-gold' });
    client.alias({ previousId: 'rs-device-2', userId: 'rs-user-1' });
    await client.flush();

    const found = await profileBy(ws, 'phone:+79161234567');
    assert.ok(found, 'the profile is found by phone in E.164');
    assert.equal(found.profile.traits.name, 'Ivan');
    const kinds = found.profile.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort();
    assert.deepEqual(kinds, [
      'anonymous_id:rs-device-1',
      'anonymous_id:rs-device-2',
      'phone:+79161234567',
      'user_id:rs-user-1',
    ]);
    assert.deepEqual(found.events.map((e) => e.type).sort(), ['alias', 'group', 'identify', 'page', 'track']);
  });
});
