import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../testing.ts';
import { WEB_DIST } from './server.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => {
  await app?.close();
});

describe('HTTP platform', () => {
  it('reports health with the database in use', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'ok');
    assert.equal(res.json().database, app.backend);
  });

  it('exposes Prometheus metrics labelled by route pattern, not by URL', async () => {
    await app.server.inject({ method: 'GET', url: '/api/v1/branches/01a20000-0000-7000-8000-000000000000' });
    const res = await app.server.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(
      res.body,
      /rapport_http_requests_total\{method="GET",route="\/api\/v1\/branches\/:id",status="401"\} 1/,
    );
    assert.doesNotMatch(res.body, /01a20000-0000/);
  });

  it('publishes an OpenAPI 3.1 document with every management route and a reference UI', async () => {
    const doc = (await app.server.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    for (const route of app.server.routeTable.filter((r) => r.url.startsWith('/api/v1/'))) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      assert.ok(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path} is documented`);
    }
    const ui = await app.server.inject({ method: 'GET', url: '/api/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
  });

  it('sends security headers and echoes a request id', async () => {
    const res = await app.server.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'trace-12345678' },
    });
    assert.equal(res.headers['x-request-id'], 'trace-12345678');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'; frame-ancestors 'none'/);
    const page = await app.server.inject({ method: 'GET', url: '/' });
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.ok(page.headers['strict-transport-security']);
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
  });

  it('serves the console shell for client-side routes but problems for unknown API paths', {
    skip: !existsSync(join(WEB_DIST, 'index.html')) && 'console not built',
  }, async () => {
    const page = await app.server.inject({ method: 'GET', url: '/settings/keys' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    const api = await app.server.inject({ method: 'GET', url: '/api/v1/nope' });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json().code, 'ROUTE_NOT_FOUND');
  });

  it('refuses to register a management route that does not declare its access', async () => {
    const { default: Fastify } = await import('fastify');
    const { installAuth } = await import('./auth.ts');
    const bare = Fastify();
    installAuth(bare, { authenticate: async () => ({ principal: null, session: null }) }, 'x-csrf-token');
    assert.throws(() => bare.get('/api/v1/undeclared', async () => 'oops'), /does not declare config.auth/);
    await bare.close();
  });
});
