import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  createTestApp,
  newWorkspace,
  signInAsOwner,
  type TestApp,
} from '../../testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => {
  await app?.close();
});

type Headers = Record<string, string>;
async function call(method: string, url: string, headers: Headers, payload?: unknown) {
  const response = await app.server.inject({ method: method as 'GET', url, headers, payload: payload as object });
  return { status: response.statusCode, body: response.body ? response.json() : null, headers: response.headers };
}
function assertProblem(
  res: { status: number; body: any; headers: Record<string, unknown> },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(String(res.headers['content-type']), /application\/problem\+json/);
  assert.equal(res.body.code, code);
  assert.equal(res.body.status, status);
  assert.ok(res.body.detail, 'a problem carries a detail a person can act on');
}

async function secretKey(owner: Headers, role: string, branchId?: string) {
  const res = await call('POST', '/api/v1/keys', owner, { kind: 'secret', name: `${role} key`, role, branchId });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { authorization: `Bearer ${res.body.secret}` };
}

describe('branch managers stay inside their branch', () => {
  it('reads and changes only its own subtree, and no workspace setting', async () => {
    const ws = await newWorkspace(app);
    const owner = ws.bearer;
    const north = (await call('POST', '/api/v1/branches', owner, { name: 'North', code: 'N' })).body;
    const south = (await call('POST', '/api/v1/branches', owner, { name: 'South', code: 'S' })).body;
    const southStore = (
      await call('POST', '/api/v1/branches', owner, { name: 'South 1', code: 'S1', parentId: south.id })
    ).body;
    const manager = await secretKey(owner, 'branch_manager', north.id);

    const listed = await call('GET', '/api/v1/branches', manager);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((b: { code: string }) => b.code),
      ['N'],
    );
    assertProblem(await call('GET', `/api/v1/branches/${south.id}`, manager), 404, 'BRANCH_NOT_FOUND');
    assertProblem(await call('GET', `/api/v1/branches/${southStore.id}`, manager), 404, 'BRANCH_NOT_FOUND');
    assertProblem(
      await call('PATCH', `/api/v1/branches/${south.id}`, manager, { name: 'Mine now' }),
      404,
      'BRANCH_NOT_FOUND',
    );
    assertProblem(await call('DELETE', `/api/v1/branches/${southStore.id}`, manager), 404, 'BRANCH_NOT_FOUND');
    assertProblem(
      await call('POST', '/api/v1/branches', manager, { name: 'Sneaky', code: 'X1', parentId: south.id }),
      404,
      'PARENT_BRANCH_NOT_FOUND',
    );
    assertProblem(
      await call('POST', '/api/v1/branches', manager, { name: 'Root', code: 'X2' }),
      403,
      'BRANCH_OUTSIDE_SCOPE',
    );
    assertProblem(
      await call('PATCH', `/api/v1/branches/${north.id}`, manager, { name: 'Renamed' }),
      403,
      'OWN_BRANCH_READ_ONLY',
    );
    assertProblem(await call('PATCH', '/api/v1/workspace', manager, { name: 'Taken over' }), 403, 'FORBIDDEN');
    assertProblem(await call('GET', '/api/v1/keys', manager), 403, 'FORBIDDEN');
    assertProblem(
      await call('POST', '/api/v1/users', manager, { email: 'x@example.test', name: 'X', role: 'owner' }),
      403,
      'FORBIDDEN',
    );

    // Inside its branch it works.
    const shelf = await call('POST', '/api/v1/branches', manager, { name: 'North 1', code: 'N1', parentId: north.id });
    assert.equal(shelf.status, 201);
    assert.equal(
      (await call('PATCH', `/api/v1/branches/${shelf.body.id}`, manager, { name: 'North One' })).body.name,
      'North One',
    );
    assert.equal((await call('GET', '/api/v1/branches', manager)).body.items.length, 2);

    // Nothing of the south changed.
    assert.equal((await call('GET', `/api/v1/branches/${south.id}`, owner)).body.name, 'South');
    assert.equal((await call('GET', '/api/v1/workspace', owner)).body.name.startsWith('Test'), true);
  });

  it('sees only users of its own subtree', async () => {
    const ws = await newWorkspace(app);
    const north = (await call('POST', '/api/v1/branches', ws.bearer, { name: 'North', code: 'N' })).body;
    const south = (await call('POST', '/api/v1/branches', ws.bearer, { name: 'South', code: 'S' })).body;
    const inNorth = await call('POST', '/api/v1/users', ws.bearer, {
      email: `n-${ws.workspaceId}@example.test`,
      name: 'Nadia',
      role: 'operator',
      branchId: north.id,
    });
    const inSouth = await call('POST', '/api/v1/users', ws.bearer, {
      email: `s-${ws.workspaceId}@example.test`,
      name: 'Sergei',
      role: 'operator',
      branchId: south.id,
    });
    const manager = await secretKey(ws.bearer, 'branch_manager', north.id);
    const users = (await call('GET', '/api/v1/users', manager)).body.items.map((u: { name: string }) => u.name);
    assert.deepEqual(users, ['Nadia']);
    assertProblem(await call('GET', `/api/v1/users/${inSouth.body.user.id}`, manager), 404, 'USER_NOT_FOUND');
    assert.equal((await call('GET', `/api/v1/users/${inNorth.body.user.id}`, manager)).status, 200);
  });
});

