import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PERMISSIONS, ROLE_PERMISSIONS, ROLES, type Role } from './modules/org/index.ts';
import { randomToken } from './platform/ids.ts';
import { createTestApp, newWorkspace, type TestApp, type TestWorkspace } from './testing.ts';

/**
 * The role × route matrix, generated from the server's own route table: every route under /api/v1, called by every
 * role with a secret key and with a console session, by a write key and by nobody, must answer 401/403 exactly
 * when the permission catalogue (ROLE_PERMISSIONS) says so. A route added later is in the table, so it is tested
 * without anyone listing it here; one that declares an unknown permission, or is public, fails until it is looked at.
 */

let app: TestApp;
let ws: TestWorkspace;
type Headers = Record<string, string>;
const keys = {} as Record<Role, Headers>;
const sessions = {} as Record<Role, Headers>;
const passwords = {} as Record<Role, { email: string; password: string }>;
let writeKey: Headers;
let branches: { region: string; store: string; otherStore: string };

/** Management routes anyone may call; a new one must be added here on purpose. */
const PUBLIC_API_ROUTES = new Set(['POST /api/v1/session']);
/** Routes that need a console session rather than a workspace permission. */
const SESSION_ROUTES = new Set([
  'GET /api/v1/session',
  'DELETE /api/v1/session',
  'GET /api/v1/workspaces',
  'POST /api/v1/workspaces',
]);

const SOME_ID = '01a20000-0000-7000-8000-000000000000';

async function inject(method: string, url: string, headers: Headers, payload?: unknown) {
  const response = await app.server.inject({
    method: method as 'GET',
    url,
    headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    payload: payload === undefined ? undefined : JSON.stringify(payload),
  });
  let body: Record<string, any> = {};
  try {
    body = response.json();
  } catch {}
  return { status: response.statusCode, body, text: response.body };
}

async function signIn(role: Role): Promise<Headers> {
  const { email, password } = passwords[role];
  const r = await app.server.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password } });
  assert.equal(r.statusCode, 200, r.body);
  const cookie = r.cookies.find((c) => c.name === 'rapport_session');
  return {
    cookie: `rapport_session=${cookie?.value}`,
    'x-csrf-token': r.json().csrfToken,
    'rapport-workspace': ws.workspaceId,
  };
}

before(async () => {
  app = await createTestApp();
  ws = await newWorkspace(app);
  const branch = async (name: string, code: string, parentId?: string) => {
    const r = await inject('POST', '/api/v1/branches', ws.bearer, { name, code, parentId });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };
  const region = await branch('North', 'NORTH');
  branches = { region, store: await branch('Store 1', 'N1', region), otherStore: await branch('Store 2', 'S2') };
  for (const role of ROLES) {
    const branchId = role === 'branch_manager' ? branches.region : undefined;
    const key = await inject('POST', '/api/v1/keys', ws.bearer, { kind: 'secret', name: role, role, branchId });
    assert.equal(key.status, 201, key.text);
    keys[role] = { authorization: `Bearer ${key.body.secret}` };
    passwords[role] = { email: `${role}.${randomToken(6).toLowerCase()}@example.test`, password: randomToken(20) };
    const user = await inject('POST', '/api/v1/users', ws.bearer, {
      email: passwords[role].email,
      name: `The ${role}`,
      role,
      branchId,
      password: passwords[role].password,
    });
    assert.equal(user.status, 201, user.text);
    sessions[role] = await signIn(role);
  }
  const write = await inject('POST', '/api/v1/keys', ws.bearer, { kind: 'write', name: 'site' });
  writeKey = { authorization: `Bearer ${write.body.secret}` };
});
after(async () => app?.close());

function apiRoutes() {
  return app.server.routeTable.filter((r) => r.url.startsWith('/api/v1/'));
}

