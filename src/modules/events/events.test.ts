import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { createTestApp, newWorkspace, type TestApp, type TestWorkspace } from '../../testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

async function tracking(ws: TestWorkspace) {
  const res = await app.server.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: ws.bearer,
    payload: { kind: 'write', name: 'site' },
  });
  const key = res.json().secret as string;
  const auth = { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
  const send = async (path: string, payload: unknown, headers: Record<string, string> = {}) => {
    const r = await app.server.inject({
      method: 'POST',
      url: `/v1/${path}`,
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
    });
    return { status: r.statusCode, body: r.json(), type: String(r.headers['content-type']) };
  };
  return { key, send };
}

async function countEvents(workspaceId: string) {
  const r = await sql<{ n: number }>`select count(*) as n from events where workspace_id = ${workspaceId}`.execute(
    app.database.db,
  );
  return r.rows[0]?.n ?? 0;
}
async function profilesOf(workspaceId: string) {
  const r = await sql<{
    n: number;
  }>`select count(*) as n from profiles where workspace_id = ${workspaceId} and merged_into is null`.execute(
    app.database.db,
  );
  return r.rows[0]?.n ?? 0;
}

describe('ingestion', () => {
  it('keeps the valid messages of a batch and reports the invalid ones by index with a code', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const res = await send('batch', {
      batch: [
        { type: 'track', userId: 'u1', event: 'Opened' },
        { type: 'track', event: 'No one' },
        { type: 'teleport', userId: 'u1' },
        { type: 'track', userId: 'u1' },
        { type: 'identify', userId: 'u1', traits: { email: 'u1@example.test' } },
        { type: 'alias', userId: 'u1' },
        { type: 'track', userId: 'u1', event: 'x', properties: { blob: 'y'.repeat(40_000) } },
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 2);
    assert.deepEqual(
      res.body.rejected.map((r: { index: number; code: string }) => `${r.index}:${r.code}`),
      ['1:MISSING_IDENTITY', '2:INVALID_MESSAGE', '3:MISSING_EVENT_NAME', '5:MISSING_ALIAS_IDS', '6:MESSAGE_TOO_LARGE'],
    );
    assert.equal(await countEvents(ws.workspaceId), 2);
  });

  it('adds nothing for a repeated messageId', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const message = { userId: 'u2', event: 'Paid', messageId: 'order-77-paid' };
    assert.equal((await send('track', message)).status, 200);
    assert.equal((await send('track', message)).status, 200);
    assert.equal(
      (
        await send('batch', {
          batch: [
            { ...message, type: 'track' },
            { ...message, type: 'track' },
          ],
        })
      ).status,
      200,
    );
    assert.equal(await countEvents(ws.workspaceId), 1);
  });

  it('tells listeners of the events they asked for, once per message id, in the storing transaction', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const heard: { messageId: string; name: string | null; profileId: string; committed: boolean }[] = [];
    app.events.onStored({
      names: ['Code Registered'],
      handle: async (trx, workspaceId, events) => {
        if (workspaceId !== ws.workspaceId) return;
        for (const e of events) {
          // Inside the transaction: the event row is already visible to it.
          const row = await sql`select 1 from events where workspace_id = ${workspaceId} and id = ${e.id}`.execute(trx);
          heard.push({
            messageId: e.messageId,
            name: e.name,
            profileId: e.profileId,
            committed: row.rows.length === 1,
          });
        }
      },
    });
    const code = {
      type: 'track',
      userId: 'lis-1',
      event: 'Code Registered',
      messageId: 'reg-1',
      properties: { code: 'X' },
    };
    const other = { type: 'track', userId: 'lis-1', event: 'Page Viewed', messageId: 'pv-1' };
    // The same message id twice in one batch, first as a heard event, then as a plain one: the first is stored
    // and heard.
    const heardCopy = { ...code, messageId: 'dup-1' };
    const plainCopy = { type: 'track', userId: 'lis-1', event: 'Page Viewed', messageId: 'dup-1' };
    assert.equal((await send('batch', { batch: [heardCopy, plainCopy] })).status, 200);
    assert.equal((await send('batch', { batch: [code, other, code] })).status, 200);
    assert.equal((await send('batch', { batch: [code] })).status, 200);
    assert.deepEqual(
      heard.map((h) => [h.messageId, h.name, h.committed]),
      [
        ['dup-1', 'Code Registered', true],
        ['reg-1', 'Code Registered', true],
      ],
    );
    const profile = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=user_id:lis-1',
      headers: ws.bearer,
    });
    assert.equal(heard[0]?.profileId, profile.json().items[0].id);
  });

  it('tells a listener with a test of the event only of the events that pass it', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const heard: string[] = [];
    app.events.onStored({
      names: [],
      types: ['track', 'page'],
      when: (e) => typeof e.properties.placement === 'string',
      handle: async (_trx, workspaceId, events) => {
        if (workspaceId === ws.workspaceId) heard.push(...events.map((e) => e.messageId));
      },
    });
    const batch = [
      { type: 'track', userId: 'w-1', event: 'Order Completed', messageId: 'w-plain' },
      { type: 'page', userId: 'w-1', name: 'Home', messageId: 'w-page', properties: { placement: 'TV1' } },
      { type: 'track', userId: 'w-1', event: 'Signed Up', messageId: 'w-track', properties: { placement: 'RADIO' } },
      { type: 'identify', userId: 'w-1', messageId: 'w-identify', traits: { placement: 'TV1' } },
    ];
    assert.equal((await send('batch', { batch })).status, 200);
    assert.deepEqual(heard.sort(), ['w-page', 'w-track']);
    assert.equal(await countEvents(ws.workspaceId), 4, 'every event is stored, heard or not');
  });

  it('accepts gzip bodies and the write key in the body', async () => {
    const ws = await newWorkspace(app);
    const { key } = await tracking(ws);
    const body = gzipSync(
      JSON.stringify({ writeKey: key, batch: [{ type: 'page', anonymousId: 'g1', name: 'Home' }] }),
    );
    const r = await app.server.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { 'content-encoding': 'gzip' },
      payload: body,
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await countEvents(ws.workspaceId), 1);
  });

  it('corrects the sender’s clock skew with sentAt', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    // The device's clock is two hours fast; the event happened 30 s before it was sent.
    const sentAt = new Date(Date.now() + 2 * 3600_000);
    const timestamp = new Date(sentAt.getTime() - 30_000);
    await send('track', {
      userId: 'skewed',
      event: 'Tapped',
      timestamp: timestamp.toISOString(),
      sentAt: sentAt.toISOString(),
    });
    const r = await sql<{
      occurred_at: Date;
      received_at: Date;
    }>`select occurred_at, received_at from events where workspace_id = ${ws.workspaceId}`.execute(app.database.db);
    const row = r.rows[0] as { occurred_at: Date; received_at: Date };
    const lag = row.received_at.getTime() - row.occurred_at.getTime();
    assert.ok(Math.abs(lag - 30_000) < 1_000, `occurred 30 s before receipt, got ${lag} ms`);
  });

  it('creates one profile for concurrent first events of the same new person', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send('track', { anonymousId: `device-${i % 3}`, userId: 'newcomer', event: 'Hello', messageId: `c${i}` }),
      ),
    );
    assert.equal(await profilesOf(ws.workspaceId), 1);
    assert.equal(await countEvents(ws.workspaceId), 20);
  });

  it('moves the whole timeline to the survivor when a visitor signs in', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    await send('track', { anonymousId: 'tablet', event: 'Browsed' });
    await send('identify', { userId: 'member-9', traits: { email: 'nine@example.test', name: 'Nina' } });
    await send('track', { userId: 'member-9', event: 'Bought' });
    assert.equal(await profilesOf(ws.workspaceId), 2);
    // Signing in on the tablet ties the device to the member: one person, all events on one timeline.
    await send('identify', { anonymousId: 'tablet', userId: 'member-9' });
    assert.equal(await profilesOf(ws.workspaceId), 1);
    const found = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=user_id:member-9',
      headers: ws.bearer,
    });
    const id = found.json().items[0].id;
    const timeline = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/events?limit=2`,
      headers: ws.bearer,
    });
    const page1 = timeline.json();
    assert.equal(page1.items.length, 2);
    const page2 = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/events?limit=2&cursor=${page1.nextCursor}`,
      headers: ws.bearer,
    });
    const names = [...page1.items, ...page2.json().items].map(
      (e: { type: string; name: string | null }) => e.name ?? e.type,
    );
    assert.deepEqual(names.sort(), ['Bought', 'Browsed', 'identify', 'identify']);
    const profile = (
      await app.server.inject({ method: 'GET', url: `/api/v1/profiles/${id}`, headers: ws.bearer })
    ).json();
    assert.equal(profile.traits.name, 'Nina');
    assert.equal(profile.mergedFrom.length, 1);
    // The absorbed id still resolves, to the survivor.
    const absorbed = profile.mergedFrom[0].profileId;
    assert.equal(
      (await app.server.inject({ method: 'GET', url: `/api/v1/profiles/${absorbed}`, headers: ws.bearer })).json().id,
      id,
    );
    const viaAbsorbed = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${absorbed}/events`,
      headers: ws.bearer,
    });
    assert.equal(viaAbsorbed.json().items.length, 4, 'the absorbed id shows the survivor’s whole timeline');
    const unknown = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles/01a20000-0000-7000-8000-000000000000/events',
      headers: ws.bearer,
    });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'PROFILE_NOT_FOUND');
  });

  it('finds customers by identifier, name, e-mail and phone, and only in their own workspace', async () => {
    const ws = await newWorkspace(app);
    const other = await newWorkspace(app);
    const { send } = await tracking(ws);
    await send('identify', {
      userId: 'search-1',
      traits: { email: 'Vera.Lebedeva@example.test', name: 'Vera Lebedeva', phone: '+7 (926) 555-12-34' },
    });
    await send('identify', { userId: 'search-2', traits: { email: 'oleg@example.test', name: 'Oleg' } });
    const find = async (query: string, headers = ws.bearer) => {
      const r = await app.server.inject({ method: 'GET', url: `/api/v1/profiles?${query}`, headers });
      return { status: r.statusCode, body: r.json() };
    };
    const names = async (query: string) => (await find(query)).body.items.map((p: { name: string }) => p.name);
    assert.deepEqual(await names('q=lebed'), ['Vera Lebedeva']);
    assert.deepEqual(await names('q=vera.leb'), ['Vera Lebedeva']);
    assert.deepEqual(await names('q=926555'), ['Vera Lebedeva']);
    assert.deepEqual(await names(`identifier=${encodeURIComponent('email:OLEG@example.test')}`), ['Oleg']);
    assert.deepEqual(await names(`identifier=${encodeURIComponent('phone:+79265551234')}`), ['Vera Lebedeva']);
    assert.deepEqual((await find('q=lebed', other.bearer)).body.items, [], 'another workspace sees nothing');
    const bad = await find(`identifier=${encodeURIComponent('email:not-an-email')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INVALID_IDENTIFIER');
    assert.equal((await find('q=%25%25')).body.items.length, 0, 'LIKE wildcards in a search are literal');
  });

  it('does not show a refused identifier in the traits of the profile that refused it', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    await send('identify', { userId: 'masha', traits: { email: 'masha@example.test', phone: '+79160000001' } });
    await send('identify', { userId: 'masha', traits: { phone: '+79160000002', city: 'Kaluga' } });
    const found = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=user_id:masha',
      headers: ws.bearer,
    });
    const profile = (
      await app.server.inject({
        method: 'GET',
        url: `/api/v1/profiles/${found.json().items[0].id}`,
        headers: ws.bearer,
      })
    ).json();
    assert.equal(profile.traits.phone, '+79160000001', 'the phone on record stays the identifier it holds');
    assert.equal(profile.traits.city, 'Kaluga', 'other traits of the same call still apply');
  });

  it('keeps newest trait values by event time, not arrival order', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    await send('identify', { userId: 't1', traits: { city: 'Kazan' }, timestamp: '2026-05-02T10:00:00Z' });
    await send('identify', { userId: 't1', traits: { city: 'Omsk', tier: 'gold' }, timestamp: '2026-05-01T10:00:00Z' });
    const found = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=user_id:t1',
      headers: ws.bearer,
    });
    const profile = (
      await app.server.inject({
        method: 'GET',
        url: `/api/v1/profiles/${found.json().items[0].id}`,
        headers: ws.bearer,
      })
    ).json();
    assert.equal(profile.traits.city, 'Kazan');
    assert.equal(profile.traits.tier, 'gold');
  });
});

