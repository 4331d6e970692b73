import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { testDatabaseUrl } from './config.ts';
import { copyField, type Database, openPGlite, openPostgres } from './db.ts';

/** Runs on PGlite, and on PostgreSQL too when TEST_DATABASE_URL is set. */
const backends: [string, () => Promise<Database>][] = [['pglite', () => openPGlite('memory://')]];
const pgUrl = testDatabaseUrl();
if (pgUrl) backends.push(['postgres', () => openPostgres(pgUrl)]);

for (const [name, open] of backends) {
  describe(`database layer on ${name}`, () => {
    let database: Database;
    const table = `t_${Math.random().toString(36).slice(2, 10)}`;
    before(async () => {
      database = await open();
      await sql`create table ${sql.table(table)} (id serial primary key, who text not null)`.execute(database.db);
    });
    after(async () => {
      await sql`drop table if exists ${sql.table(table)}`.execute(database.db);
      await database.close();
    });

    it('a rollback loses no write of another caller', async () => {
      const db = database.db;
      let release!: () => void;
      const holding = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted!: () => void;
      const insertedInside = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const doomed = db
        .transaction()
        .execute(async (trx) => {
          await sql`insert into ${sql.table(table)} (who) values ('doomed')`.execute(trx);
          inserted();
          await holding;
          throw new Error('roll me back');
        })
        .catch((e: Error) => e.message);
      await insertedInside;
      // Another caller writes while the transaction is open, outside any transaction of its own…
      const bystander = sql`insert into ${sql.table(table)} (who) values ('bystander')`.execute(db);
      // …and another inside its own transaction.
      const other = db.transaction().execute(async (trx) => {
        await sql`insert into ${sql.table(table)} (who) values ('other tx')`.execute(trx);
      });
      await new Promise((r) => setTimeout(r, 50));
      release();
      assert.equal(await doomed, 'roll me back');
      await Promise.all([bystander, other]);
      const rows = await sql<{ who: string }>`select who from ${sql.table(table)} order by who`.execute(db);
      assert.deepEqual(
        rows.rows.map((r) => r.who),
        ['bystander', 'other tx'],
      );
    });

    it('many concurrent transactions each commit whole or not at all', async () => {
      const db = database.db;
      await sql`delete from ${sql.table(table)}`.execute(db);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          db.transaction().execute(async (trx) => {
            await sql`insert into ${sql.table(table)} (who) values (${`a${i}`})`.execute(trx);
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            await sql`insert into ${sql.table(table)} (who) values (${`b${i}`})`.execute(trx);
            if (i % 3 === 0) throw new Error('abort');
          }),
        ),
      );
      const committed = outcomes.filter((o) => o.status === 'fulfilled').length;
      const rows = await sql<{ who: string }>`select who from ${sql.table(table)}`.execute(db);
      assert.equal(rows.rows.length, committed * 2);
      for (const row of rows.rows)
        assert.notEqual(Number(row.who.slice(1)) % 3, 0, `aborted write ${row.who} survived`);
    });

    it('returns the same JavaScript types as the other backend', async () => {
      const row = await sql<Record<string, unknown>>`select
        count(*) as n,
        9007199254740991::int8 as big,
        12.50::numeric as amount,
        '2026-03-01'::date as day,
        '2026-03-01T10:00:00Z'::timestamptz as at,
        '{"a":1}'::jsonb as doc,
        true as flag`.execute(database.db);
      const r = row.rows[0] as Record<string, unknown>;
      assert.equal(r.n, 1);
      assert.equal(r.big, Number.MAX_SAFE_INTEGER);
      assert.equal(r.amount, '12.50');
      assert.equal(r.day, '2026-03-01');
      assert.ok(r.at instanceof Date);
      assert.equal((r.at as Date).toISOString(), '2026-03-01T10:00:00.000Z');
      assert.deepEqual(r.doc, { a: 1 });
      assert.equal(r.flag, true);
    });

    it('copyTransaction: COPY and statements share one transaction, committed or rolled back whole', async () => {
      const db = database.db;
      await sql`delete from ${sql.table(table)}`.execute(db);
      const awkward = 'tab\there\nnew line \\ backslash, "quotes", кириллица';
      const kept = await database.copyTransaction(async (trx, copyIn) => {
        await copyIn(`${table} (who)`, `${copyField(awkward)}\n${copyField('second')}\n`);
        await sql`insert into ${sql.table(table)} (who) values ('statement')`.execute(trx);
        const inside = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(trx);
        return inside.rows[0]?.n;
      });
      assert.equal(kept, 3);
      await assert.rejects(
        database.copyTransaction(async (trx, copyIn) => {
          await copyIn(`${table} (who)`, 'doomed\n');
          await sql`insert into ${sql.table(table)} (who) values ('doomed too')`.execute(trx);
          throw new Error('roll me back');
        }),
        /roll me back/,
      );
      // A COPY that fails midway (a null into a not-null column) fails its transaction and leaves the session usable.
      await assert.rejects(database.copyTransaction((_trx, copyIn) => copyIn(`${table} (who)`, 'fine\n\\N\n')));
      const rows = await sql<{ who: string }>`select who from ${sql.table(table)} order by id`.execute(db);
      assert.deepEqual(
        rows.rows.map((r) => r.who),
        [awkward, 'second', 'statement'],
      );
    });

    it('surfaces a failed commit as an error', async () => {
      const db = database.db;
      const deferred = `d_${table}`;
      await sql`create table ${sql.table(deferred)} (id int primary key, parent int references ${sql.table(deferred)}(id) deferrable initially deferred)`.execute(
        db,
      );
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await sql`insert into ${sql.table(deferred)} values (1, 99)`.execute(trx);
        }),
        /foreign key/,
      );
      const rows = await sql`select * from ${sql.table(deferred)}`.execute(db);
      assert.equal(rows.rows.length, 0);
      await sql`drop table ${sql.table(deferred)}`.execute(db);
    });
  });
}

if (pgUrl) {
  describe('database layer on postgres: session settings', () => {
    it('every pooled connection plans generically and never JIT-compiles, whichever connection a statement gets', async () => {
      const database = await openPostgres(pgUrl, 3);
      try {
        // Three at once, so that all three connections of the pool are opened and asked.
        const settings = await Promise.all(
          [1, 2, 3].map(() =>
            database.db.transaction().execute(async (trx) => {
              const r = await sql<{ jit: string; plan: string; pid: number }>`select current_setting('jit') as jit,
                current_setting('plan_cache_mode') as plan, pg_backend_pid() as pid, pg_sleep(0.05)`.execute(trx);
              return r.rows[0];
            }),
          ),
        );
        assert.equal(new Set(settings.map((s) => s?.pid)).size, 3, 'three connections');
        for (const s of settings) assert.deepEqual([s?.jit, s?.plan], ['off', 'force_generic_plan']);
      } finally {
        await database.close();
      }
    });
  });
}
