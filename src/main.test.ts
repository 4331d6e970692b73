import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { childEnvironment, testDatabaseUrl } from './platform/config.ts';
import { randomToken } from './platform/ids.ts';
import { freePort } from './testing.ts';

/** The `rapport` command as a user runs it: a real process, a real port, real signals. */
const BIN = new URL('../bin/rapport.js', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Every process a test started: killed after the tests, so a failed assertion cannot leave one running. */
const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[], env: Record<string, string>): Running {
  let output = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnvironment({ LOG_LEVEL: 'warn', RAPPORT_ADMIN_EMAIL: '', RAPPORT_ADMIN_PASSWORD: '', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  started.add(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForHealth(url: string, running: Running, ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return (await res.json()) as { database: string };
    } catch {}
    if (running.child.exitCode !== null) throw new Error(`rapport exited early:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no health within ${ms} ms:\n${running.output()}`);
}

async function signIn(url: string, email: string, password: string) {
  return fetch(`${url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
}

describe('rapport serve on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rapport-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  // How long it takes is measured in bench/, not here: the wait below is only a bound for a hung start.
  it('starts, prints credentials once, stops cleanly on SIGTERM and keeps its data', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = start(['serve'], { RAPPORT_DATA_DIR: dataDir, PORT: String(port) });
    const health = await waitForHealth(url, first, 120_000);
    assert.equal(health.database, 'pglite');
    await new Promise((r) => setTimeout(r, 200));
    const email = /Sign in:\s+(\S+)/.exec(first.output())?.[1];
    const password = /Password:\s+(\S+)/.exec(first.output())?.[1];
    assert.ok(email && password, `credentials printed:\n${first.output()}`);
    assert.match(first.output(), /Console:\s+http:\/\/localhost:\d+\//);
    assert.equal((await signIn(url, email, password)).status, 200);

    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());

    const second = start(['serve'], { RAPPORT_DATA_DIR: dataDir, PORT: String(port) });
    await waitForHealth(url, second, 120_000);
    assert.doesNotMatch(second.output(), /Password:/, 'the password is printed on the first start only');
    assert.equal((await signIn(url, email, password)).status, 200, 'the owner survived the restart');
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0, second.output());
  });

  it('refuses to start with a readable message when configuration is wrong', async () => {
    const bad = start(['serve'], { RAPPORT_DATA_DIR: dataDir, PORT: 'not-a-port' });
    assert.equal(await bad.exited, 1);
    assert.match(bad.output(), /Invalid configuration:[\s\S]*port/);
  });

  it('refuses an import batch size that is not a whole number of rows in range, before opening anything', async () => {
    for (const batch of ['0', 'many', '2.5', '50001']) {
      const bad = start(['import', 'events', join(dataDir, 'absent.csv'), '--batch', batch], {
        RAPPORT_DATA_DIR: dataDir,
      });
      assert.equal(await bad.exited, 2, bad.output());
      assert.match(bad.output(), /--batch must be a whole number of rows from 1 to 50000/);
    }
  });

  it('refuses several processes on the embedded database, saying why', async () => {
    const bad = start(['serve', '--processes', '2'], { RAPPORT_DATA_DIR: dataDir, PORT: '0' });
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /--processes 2 needs PostgreSQL \(DATABASE_URL\)/);
  });
});

/** The server processes a `serve --processes` primary has forked. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

const baseUrl = testDatabaseUrl();
describe('scale-out shape on PostgreSQL: an API process and a separate worker', {
  skip: !baseUrl && 'needs TEST_DATABASE_URL',
}, () => {
  it('serve --no-worker and worker run side by side on one database', async () => {
    const name = `rapport_cli_${randomToken(8).toLowerCase()}`;
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const dbUrl = new URL(baseUrl as string);
    dbUrl.pathname = `/${name}`;
    const port = await freePort();
    const env = {
      DATABASE_URL: dbUrl.toString(),
      PORT: String(port),
      RAPPORT_ADMIN_EMAIL: 'ops@example.test',
      RAPPORT_ADMIN_PASSWORD: 'a password from the environment',
      RAPPORT_SECRET_KEY: `sk_${randomToken(40)}`,
    };
    const api = start(['serve', '--no-worker'], env);
    const worker = start(['worker'], env);
    try {
      const health = await waitForHealth(`http://127.0.0.1:${port}`, api, 120_000);
      assert.equal(health.database, 'postgres');
      const me = await fetch(`http://127.0.0.1:${port}/api/v1/me`, {
        headers: { authorization: `Bearer ${env.RAPPORT_SECRET_KEY}` },
      });
      assert.equal(me.status, 200, 'the secret key from the environment works');
      assert.equal(
        (await signIn(`http://127.0.0.1:${port}`, env.RAPPORT_ADMIN_EMAIL, env.RAPPORT_ADMIN_PASSWORD)).status,
        200,
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(worker.child.exitCode, null, `the worker keeps running:\n${worker.output()}`);
    } finally {
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      const [apiCode, workerCode] = await Promise.all([api.exited, worker.exited]);
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
      assert.equal(apiCode, 0, api.output());
      assert.equal(workerCode, 0, worker.output());
    }
  });

  it('serve --processes 2 shares one port, survives the death of a process and drains on SIGTERM', async () => {
    const name = `rapport_cli_${randomToken(8).toLowerCase()}`;
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const dbUrl = new URL(baseUrl as string);
    dbUrl.pathname = `/${name}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      DATABASE_URL: dbUrl.toString(),
      PORT: String(port),
      RAPPORT_ADMIN_EMAIL: 'ops@example.test',
      RAPPORT_ADMIN_PASSWORD: 'a password from the environment',
    };
    const server = start(['serve', '--processes', '2'], env);
    try {
      await waitForHealth(url, server, 120_000);
      const until = Date.now() + 60_000;
      while (!/in 2 processes/.test(server.output()) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 200));
      assert.match(server.output(), /Rapport is running on PostgreSQL in 2 processes\./);
      const pids = childrenOf(server.child.pid as number);
      assert.equal(pids.length, 2, 'two server processes');
      // A session made on one process is honoured by every process (new connections go round-robin).
      const session = await signIn(url, env.RAPPORT_ADMIN_EMAIL, env.RAPPORT_ADMIN_PASSWORD);
      assert.equal(session.status, 200);
      const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0] as string;
      for (let i = 0; i < 6; i++) {
        const me = await fetch(`${url}/api/v1/me`, { headers: { cookie, connection: 'close' } });
        assert.equal(me.status, 200);
      }
      // A process that dies is started again; the port keeps answering meanwhile.
      process.kill(pids[0] as number, 'SIGKILL');
      const back = Date.now() + 120_000;
      let now = childrenOf(server.child.pid as number);
      while ((now.length < 2 || now.includes(pids[0] as number)) && Date.now() < back) {
        await new Promise((r) => setTimeout(r, 200));
        now = childrenOf(server.child.pid as number);
      }
      assert.equal(now.length, 2, `restarted:\n${server.output()}`);
      // The primary's line reaches this process through a pipe, possibly after the new child is visible in /proc.
      const said = /server process 1 exited \(SIGKILL\); starting it again/;
      const told = Date.now() + 10_000;
      while (!said.test(server.output()) && Date.now() < told) await new Promise((r) => setTimeout(r, 100));
      assert.match(server.output(), said);
      await waitForHealth(url, server, 120_000);
    } finally {
      server.child.kill('SIGTERM');
      const code = await server.exited;
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
      assert.equal(code, 0, server.output());
    }
  });
});