describe('role × route matrix', () => {
  it('every management route declares public, session or a permission of the catalogue', () => {
    const routes = apiRoutes();
    assert.ok(routes.length >= 30, `the route table lists the management routes (${routes.length})`);
    for (const r of routes) {
      const label = `${r.method} ${r.url}`;
      if (r.auth === 'public') assert.ok(PUBLIC_API_ROUTES.has(label), `${label} is public: add it on purpose`);
      else if (r.auth === 'session') assert.ok(SESSION_ROUTES.has(label), `${label} needs a session: add it`);
      else assert.ok((PERMISSIONS as readonly string[]).includes(r.auth), `${label} names an unknown ${r.auth}`);
    }
  });

  it('keeps personal data behind the permissions meant for it', () => {
    // The catalogue and the routes agree by construction; these are what must not drift with them.
    const holders = (p: string) => ROLES.filter((r) => (ROLE_PERMISSIONS[r] as readonly string[]).includes(p));
    assert.deepEqual(holders('profiles:export'), ['owner']);
    assert.deepEqual(holders('profiles:erase'), ['owner']);
    assert.deepEqual(holders('profiles:read_pii'), ['owner', 'marketer']);
    assert.deepEqual(holders('audit:read'), ['owner']);
    assert.ok(!holders('profiles:read').includes('branch_manager'));
    const declared = new Map(apiRoutes().map((r) => [`${r.method} ${r.url}`, r.auth]));
    assert.equal(declared.get('GET /api/v1/profiles/:id/export'), 'profiles:export');
    assert.equal(declared.get('POST /api/v1/profiles/:id/erase'), 'profiles:erase');
    assert.equal(declared.get('GET /api/v1/audit'), 'audit:read');
    assert.equal(declared.get('POST /api/v1/keys'), 'keys:manage');
    // Codes: clear codes again after their one download only for the owner; the first download by those who manage.
    assert.deepEqual(holders('codes:export'), ['owner']);
    assert.deepEqual(holders('codes:manage'), ['owner', 'marketer']);
    assert.equal(declared.get('GET /api/v1/codes/batches/:id/export'), 'codes:export');
    assert.equal(declared.get('GET /api/v1/codes/batches/:id/download'), 'codes:manage');
    assert.equal(declared.get('GET /api/v1/codes/attempts'), 'codes:read');
  });

  it('answers 401/403 exactly as ROLE_PERMISSIONS says, for keys, sessions, write keys and nobody', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const route of apiRoutes()) {
      const label = `${route.method} ${route.url}`;
      const url = route.url.replace(/:(\w+)/g, SOME_ID);
      // A body no route accepts: an authorised call stops at validation (400) or at the missing id (404), so the
      // matrix changes nothing, while the access check runs before either.
      const payload = ['POST', 'PUT', 'PATCH'].includes(route.method) ? [] : undefined;
      const check = async (who: string, headers: Headers, allowed: boolean) => {
        const r = await inject(route.method, url, headers, payload);
        calls++;
        const denied = r.status === 401 || r.status === 403;
        if (allowed === denied) failures.push(`${label} as ${who}: ${r.status} ${String(r.body.code ?? '')}`);
        if (route.url === '/api/v1/session' && route.method === 'DELETE' && headers.cookie && !denied) {
          // That call signed the session out: sign in again for the routes after it.
          const role = who.replace(/^session:/, '') as Role;
          sessions[role] = await signIn(role);
        }
      };
      if (route.auth === 'public') {
        const r = await inject(route.method, url, {}, payload);
        if (r.status === 403 || r.body.code === 'UNAUTHENTICATED') failures.push(`${label} (public): ${r.status}`);
        continue;
      }
      await check('nobody', {}, false);
      await check('write key', writeKey, false);
      for (const role of ROLES) {
        const byPermission = (ROLE_PERMISSIONS[role] as readonly string[]).includes(route.auth);
        await check(`key:${role}`, keys[role], route.auth !== 'session' && byPermission);
        await check(`session:${role}`, sessions[role], route.auth === 'session' || byPermission);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(calls > 300, `${calls} calls`);
  });
});