describe('bad input to the tracking API', () => {
  it('answers 400/401/413 problems with codes, never 500', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const cases: [string, unknown, number, string, Record<string, string>?][] = [
      ['track', '{"userId": ', 400, 'INVALID_JSON'],
      ['track', 'not json', 400, 'INVALID_JSON'],
      ['track', '[1,2]', 400, 'INVALID_MESSAGE'],
      ['track', { userId: 42.5, event: ['x'] }, 400, 'INVALID_MESSAGE'],
      ['track', { event: 'x' }, 400, 'MISSING_IDENTITY'],
      ['identify', { userId: { id: 1 } }, 400, 'INVALID_MESSAGE'],
      ['batch', { batch: 'nope' }, 400, 'INVALID_BATCH'],
      ['batch', { batch: [] }, 400, 'EMPTY_BATCH'],
      ['batch', { batch: [{ type: 'track' }] }, 400, 'BATCH_REJECTED'],
      [
        'batch',
        { batch: [{ type: 'track', userId: 'x', event: 'y', properties: { s: 'z'.repeat(600_000) } }] },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['track', { userId: 'x', event: 'y', properties: { s: 'z'.repeat(40_000) } }, 413, 'PAYLOAD_TOO_LARGE'],
      ['track', { userId: 'x', event: 'y' }, 400, 'UNSUPPORTED_ENCODING', { 'content-encoding': 'br' }],
      [
        'track',
        { userId: 'x', event: 'y' },
        401,
        'INVALID_WRITE_KEY',
        { authorization: `Basic ${Buffer.from('wk_nope:').toString('base64')}` },
      ],
      ['track', { userId: 'x', event: 'y' }, 401, 'WRITE_KEY_REQUIRED', { authorization: '' }],
      [
        'track',
        { userId: 'x', event: 'y' },
        401,
        'INVALID_WRITE_KEY',
        { authorization: ws.bearer.authorization.replace('Bearer ', 'Basic ') },
      ],
    ];
    for (const [path, payload, status, code, headers] of cases) {
      const r = await send(path, payload, headers);
      assert.equal(
        r.status,
        status,
        `${path} ${JSON.stringify(payload).slice(0, 60)} → ${JSON.stringify(r.body).slice(0, 200)}`,
      );
      assert.equal(r.body.code, code);
      assert.match(r.type, /problem\+json/);
    }
    assert.equal(await countEvents(ws.workspaceId), 0);
  });

  it('refuses a gzip bomb by its decompressed size', async () => {
    const ws = await newWorkspace(app);
    const { send } = await tracking(ws);
    const bomb = gzipSync(
      JSON.stringify({ batch: [{ type: 'track', userId: 'b', event: 'e', properties: { s: '0'.repeat(5_000_000) } }] }),
    );
    assert.ok(bomb.length < 100_000);
    const r = await send('batch', bomb, { 'content-encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'PAYLOAD_TOO_LARGE');
  });
});
