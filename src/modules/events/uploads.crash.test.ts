import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { testDatabaseUrl } from '../../platform/config.ts';
import { openPGlite, openPostgres } from '../../platform/db.ts';
import { randomToken } from '../../platform/ids.ts';
import { freePort } from '../../testing.ts';

// An uploaded import whose worker is killed with `kill -9` mid-file: after a restart the job is retried (pg-boss
// notices the missed heartbeats), resumes after the last checkpoint, and every row ends up stored exactly once.
// Slow by nature (the retry waits for pg-boss's supervision, about a minute). Both databases, like crash.test.ts.
const BIN = new URL('../../../bin/rapport.js', import.meta.url).pathname;
const ROWS = 60_000;

function serve(env: Record<string, string>): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, exited };
}

async function healthy(url: string, ms = 30_000) {
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

interface ImportState {
  status: string;
  rows: number;
  accepted: number;
  rejected: number;
  checkpointLine: number;
  error: string | null;
}

async function waitFor(
  url: string,
  headers: Record<string, string>,
  id: string,
  done: (state: ImportState) => boolean,
  ms: number,
): Promise<ImportState> {
  const until = Date.now() + ms;
  let last: ImportState | undefined;
  while (Date.now() < until) {
    const response = await fetch(`${url}/api/v1/imports/${id}`, { headers }).catch(() => null);
    if (response?.ok) {
      last = (await response.json()) as ImportState;
      if (done(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out; last seen ${JSON.stringify(last)}`);
}

describe('crash safety of uploaded imports', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const backend of ['pglite', 'postgres'] as const) {
    const base = testDatabaseUrl();
    it(`a worker killed mid-import is replaced and the import resumes, every row once (${backend})`, {
      skip: backend === 'postgres' && !base && 'needs TEST_DATABASE_URL',
      timeout: 280_000,
    }, async (t) => {
      const secretKey = `sk_${randomToken(40)}`;
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env: Record<string, string> = {
        PORT: String(port),
        RAPPORT_SECRET_KEY: secretKey,
        RAPPORT_ADMIN_PASSWORD: 'crash test password',
      };
      let dbName = '';
      if (backend === 'pglite') {
        const dir = mkdtempSync(join(tmpdir(), 'rapport-upload-crash-'));
        dirs.push(dir);
        env.RAPPORT_DATA_DIR = dir;
      } else {
        dbName = `rapport_upcrash_${randomToken(8).toLowerCase()}`;
        const admin = new pg.Client({ connectionString: base });
        await admin.connect();
        await admin.query(`create database ${dbName}`);
        await admin.end();
        const u = new URL(base as string);
        u.pathname = `/${dbName}`;
        env.DATABASE_URL = u.toString();
      }
      const headers = { authorization: `Bearer ${secretKey}` };
      const lines = ['userId,event,total'];
      for (let i = 0; i < ROWS; i++) lines.push(`buyer-${i % 5000},Order Completed,${i}`);

      const first = serve(env);
      let second: ReturnType<typeof serve> | undefined;
      try {
        await healthy(url);
        const uploaded = await fetch(`${url}/api/v1/imports?kind=events&fileName=orders.csv`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'text/csv' },
          body: lines.join('\n'),
        });
        assert.equal(uploaded.status, 202, await uploaded.clone().text());
        const { id } = (await uploaded.json()) as { id: string };
        const before = await waitFor(url, headers, id, (s) => s.checkpointLine > 2_000 || s.status === 'done', 60_000);
        assert.equal(before.status, 'running', 'the import was killed mid-file');
        first.child.kill('SIGKILL');
        await first.exited;

        second = serve(env);
        await healthy(url);
        const done = await waitFor(url, headers, id, (s) => s.status === 'done' || s.status === 'failed', 240_000);
        assert.deepEqual(
          [done.status, done.rows, done.accepted, done.rejected],
          ['done', ROWS, ROWS, 0],
          `resumed after line ${before.checkpointLine}: counters add up (${done.error ?? ''})`,
        );
        t.diagnostic(`killed after line ${before.checkpointLine} of ${ROWS + 1}; finished by the restarted worker`);
        second.child.kill('SIGTERM');
        await second.exited;
        second = undefined;

        const database =
          backend === 'pglite'
            ? await openPGlite(env.RAPPORT_DATA_DIR as string)
            : await openPostgres(env.DATABASE_URL as string);
        try {
          const counts = await sql<{ events: number; chunks: number }>`select
              (select count(*) from events where name = 'Order Completed') as events,
              (select count(*) from import_chunks) as chunks`.execute(database.db);
          assert.deepEqual(counts.rows[0], { events: ROWS, chunks: 0 }, 'every row once, and the file removed');
        } finally {
          await database.close();
        }
      } finally {
        first.child.kill('SIGKILL');
        second?.child.kill('SIGKILL');
        await Promise.all([first.exited, second?.exited]);
        if (dbName) {
          const admin = new pg.Client({ connectionString: base });
          await admin.connect();
          await admin.query(`drop database if exists ${dbName} with (force)`);
          await admin.end();
        }
      }
    });
  }
});