describe('workspaces are isolated', () => {
  it('a key of workspace A gets 404 for every object of workspace B', async () => {
    const a = await newWorkspace(app);
    const b = await newWorkspace(app);
    const branchB = (await call('POST', '/api/v1/branches', b.bearer, { name: 'B store', code: 'B1' })).body;
    const userB = (
      await call('POST', '/api/v1/users', b.bearer, {
        email: `u-${b.workspaceId}@example.test`,
        name: 'Bea',
        role: 'analyst',
      })
    ).body.user;
    const keyB = (await call('POST', '/api/v1/keys', b.bearer, { kind: 'write', name: 'site' })).body.key;

    assertProblem(await call('GET', `/api/v1/branches/${branchB.id}`, a.bearer), 404, 'BRANCH_NOT_FOUND');
    assertProblem(
      await call('PATCH', `/api/v1/branches/${branchB.id}`, a.bearer, { name: 'x' }),
      404,
      'BRANCH_NOT_FOUND',
    );
    assertProblem(await call('DELETE', `/api/v1/branches/${branchB.id}`, a.bearer), 404, 'BRANCH_NOT_FOUND');
    assertProblem(await call('GET', `/api/v1/users/${userB.id}`, a.bearer), 404, 'USER_NOT_FOUND');
    assertProblem(await call('PATCH', `/api/v1/users/${userB.id}`, a.bearer, { role: 'owner' }), 404, 'USER_NOT_FOUND');
    assertProblem(await call('DELETE', `/api/v1/users/${userB.id}`, a.bearer), 404, 'USER_NOT_FOUND');
    assertProblem(await call('DELETE', `/api/v1/keys/${keyB.id}`, a.bearer), 404, 'KEY_NOT_FOUND');
    assertProblem(
      await call('POST', '/api/v1/branches', a.bearer, { name: 'child', code: 'C', parentId: branchB.id }),
      404,
      'PARENT_BRANCH_NOT_FOUND',
    );
    const listA = (await call('GET', '/api/v1/branches', a.bearer)).body.items;
    assert.equal(listA.length, 0);
    // B's objects are intact.
    assert.equal((await call('GET', `/api/v1/branches/${branchB.id}`, b.bearer)).body.name, 'B store');
    assert.equal((await call('GET', `/api/v1/users/${userB.id}`, b.bearer)).body.role, 'analyst');
  });

  it('a console user cannot pick a workspace they are not a member of', async () => {
    const b = await newWorkspace(app);
    const outsider = await call('POST', '/api/v1/users', b.bearer, {
      email: `out-${b.workspaceId}@example.test`,
      name: 'Olga',
      role: 'marketer',
      password: 'a long enough password',
    });
    assert.equal(outsider.status, 201);
    const a = await newWorkspace(app);
    const login = await app.server.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { email: `out-${b.workspaceId}@example.test`, password: 'a long enough password' },
    });
    assert.equal(login.statusCode, 200);
    const cookie = `rapport_session=${login.cookies.find((c) => c.name === 'rapport_session')?.value}`;
    assertProblem(
      await call('GET', '/api/v1/workspace', { cookie, 'rapport-workspace': a.workspaceId }),
      404,
      'WORKSPACE_NOT_FOUND',
    );
    assert.equal((await call('GET', '/api/v1/workspace', { cookie, 'rapport-workspace': b.workspaceId })).status, 200);
  });
});

