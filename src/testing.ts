import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { type App, createApp } from './app.ts';
import type { Clock } from './platform/clock.ts';
import { type Config, childEnvironment, loadConfig, testDatabaseUrl } from './platform/config.ts';
import { randomToken } from './platform/ids.ts';

/**
 * Test harness. Each test file gets its own database: an in-memory PGlite, or — when TEST_DATABASE_URL points at a
 * PostgreSQL server — a fresh database created on it and dropped afterwards. Tests then isolate themselves further
 * with fresh workspaces (see newWorkspace), never by mocking the database.
 */
export const ADMIN_EMAIL = 'owner@example.test';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestApp extends App {
  server: FastifyInstance;
  backend: 'pglite' | 'postgres';
}

export function backendUnderTest(): 'pglite' | 'postgres' {
  return testDatabaseUrl() ? 'postgres' : 'pglite';
}

/** A free TCP port on loopback, for servers started by tests and benchmarks. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A new, empty database on the server at `baseUrl`, and a way to drop it. */
export async function freshPostgresDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rapport_t_${randomToken(10).toLowerCase()}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export async function createTestApp(
  options: { worker?: boolean; clock?: Clock; config?: Partial<Config>; serveConsole?: boolean } = {},
): Promise<TestApp> {
  const base = testDatabaseUrl();
  const fresh = base ? await freshPostgresDatabase(base) : null;
  const config = loadConfig(
    {},
    {
      databaseUrl: fresh?.url,
      dataDir: 'memory://',
      logLevel: 'silent',
      adminEmail: ADMIN_EMAIL,
      adminPassword: ADMIN_PASSWORD,
      authCacheSeconds: 0,
      ...options.config,
    },
  );
  const app = await createApp(config, { api: true, worker: options.worker ?? false, clock: options.clock });
  const close = app.close;
  return {
    ...app,
    server: app.server as FastifyInstance,
    backend: fresh ? 'postgres' : 'pglite',
    async close() {
      await close();
      await fresh?.drop();
    },
  };
}

/** Starts Rapport on a free port with the built console, for browser tests; `worker` runs background jobs too. */
export async function startTestServer(options: { worker?: boolean } = {}): Promise<{
  url: string;
  adminEmail: string;
  adminPassword: string;
  close(): Promise<void>;
}> {
  const app = await createTestApp({ worker: options.worker });
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' });
  return { url: address, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, close: () => app.close() };
}

export interface SignedIn {
  cookie: string;
  csrfToken: string;
  workspaceId: string;
}

export async function signInAsOwner(app: TestApp): Promise<SignedIn> {
  const response = await app.server.inject({
    method: 'POST',
    url: '/api/v1/session',
    payload: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  });
  if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
  const cookie = response.cookies.find((c) => c.name === 'rapport_session');
  const body = response.json();
  return {
    cookie: `rapport_session=${cookie?.value}`,
    csrfToken: body.csrfToken,
    workspaceId: body.memberships[0].workspace.id,
  };
}

export interface TestWorkspace {
  workspaceId: string;
  /** An owner secret key of this workspace. */
  ownerKey: string;
  bearer: { authorization: string };
}

/** A fresh workspace with an owner secret key: the unit of isolation between tests sharing one database. */
export async function newWorkspace(app: TestApp, name = `Test ${randomToken(6)}`): Promise<TestWorkspace> {
  const session = await signInAsOwner(app);
  const created = await app.server.inject({
    method: 'POST',
    url: '/api/v1/workspaces',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
    payload: { name, timeZone: 'Europe/Moscow', locale: 'ru', currency: 'RUB' },
  });
  if (created.statusCode !== 201) throw new Error(`workspace creation failed: ${created.body}`);
  const workspaceId = created.json().workspace.id as string;
  const key = await app.server.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken, 'rapport-workspace': workspaceId },
    payload: { kind: 'secret', name: 'test owner key', role: 'owner' },
  });
  if (key.statusCode !== 201) throw new Error(`key creation failed: ${key.body}`);
  const ownerKey = key.json().secret as string;
  return { workspaceId, ownerKey, bearer: { authorization: `Bearer ${ownerKey}` } };
}

// ---- tests that run `rapport` as a process of its own (to kill it)

const BIN = new URL('../bin/rapport.js', import.meta.url).pathname;

/** Starts `rapport <args>`; `exited` is listened for from the start, since the process may die before anyone asks. */
export function spawnRapport(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnvironment({ LOG_LEVEL: 'error', ...env }),
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, exited };
}

export async function waitHealthy(url: string, ms = 30_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const up = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('server did not come up');
}

/**
 * Storage for a spawned server that outlives it (so a restart finds its data): a fresh data directory for the
 * embedded database, or a fresh database on TEST_DATABASE_URL's server. `env` goes to spawnRapport.
 */
export async function processStorage(
  backend: 'pglite' | 'postgres',
): Promise<{ env: Record<string, string>; dispose(): Promise<void> }> {
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'rapport-process-'));
    return { env: { RAPPORT_DATA_DIR: dir }, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = testDatabaseUrl();
  if (!base) throw new Error('processStorage(postgres) needs TEST_DATABASE_URL');
  const fresh = await freshPostgresDatabase(base);
  return { env: { DATABASE_URL: fresh.url }, dispose: () => fresh.drop() };
}
