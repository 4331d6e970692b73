import type { Kysely } from 'kysely';
import { fromKysely, fromPglite, type Job, PgBoss, type QueueOptions, type SendOptions } from 'pg-boss';
import type { Database } from './db.ts';
import type { Logger } from './logger.ts';

/**
 * Background work on pg-boss, against the same database as everything else (its PGlite backend when embedded).
 * A job caused by a state change is enqueued with `enqueue(trx, …)` inside that change's transaction, so it
 * exists if and only if the change committed.
 */
export type JobHandler<T> = (jobs: Job<T>[]) => Promise<void>;

export interface QueueDefinition<T = unknown> {
  name: string;
  handler: JobHandler<T>;
  /** pg-boss cron expression (UTC) for recurring maintenance. */
  schedule?: string;
  batchSize?: number;
  /** Retry, expiry, heartbeat and dead-letter settings of the queue (pg-boss QueueOptions). */
  options?: QueueOptions & { deadLetter?: string };
}

export interface Queue {
  readonly boss: PgBoss;
  /** Creates pg-boss's schema and the queues; safe on every start and from several processes. */
  start(): Promise<void>;
  /** Starts polling for work (the `worker` role). */
  startWorkers(): Promise<void>;
  enqueue<T extends object>(trx: Kysely<unknown>, name: string, data: T, options?: SendOptions): Promise<string | null>;
  stop(): Promise<void>;
}

export function createQueue(database: Database, logger: Logger, definitions: QueueDefinition[]): Queue {
  const boss =
    database.kind === 'pglite' && database.pglite
      ? new PgBoss({ db: fromPglite(database.pglite), backend: 'pglite', schema: 'pgboss' })
      : new PgBoss({ connectionString: database.connectionString, schema: 'pgboss', max: 4 });
  boss.on('error', (error: Error) => logger.error({ err: error }, 'job queue error'));
  let started = false;

  return {
    boss,
    async start() {
      if (started) return;
      await boss.start();
      started = true;
      for (const def of definitions) {
        await boss.createQueue(def.name, def.options);
        if (def.schedule) await boss.schedule(def.name, def.schedule, {});
      }
    },
    async startWorkers() {
      for (const def of definitions) {
        await boss.work(def.name, { batchSize: def.batchSize ?? 1 }, async (jobs: Job<unknown>[]) => {
          await def.handler(jobs);
        });
      }
    },
    async enqueue(trx, name, data, options = {}) {
      return boss.send(name, data, { ...options, db: fromKysely(trx) });
    },
    async stop() {
      if (!started) return;
      started = false;
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