describe('scope and masking', () => {
  let person: string;
  const EMAIL = `anastasia.${randomToken(5).toLowerCase()}@example.test`;
  const PHONE = '+79161234567';
  const CARD = '4276000011112222';
  const IP = '203.0.113.75';

  before(async () => {
    const write = (await inject('POST', '/api/v1/keys', ws.bearer, { kind: 'write', name: 'tracking' })).body
      .secret as string;
    const auth = { authorization: `Basic ${Buffer.from(`${write}:`).toString('base64')}` };
    const sent = await inject('POST', '/v1/batch', auth, {
      batch: [
        {
          type: 'identify',
          userId: 'masked-1',
          traits: { email: EMAIL, phone: PHONE, card: CARD, name: 'Anastasia' },
          context: { ip: IP },
        },
        { type: 'track', userId: 'masked-1', event: 'Signed Up', properties: { contact: EMAIL } },
      ],
    });
    assert.equal(sent.status, 200, sent.text);
    person = (await inject('GET', `/api/v1/profiles?identifier=email:${EMAIL}`, ws.bearer)).body.items[0].id;
  });

  it('branch managers see their branch and below only, and no profiles at all', async () => {
    for (const headers of [keys.branch_manager, sessions.branch_manager]) {
      const list = await inject('GET', '/api/v1/branches', headers);
      assert.deepEqual(
        list.body.items.map((b: { id: string }) => b.id).sort(),
        [branches.region, branches.store].sort(),
      );
      assert.equal((await inject('GET', `/api/v1/branches/${branches.otherStore}`, headers)).status, 404);
      assert.equal((await inject('GET', `/api/v1/branches/${branches.store}`, headers)).status, 200);
      for (const url of ['/api/v1/profiles', `/api/v1/profiles/${person}`, `/api/v1/profiles/${person}/events`]) {
        assert.equal((await inject('GET', url, headers)).status, 403, url);
      }
      const users = await inject('GET', '/api/v1/users', headers);
      assert.ok(users.body.items.every((u: { branchId: string | null }) => u.branchId === branches.region));
    }
  });

  it('analysts and operators never see contact data in clear, on any profile read; nor export it', async () => {
    const profileReads = apiRoutes().filter((r) => r.method === 'GET' && r.url.startsWith('/api/v1/profiles'));
    assert.ok(profileReads.length >= 3);
    for (const role of ['analyst', 'operator'] as const) {
      for (const headers of [keys[role], sessions[role]]) {
        for (const route of profileReads) {
          const url = route.url.replace(':id', person);
          const r = await inject('GET', url, headers);
          if (route.auth !== 'profiles:read') {
            assert.equal(r.status, 403, `${role} ${url}`);
            continue;
          }
          assert.equal(r.status, 200, `${role} ${url}: ${r.text}`);
          for (const clear of [EMAIL, PHONE, CARD, IP])
            assert.ok(!r.text.includes(clear), `${role} ${url} shows ${clear}`);
        }
        const one = (await inject('GET', `/api/v1/profiles/${person}`, headers)).body as {
          identities: { kind: string; value: string }[];
          traits: Record<string, unknown>;
        };
        const value = (kind: string) => one.identities.find((i) => i.kind === kind)?.value;
        assert.equal(value('email'), `a***@example.test`);
        assert.equal(value('phone'), '+7 *** *** ** 67');
        assert.equal(value('card'), '**** 2222');
        assert.equal(value('user_id'), 'masked-1');
        assert.equal(one.traits.email, 'a***@example.test');
        assert.equal(one.traits.name, 'Anastasia');
        const list = (await inject('GET', '/api/v1/profiles?q=anastasia', headers)).body.items;
        assert.deepEqual(
          list.map((p: { email: string; phone: string }) => [p.email, p.phone]),
          [['a***@example.test', '+7 *** *** ** 67']],
        );
        const timeline = (await inject('GET', `/api/v1/profiles/${person}/events`, headers)).body.items;
        const identify = timeline.find((e: { type: string }) => e.type === 'identify');
        assert.equal(identify.context.ip, '203.0.*.*');
        for (const url of [`/api/v1/profiles/${person}/export`, `/api/v1/profiles/${person}/export?format=csv`]) {
          assert.equal((await inject('GET', url, headers)).status, 403);
        }
      }
    }
    for (const role of ['owner', 'marketer'] as const) {
      const one = await inject('GET', `/api/v1/profiles/${person}`, keys[role]);
      for (const clear of [EMAIL, PHONE, CARD]) assert.ok(one.text.includes(clear), `${role} sees ${clear}`);
    }
  });

  it('audits every staff read of a profile with who, what, when, where from and with which client', async () => {
    const since = new Date().toISOString();
    const agent = { 'user-agent': 'audit-probe/3' };
    await inject('GET', `/api/v1/profiles/${person}`, { ...sessions.operator, ...agent });
    await inject('GET', `/api/v1/profiles/${person}/events`, { ...sessions.operator, ...agent });
    await inject('GET', '/api/v1/profiles?q=anastasia', { ...sessions.operator, ...agent });
    const operator = (await inject('GET', '/api/v1/me', sessions.operator)).body.userId as string;
    const log = await inject(
      'GET',
      `/api/v1/audit?actorId=${operator}&targetId=${person}&from=${encodeURIComponent(since)}`,
      ws.bearer,
    );
    assert.equal(log.status, 200, log.text);
    const entries = log.body.items as {
      action: string;
      actorKind: string;
      targetId: string | null;
      ip: string;
      userAgent: string;
      at: string;
      details: Record<string, unknown>;
    }[];
    assert.deepEqual(
      entries.map((e) => e.action),
      ['profile.listed', 'profile.timeline_read', 'profile.read'],
    );
    for (const e of entries) {
      assert.equal(e.actorKind, 'user');
      assert.equal(e.ip, '127.0.0.1');
      assert.equal(e.userAgent, 'audit-probe/3');
      assert.ok(e.at >= since);
    }
    assert.deepEqual(entries[0]?.details, { by: 'search', profileIds: [person] }, 'never the search term');
    const byKind = await inject(
      'GET',
      `/api/v1/audit?targetKind=profile&action=profile.read&actorId=${operator}&from=${encodeURIComponent(since)}`,
      ws.bearer,
    );
    assert.equal(byKind.body.items.length, 1);
    const later = await inject(
      'GET',
      `/api/v1/audit?actorId=${operator}&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      ws.bearer,
    );
    assert.equal(later.body.items.length, 0);
  });
});
