import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { testDatabaseUrl } from '../../platform/config.ts';
import { openPGlite, openPostgres } from '../../platform/db.ts';
import { randomToken } from '../../platform/ids.ts';
import { freePort, processStorage, spawnRapport, waitHealthy } from '../../testing.ts';

// An uploaded import whose worker is killed with `kill -9` mid-file: after a restart the job is retried (pg-boss
// notices the missed heartbeats), resumes after the last checkpoint, and every row ends up stored exactly once.
// Slow by nature (the retry waits for pg-boss's supervision, about a minute). Both databases, like crash.test.ts.
const ROWS = 60_000;

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
  for (const backend of ['pglite', 'postgres'] as const) {
    it(`a worker killed mid-import is replaced and the import resumes, every row once (${backend})`, {
      skip: backend === 'postgres' && !testDatabaseUrl() && 'needs TEST_DATABASE_URL',
      timeout: 280_000,
    }, async (t) => {
      const secretKey = `sk_${randomToken(40)}`;
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const storage = await processStorage(backend);
      const env: Record<string, string> = {
        ...storage.env,
        PORT: String(port),
        RAPPORT_SECRET_KEY: secretKey,
        RAPPORT_ADMIN_PASSWORD: 'crash test password',
      };
      const headers = { authorization: `Bearer ${secretKey}` };
      const lines = ['userId,event,total'];
      for (let i = 0; i < ROWS; i++) lines.push(`buyer-${i % 5000},Order Completed,${i}`);

      const first = spawnRapport(['serve'], env);
      let second: ReturnType<typeof spawnRapport> | undefined;
      try {
        await waitHealthy(url);
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

        second = spawnRapport(['serve'], env);
        await waitHealthy(url);
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
        await storage.dispose();
      }
    });
  }
});
