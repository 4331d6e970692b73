import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { testDatabaseUrl } from './config.ts';
import { type Database, openPGlite, openPostgres } from './db.ts';
import { createLogger } from './logger.ts';
import { createQueue, type Queue } from './queue.ts';

const backends: [string, () => Promise<Database>][] = [['pglite', () => openPGlite('memory://')]];
const pgUrl = testDatabaseUrl();
if (pgUrl) backends.push(['postgres', () => openPostgres(pgUrl)]);

for (const [name, open] of backends) {
  describe(`job queue on ${name}`, () => {
    let database: Database;
    let queue: Queue;
    const received: string[] = [];
    const jobName = `test.echo.${Math.random().toString(36).slice(2, 8)}`;
    before(async () => {
      database = await open();
      queue = createQueue(database, createLogger('silent'), [
        {
          name: jobName,
          handler: async (jobs) => {
            for (const job of jobs) received.push((job.data as { tag: string }).tag);
          },
        },
      ]);
      await queue.start();
      await queue.startWorkers();
    });
    after(async () => {
      await queue.stop();
      await database.close();
    });

    async function waitFor(tag: string, ms = 15_000) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        if (received.includes(tag)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    }

    it('runs a job enqueued in a committed transaction, and never one whose transaction rolled back', async () => {
      await database.db
        .transaction()
        .execute(async (trx) => {
          await queue.enqueue(trx as unknown as Kysely<unknown>, jobName, { tag: 'rolled-back' });
          throw new Error('abort');
        })
        .catch(() => {});
      await database.db.transaction().execute(async (trx) => {
        await queue.enqueue(trx as unknown as Kysely<unknown>, jobName, { tag: 'committed' });
      });
      assert.ok(await waitFor('committed'), 'the committed job ran');
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(!received.includes('rolled-back'), 'the rolled-back job never ran');
    });
  });
}
