import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { type Database, openPGlite } from './db.ts';
import { prepared } from './prepared.ts';

interface T {
  items: { id: number; owner: string; tag: string; price: number };
}
let database: Database;
let db: Kysely<T>;
before(async () => {
  database = await openPGlite('memory://');
  db = database.db as Kysely<T>;
  await sql`create table items (id int primary key, owner text, tag text, price int)`.execute(db);
  await sql`insert into items values (1,'a','x',10),(2,'a','y',20),(3,'b','x',30),(4,'b','y',40)`.execute(db);
});
after(async () => database.close());

it('binds each call’s own values, with constants of the builder kept in place', async () => {
  const find = prepared((d: Kysely<T>, owner: string, minPrice: number) =>
    d
      .selectFrom('items')
      .select(['id'])
      .where('tag', '=', 'x')
      .where('owner', '=', owner)
      .where('price', '>=', minPrice)
      .orderBy('id'),
  );
  assert.deepEqual(await find(db, 'a', 0), [{ id: 1 }]);
  assert.deepEqual(await find(db, 'b', 0), [{ id: 3 }]);
  assert.deepEqual(await find(db, 'b', 31), []);
  // The same answers as building the query each time, for every combination.
  for (const owner of ['a', 'b', 'c']) {
    for (const min of [0, 15, 35]) {
      const direct = await db
        .selectFrom('items')
        .select(['id'])
        .where('tag', '=', 'x')
        .where('owner', '=', owner)
        .where('price', '>=', min)
        .orderBy('id')
        .execute();
      assert.deepEqual(await find(db, owner, min), direct);
    }
  }
});

it('refuses a builder that does not use every argument as a parameter', async () => {
  const broken = prepared((d: Kysely<T>, _unused: string) => d.selectFrom('items').select('id'));
  await assert.rejects(broken(db, 'a'), /every argument/);
});