describe('sign-in', () => {
  it('refuses a sixth attempt after five wrong passwords, even with the right password', async () => {
    const email = `limited-${Date.now()}@example.test`;
    const ws = await newWorkspace(app);
    await call('POST', '/api/v1/users', ws.bearer, {
      email,
      name: 'Lim',
      role: 'analyst',
      password: 'the right password',
    });
    for (let i = 0; i < 5; i++) {
      assertProblem(
        await call('POST', '/api/v1/session', {}, { email, password: `wrong ${i}` }),
        401,
        'INVALID_CREDENTIALS',
      );
    }
    const limited = await call('POST', '/api/v1/session', {}, { email, password: 'the right password' });
    assertProblem(limited, 429, 'RATE_LIMITED');
    assert.ok(limited.body.retryAfterSeconds > 0);
    // Other accounts are not affected by one account's lockout.
    assert.equal(
      (await call('POST', '/api/v1/session', {}, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD })).status,
      200,
    );
  });

  it('sets an HttpOnly SameSite cookie and demands the CSRF token on changes', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { email: ADMIN_EMAIL.toUpperCase(), password: ADMIN_PASSWORD },
    });
    assert.equal(response.statusCode, 200);
    const setCookie = String(response.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const session = await signInAsOwner(app);
    const withoutToken = await call(
      'POST',
      '/api/v1/branches',
      { cookie: session.cookie },
      { name: 'X', code: 'CSRF1' },
    );
    assertProblem(withoutToken, 403, 'CSRF_TOKEN_INVALID');
    const wrongToken = await call(
      'POST',
      '/api/v1/branches',
      { cookie: session.cookie, 'x-csrf-token': 'nope' },
      { name: 'X', code: 'CSRF1' },
    );
    assertProblem(wrongToken, 403, 'CSRF_TOKEN_INVALID');
    const ok = await call(
      'POST',
      '/api/v1/branches',
      { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
      { name: 'X', code: 'CSRF1' },
    );
    assert.equal(ok.status, 201);
    // Reads need no token.
    assert.equal((await call('GET', '/api/v1/branches', { cookie: session.cookie })).status, 200);
  });

  it('ends the session on sign-out', async () => {
    const session = await signInAsOwner(app);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
    assert.equal((await call('DELETE', '/api/v1/session', headers)).status, 204);
    assertProblem(await call('GET', '/api/v1/session', { cookie: session.cookie }), 401, 'SESSION_EXPIRED');
  });
});

describe('API keys', () => {
  it('shows a secret once, stores only its hash, and stops honouring it when revoked', async () => {
    const ws = await newWorkspace(app);
    const created = await call('POST', '/api/v1/keys', ws.bearer, {
      kind: 'secret',
      name: 'CRM sync',
      role: 'analyst',
    });
    assert.equal(created.status, 201);
    const secret: string = created.body.secret;
    assert.match(secret, /^sk_[0-9A-Za-z]{40}$/);
    const listed = await call('GET', '/api/v1/keys', ws.bearer);
    assert.ok(!JSON.stringify(listed.body).includes(secret), 'the list never repeats a secret');
    const stored = await sql<{
      n: number;
    }>`select count(*) as n from api_keys where secret_hash = ${secret} or write_key = ${secret}`.execute(
      app.database.db,
    );
    assert.equal(stored.rows[0]?.n, 0, 'the clear secret is not in the database');

    const analyst = { authorization: `Bearer ${secret}` };
    assert.equal((await call('GET', '/api/v1/workspace', analyst)).status, 200);
    assertProblem(await call('POST', '/api/v1/branches', analyst, { name: 'No', code: 'NO' }), 403, 'FORBIDDEN');
    assert.equal(
      (await call('DELETE', `/api/v1/keys/${created.body.key.id}`, ws.bearer)).body.revokedAt !== null,
      true,
    );
    assertProblem(await call('GET', '/api/v1/workspace', analyst), 401, 'INVALID_API_KEY');
  });

  it('keeps write keys out of the management API', async () => {
    const ws = await newWorkspace(app);
    const created = await call('POST', '/api/v1/keys', ws.bearer, { kind: 'write', name: 'web site' });
    assert.match(created.body.secret, /^wk_/);
    assert.equal(created.body.key.writeKey, created.body.secret, 'write keys are publishable and stay readable');
    assertProblem(
      await call('GET', '/api/v1/workspace', { authorization: `Bearer ${created.body.secret}` }),
      403,
      'WRITE_KEY_NOT_ALLOWED',
    );
  });

  it('rejects unknown and malformed credentials with 401', async () => {
    assertProblem(
      await call('GET', '/api/v1/workspace', { authorization: 'Bearer sk_unknown' }),
      401,
      'INVALID_API_KEY',
    );
    assertProblem(await call('GET', '/api/v1/workspace', { authorization: 'Basic abc' }), 401, 'INVALID_AUTHORIZATION');
    assertProblem(await call('GET', '/api/v1/workspace', {}), 401, 'UNAUTHENTICATED');
  });
});

