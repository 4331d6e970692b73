import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { testDatabaseUrl } from '../../platform/config.ts';
import { openPGlite, openPostgres } from '../../platform/db.ts';
import { randomToken } from '../../platform/ids.ts';
import { freePort, processStorage, spawnRapport, waitHealthy } from '../../testing.ts';

// `kill -9` in the middle of a stream of batches, then a restart: every event of a batch that was answered 200 is
// there exactly once. Runs on the embedded database, and on PostgreSQL when TEST_DATABASE_URL is set.
async function streamUntilKilled(url: string, writeKey: string, victim: ChildProcess) {
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const acknowledged: string[] = [];
  let batchNo = 0;
  let stop = false;
  setTimeout(() => {
    victim.kill('SIGKILL');
    stop = true;
  }, 1500);
  const worker = async (lane: number) => {
    while (!stop) {
      const n = batchNo++;
      const ids = Array.from({ length: 50 }, (_, i) => `crash-${lane}-${n}-${i}`);
      const batch = ids.map((messageId, i) => ({
        type: 'track',
        messageId,
        userId: `person-${(n * 50 + i) % 400}`,
        event: 'Ping',
      }));
      try {
        const r = await fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ batch }),
        });
        if (r.status === 200) acknowledged.push(...ids);
      } catch {
        // The server died mid-request: this batch was not acknowledged, so it promises nothing.
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return acknowledged;
}

describe('crash safety of ingestion', () => {
  for (const backend of ['pglite', 'postgres'] as const) {
    it(`every acknowledged event survives kill -9 exactly once (${backend})`, {
      skip: backend === 'postgres' && !testDatabaseUrl() && 'needs TEST_DATABASE_URL',
    }, async (t) => {
      const writeKey = `wk_${randomToken(32)}`;
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const storage = await processStorage(backend);
      const env: Record<string, string> = {
        ...storage.env,
        PORT: String(port),
        RAPPORT_WRITE_KEY: writeKey,
        RAPPORT_ADMIN_PASSWORD: 'crash test password',
      };

      const first = spawnRapport(['serve', '--no-worker'], env);
      await waitHealthy(url);
      const acknowledged = await streamUntilKilled(url, writeKey, first.child);
      await first.exited;
      assert.ok(acknowledged.length >= 50, `some batches were acknowledged before the kill (${acknowledged.length})`);

      // Restart on the same data, then stop cleanly and look at what is stored.
      const second = spawnRapport(['serve', '--no-worker'], env);
      await waitHealthy(url);
      second.child.kill('SIGTERM');
      await second.exited;

      const database =
        backend === 'pglite'
          ? await openPGlite(env.RAPPORT_DATA_DIR as string)
          : await openPostgres(env.DATABASE_URL as string);
      try {
        const rows = await sql<{ message_id: string; n: number }>`
          select message_id, count(*) as n from events where message_id like 'crash-%' group by message_id`.execute(
          database.db,
        );
        const stored = new Map(rows.rows.map((r) => [r.message_id, Number(r.n)]));
        const missing = acknowledged.filter((id) => !stored.has(id));
        assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events are missing`);
        for (const [id, n] of stored) assert.equal(n, 1, `${id} stored ${n} times`);
        t.diagnostic(`${acknowledged.length} events acknowledged before kill -9; ${stored.size} stored, each once`);
      } finally {
        await database.close();
        await storage.dispose();
      }
    });
  }
});
