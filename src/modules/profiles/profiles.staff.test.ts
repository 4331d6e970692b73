import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, newWorkspace, type TestApp, type TestWorkspace } from '../../testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

async function setup(ws: TestWorkspace) {
  const key = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'write', name: 'w' },
    })
  ).json().secret as string;
  const auth = { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
  const send = (batch: unknown[]) =>
    app.server.inject({ method: 'POST', url: '/v1/batch', headers: auth, payload: { batch } });
  const idOf = async (identifier: string) =>
    (
      await app.server.inject({
        method: 'GET',
        url: `/api/v1/profiles?identifier=${encodeURIComponent(identifier)}`,
        headers: ws.bearer,
      })
    ).json().items[0]?.id as string;
  const call = async (method: string, url: string, payload?: unknown, headers = ws.bearer) => {
    const r = await app.server.inject({ method: method as 'POST', url, headers, payload: payload as object });
    return { status: r.statusCode, body: r.json() };
  };
  return { send, idOf, call };
}

describe('staff actions on profiles', () => {
  it('merges two profiles a person is known to own, moving identities and timeline, audited', async () => {
    const ws = await newWorkspace(app);
    const { send, idOf, call } = await setup(ws);
    await send([
      { type: 'identify', userId: 'shop-77', traits: { email: 'irina@example.test', name: 'Irina' } },
      { type: 'track', userId: 'shop-77', event: 'Order Completed' },
      { type: 'identify', anonymousId: 'call-centre-note', traits: { phone: '+79031112233', city: 'Tver' } },
    ]);
    const irina = await idOf('email:irina@example.test');
    const caller = await idOf('phone:+79031112233');
    assert.notEqual(irina, caller);
    const merged = await call('POST', `/api/v1/profiles/${irina}/merge`, { absorbId: caller });
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.equal(merged.body.id, irina);
    assert.deepEqual(merged.body.identities.map((i: { kind: string }) => i.kind).sort(), [
      'anonymous_id',
      'email',
      'phone',
      'user_id',
    ]);
    assert.equal(merged.body.traits.city, 'Tver');
    assert.equal(merged.body.mergedFrom[0].reason, 'manual');
    assert.equal(await idOf('phone:+79031112233'), irina);
    const timeline = await call('GET', `/api/v1/profiles/${irina}/events`);
    assert.equal(timeline.body.items.length, 3);
    const audit = await call('GET', '/api/v1/audit?action=profile.merged');
    assert.equal(audit.body.items[0].targetId, irina);
    assert.equal(audit.body.items[0].details.absorbedId, caller);
  });

  it('refuses to merge two people: different values of one kind, or a profile with itself', async () => {
    const ws = await newWorkspace(app);
    const { send, idOf, call } = await setup(ws);
    await send([
      { type: 'identify', userId: 'a', traits: { email: 'a@example.test' } },
      { type: 'identify', userId: 'b', traits: { email: 'b@example.test' } },
    ]);
    const a = await idOf('user_id:a');
    const b = await idOf('user_id:b');
    const conflict = await call('POST', `/api/v1/profiles/${a}/merge`, { absorbId: b });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.code, 'MERGE_CONFLICT');
    assert.deepEqual(conflict.body.conflictingKinds.sort(), ['email', 'user_id']);
    assert.equal((await call('POST', `/api/v1/profiles/${a}/merge`, { absorbId: a })).body.code, 'MERGE_WITH_ITSELF');
    assert.equal(
      (await call('POST', `/api/v1/profiles/${a}/merge`, { absorbId: '01a20000-0000-7000-8000-000000000000' })).status,
      404,
    );
    const analyst = (await call('POST', '/api/v1/keys', { kind: 'secret', name: 'an', role: 'analyst' })).body.secret;
    const forbidden = await call(
      'POST',
      `/api/v1/profiles/${a}/merge`,
      { absorbId: b },
      { authorization: `Bearer ${analyst}` },
    );
    assert.equal(forbidden.status, 403);
  });

  it('edits traits newest-wins: an older event does not undo the edit, a newer one does', async () => {
    const ws = await newWorkspace(app);
    const { send, idOf, call } = await setup(ws);
    await send([
      {
        type: 'identify',
        userId: 'edit-me',
        traits: { city: 'Omsk', nickname: 'Sunny' },
        timestamp: '2026-01-01T00:00:00Z',
      },
    ]);
    const id = await idOf('user_id:edit-me');
    const edited = await call('PATCH', `/api/v1/profiles/${id}/traits`, {
      set: { city: 'Samara', vip: true },
      unset: ['nickname'],
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.deepEqual(edited.body.traits, { city: 'Samara', vip: true });
    // A late event from before the edit changes nothing; one from after it wins.
    await send([
      {
        type: 'identify',
        userId: 'edit-me',
        traits: { city: 'Omsk', nickname: 'Sunny' },
        timestamp: '2026-02-01T00:00:00Z',
      },
    ]);
    assert.deepEqual((await call('GET', `/api/v1/profiles/${id}`)).body.traits, { city: 'Samara', vip: true });
    await send([{ type: 'identify', userId: 'edit-me', traits: { city: 'Perm' } }]);
    assert.equal((await call('GET', `/api/v1/profiles/${id}`)).body.traits.city, 'Perm');
    const audit = await call('GET', '/api/v1/audit?action=profile.traits_edited');
    assert.deepEqual(audit.body.items[0].details, { set: ['city', 'vip'], unset: ['nickname'] });
    assert.ok(
      !JSON.stringify(audit.body.items[0]).includes('Samara'),
      'the audit log names the traits, not their values',
    );
    const bad = await call('PATCH', `/api/v1/profiles/${id}/traits`, { set: {}, unset: [] });
    assert.equal(bad.status, 400);
    assert.equal((await call('PATCH', `/api/v1/profiles/${id}/traits`, { set: { a: 1 }, unset: ['a'] })).status, 400);
  });
});