describe('bad input', () => {
  const MALFORMED: { payload: string; contentType: string }[] = [
    { payload: '{"name": ', contentType: 'application/json' },
    { payload: 'not json at all', contentType: 'application/json' },
    { payload: '[]', contentType: 'application/json' },
    { payload: '"a string"', contentType: 'application/json' },
    {
      payload: '{"name": 42, "code": {}, "role": "emperor", "kind": "master", "email": 7}',
      contentType: 'application/json',
    },
    { payload: '{"unexpected": true}', contentType: 'application/json' },
    { payload: 'name=x', contentType: 'application/x-www-form-urlencoded' },
    { payload: '', contentType: 'application/json' },
  ];

  it('answers every malformed body on every write route with a 4xx problem, never a 500', async () => {
    const ws = await newWorkspace(app);
    const writes = app.server.routeTable.filter(
      (r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && r.url.startsWith('/api/v1/'),
    );
    assert.ok(writes.length >= 8, 'the route table lists the write routes');
    const someId = '01a20000-0000-7000-8000-000000000000';
    for (const route of writes) {
      for (const bad of MALFORMED) {
        const response = await app.server.inject({
          method: route.method as 'POST',
          url: route.url.replace(':id', someId),
          headers: { ...ws.bearer, 'content-type': bad.contentType },
          payload: bad.payload,
        });
        const label = `${route.method} ${route.url} with ${JSON.stringify(bad.payload)}`;
        assert.ok(
          response.statusCode >= 400 && response.statusCode < 500,
          `${label} → ${response.statusCode} ${response.body}`,
        );
        assert.match(String(response.headers['content-type']), /problem\+json/, label);
        assert.match(response.json().code, /^[A-Z_]+$/, label);
      }
    }
  });

  it('names the field that is wrong', async () => {
    const ws = await newWorkspace(app);
    const res = await call('POST', '/api/v1/branches', ws.bearer, { name: 'Store', code: 'has space' });
    assertProblem(res, 400, 'VALIDATION_FAILED');
    assert.equal(res.body.errors[0].path, 'body.code');
    const tz = await call('PATCH', '/api/v1/workspace', ws.bearer, { timeZone: 'Mars/Olympus' });
    assertProblem(tz, 400, 'VALIDATION_FAILED');
    assert.match(tz.body.detail, /IANA time zone/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const ws = await newWorkspace(app);
    const res = await call('POST', '/api/v1/branches', ws.bearer, { name: 'x'.repeat(2_000_000), code: 'BIG' });
    assertProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers unknown routes and bad ids with problems', async () => {
    const ws = await newWorkspace(app);
    assertProblem(await call('GET', '/api/v1/nothing-here', ws.bearer), 404, 'ROUTE_NOT_FOUND');
    assertProblem(await call('GET', '/api/v1/branches/not-a-uuid', ws.bearer), 400, 'VALIDATION_FAILED');
    assertProblem(await call('GET', '/api/v1/branches?limit=0', ws.bearer), 400, 'VALIDATION_FAILED');
    assertProblem(await call('GET', '/api/v1/branches?cursor=garbage', ws.bearer), 400, 'INVALID_CURSOR');
  });
});

describe('workspace rules', () => {
  it('keeps at least one owner', async () => {
    const session = await signInAsOwner(app);
    const ws = await newWorkspace(app);
    const me = await call('GET', '/api/v1/users', ws.bearer);
    const ownerId = me.body.items.find((u: { role: string }) => u.role === 'owner').id;
    assertProblem(await call('PATCH', `/api/v1/users/${ownerId}`, ws.bearer, { role: 'analyst' }), 409, 'LAST_OWNER');
    assertProblem(await call('DELETE', `/api/v1/users/${ownerId}`, ws.bearer), 409, 'LAST_OWNER');
    assert.ok(session.workspaceId);
  });

  it('pages through lists with a cursor', async () => {
    const ws = await newWorkspace(app);
    for (let i = 0; i < 5; i++)
      await call('POST', '/api/v1/branches', ws.bearer, { name: `Store ${i}`, code: `ST${i}` });
    const first = await call('GET', '/api/v1/branches?limit=2', ws.bearer);
    assert.equal(first.body.items.length, 2);
    const seen = [...first.body.items];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const next = await call('GET', `/api/v1/branches?limit=2&cursor=${cursor}`, ws.bearer);
      seen.push(...next.body.items);
      cursor = next.body.nextCursor;
    }
    assert.deepEqual(seen.map((b) => b.code).sort(), ['ST0', 'ST1', 'ST2', 'ST3', 'ST4']);
  });

  it('records staff changes in the audit log', async () => {
    const ws = await newWorkspace(app);
    const branch = (await call('POST', '/api/v1/branches', ws.bearer, { name: 'Audited', code: 'AUD' })).body;
    const log = await call('GET', '/api/v1/audit?action=branch.', ws.bearer);
    assert.equal(log.status, 200);
    const entry = log.body.items.find((e: { targetId: string }) => e.targetId === branch.id);
    assert.equal(entry.action, 'branch.created');
    assert.equal(entry.actorKind, 'key');
    assert.match(entry.actorLabel, /^key:sk_/);
  });
});

describe('nightly maintenance', () => {
  it('deletes expired sessions and, with a retention set, audit entries older than it — and keeps the rest', async () => {
    const kept = await createTestApp({ config: { auditRetentionDays: 180 } });
    try {
      const ws = await newWorkspace(kept);
      const audit = async () =>
        (
          await sql<{ action: string }>`select action from audit_log where workspace_id = ${ws.workspaceId}
            order by action`.execute(kept.database.db)
        ).rows.map((r) => r.action);
      const day = 86_400_000;
      await sql`insert into audit_log (id, workspace_id, at, actor_kind, action) values
        (gen_random_uuid(), ${ws.workspaceId}, ${new Date(Date.now() - 200 * day).toISOString()}, 'system', 'old.entry'),
        (gen_random_uuid(), ${ws.workspaceId}, ${new Date(Date.now() - 170 * day).toISOString()}, 'system', 'recent.entry')`.execute(
        kept.database.db,
      );
      const before = await audit();
      assert.ok(before.includes('old.entry') && before.includes('recent.entry'));
      const signedIn = await signInAsOwner(kept);
      await sql`update sessions set expires_at = now() - interval '1 minute'`.execute(kept.database.db);
      const job = kept.org.jobs.find((j) => j.name === 'org.maintenance');
      await job?.handler();
      const after = await audit();
      assert.ok(!after.includes('old.entry'), 'older than 180 days: gone');
      assert.ok(after.includes('recent.entry'), 'within 180 days: kept');
      assert.equal(after.length, before.length - 1);
      const left = await sql<{ n: number }>`select count(*)::int as n from sessions`.execute(kept.database.db);
      assert.equal(left.rows[0]?.n, 0, 'expired sessions are deleted');
      assert.ok(signedIn);
    } finally {
      await kept.close();
    }
  });

  it('keeps audit entries forever unless a retention is configured; a retention under 180 days is refused', async () => {
    const ws = await newWorkspace(app);
    await sql`insert into audit_log (id, workspace_id, at, actor_kind, action)
      values (gen_random_uuid(), ${ws.workspaceId}, now() - interval '3000 days', 'system', 'ancient.entry')`.execute(
      app.database.db,
    );
    await app.org.jobs.find((j) => j.name === 'org.maintenance')?.handler();
    const rows =
      await sql`select 1 from audit_log where workspace_id = ${ws.workspaceId} and action = 'ancient.entry'`.execute(
        app.database.db,
      );
    assert.equal(rows.rows.length, 1);
    const { loadConfig } = await import('../../platform/config.ts');
    assert.throws(() => loadConfig({ RAPPORT_AUDIT_RETENTION_DAYS: '30' }), /auditRetentionDays/);
  });
});
