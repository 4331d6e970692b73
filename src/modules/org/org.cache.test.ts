import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createTestApp, newWorkspace, signInAsOwner, type TestApp } from '../../testing.ts';

// With the credential cache on (as in production), revocations made by this process apply at once.
let app: TestApp;
before(async () => {
  app = await createTestApp({ config: { authCacheSeconds: 300 } });
});
after(async () => {
  await app?.close();
});

it('a revoked key stops working at once even though it was cached', async () => {
  const ws = await newWorkspace(app);
  const created = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'secret', name: 'k', role: 'analyst' },
    })
  ).json();
  const headers = { authorization: `Bearer ${created.secret}` };
  assert.equal((await app.server.inject({ method: 'GET', url: '/api/v1/workspace', headers })).statusCode, 200);
  await app.server.inject({ method: 'DELETE', url: `/api/v1/keys/${created.key.id}`, headers: ws.bearer });
  assert.equal((await app.server.inject({ method: 'GET', url: '/api/v1/workspace', headers })).statusCode, 401);
});

it('a role change applies to the next request of a cached session', async () => {
  const ws = await newWorkspace(app);
  const email = `cache-${ws.workspaceId}@example.test`;
  const user = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: ws.bearer,
      payload: { email, name: 'Cached', role: 'owner', password: 'long enough password' },
    })
  ).json().user;
  const login = await app.server.inject({
    method: 'POST',
    url: '/api/v1/session',
    payload: { email, password: 'long enough password' },
  });
  const cookie = `rapport_session=${login.cookies.find((c) => c.name === 'rapport_session')?.value}`;
  const headers = { cookie, 'rapport-workspace': ws.workspaceId };
  assert.equal((await app.server.inject({ method: 'GET', url: '/api/v1/keys', headers })).statusCode, 200);
  await app.server.inject({
    method: 'PATCH',
    url: `/api/v1/users/${user.id}`,
    headers: ws.bearer,
    payload: { role: 'analyst' },
  });
  assert.equal((await app.server.inject({ method: 'GET', url: '/api/v1/keys', headers })).statusCode, 403);
});

it('a signed-out session stops working at once', async () => {
  const session = await signInAsOwner(app);
  assert.equal(
    (await app.server.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: session.cookie } }))
      .statusCode,
    200,
  );
  await app.server.inject({
    method: 'DELETE',
    url: '/api/v1/session',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
  });
  assert.equal(
    (await app.server.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: session.cookie } }))
      .statusCode,
    401,
  );
});
