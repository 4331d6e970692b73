import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { generateDemo } from './demo.ts';
import { createTestApp, newWorkspace, type TestApp } from './testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

async function stats(workspaceId: string, now: Date) {
  const r = await sql<{ profiles: number; orders: number; lapsed: number; multichannel: number }>`select
      (select count(*) from profiles where workspace_id = ${workspaceId} and merged_into is null) as profiles,
      (select count(*) from events where workspace_id = ${workspaceId} and name = 'Order Completed') as orders,
      (select count(*) from profiles where workspace_id = ${workspaceId} and merged_into is null
         and last_seen_at < ${now.toISOString()}::timestamptz - interval '90 days') as lapsed,
      (select count(*) from profiles where workspace_id = ${workspaceId} and merged_into is null
         and cardinality(channels) > 1) as multichannel`.execute(app.database.db);
  return r.rows[0] as { profiles: number; orders: number; lapsed: number; multichannel: number };
}

it('generates one profile per customer with a living history, the same for the same seed', async () => {
  const now = new Date('2026-11-01T12:00:00Z');
  const a = await newWorkspace(app);
  const b = await newWorkspace(app);
  await generateDemo(app.events, a.workspaceId, { customers: 60, seed: 7, now });
  await generateDemo(app.events, b.workspaceId, { customers: 60, seed: 7, now });
  const sa = await stats(a.workspaceId, now);
  assert.equal(sa.profiles, 60, 'the anonymous first visit merges into the customer');
  assert.ok(sa.orders > 60 * 3, `customers keep buying (${sa.orders} orders)`);
  assert.ok(sa.lapsed > 0 && sa.lapsed < 60, `some customers have lapsed (${sa.lapsed})`);
  assert.ok(sa.multichannel > 0, 'some customers use both the shop and the site');
  assert.deepEqual(await stats(b.workspaceId, now), sa, 'deterministic for a seed');
});

it('loads the demo brand from the console in the background, for owners only', async () => {
  const worker = await createTestApp({ worker: true });
  try {
    const ws = await newWorkspace(worker);
    const marketer = (
      await worker.server.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: ws.bearer,
        payload: { kind: 'secret', name: 'm', role: 'marketer' },
      })
    ).json().secret;
    const refused = await worker.server.inject({
      method: 'POST',
      url: '/api/v1/demo',
      headers: { authorization: `Bearer ${marketer}` },
      payload: {},
    });
    assert.equal(refused.statusCode, 403);
    const started = await worker.server.inject({
      method: 'POST',
      url: '/api/v1/demo',
      headers: ws.bearer,
      payload: { customers: 12 },
    });
    assert.equal(started.statusCode, 202, started.body);
    let found = 0;
    for (let i = 0; i < 120 && found < 12; i++) {
      await new Promise((r) => setTimeout(r, 500));
      found = (
        await worker.server.inject({ method: 'GET', url: '/api/v1/profiles?limit=200', headers: ws.bearer })
      ).json().items.length;
    }
    assert.equal(found, 12, 'the worker generated the customers');
    const audit = await worker.server.inject({ method: 'GET', url: '/api/v1/audit?action=demo.', headers: ws.bearer });
    assert.equal(audit.json().items[0].action, 'demo.started');
  } finally {
    await worker.close();
  }
});
