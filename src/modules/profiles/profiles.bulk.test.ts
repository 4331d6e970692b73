import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';
import { BulkMemory } from './profiles.bulk.memory.ts';
import { lockAndCheck, lockProfilesShared } from './profiles.bulk.repo.ts';
import { lockKeys, lockKeysShared } from './profiles.repo.ts';

// The bulk path's locks must be the very locks ingestion and merges take, or they would not wait for each other.
// (Its resolution itself is tested against one-by-one ingestion in events.bulk.test.ts.)
let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

async function heldKeys(lock: (trx: Db) => Promise<void>): Promise<string[]> {
  return app.database.db.transaction().execute(async (trx) => {
    await lock(trx);
    const rows = await sql<{ key: string }>`select classid::text || ':' || objid::text || ':' || mode as key
      from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() order by 1`.execute(trx);
    return rows.rows.map((r) => r.key);
  });
}

describe('bulk resolution locks', () => {
  it('takes the shared profile locks ingestion takes, key for key', async () => {
    const workspaceId = newId();
    const profiles = [newId(), newId(), newId()];
    const bulk = await heldKeys((trx) => lockProfilesShared(trx, workspaceId, profiles));
    const ingestion = await heldKeys((trx) =>
      lockKeysShared(
        trx,
        workspaceId,
        profiles.map((id) => `profile:${id}`),
      ),
    );
    assert.equal(bulk.length, 3);
    assert.deepEqual(bulk, ingestion);
  });

  it('locks and checks in one statement with the keys and modes of lockKeys and lockKeysShared', async () => {
    const workspaceId = newId();
    const receiving = [newId(), newId()];
    const gaining = [newId()];
    const newKeys = ['email\u0001a@example.com', 'phone\u0001+79990000000'];
    const none = { newIds: [], owners: [] };
    const bulk = await heldKeys(async (trx) => {
      await lockAndCheck(trx, workspaceId, { shared: receiving, newKeys, exclusive: gaining }, none);
    });
    const oneByOne = await heldKeys(async (trx) => {
      await lockKeysShared(
        trx,
        workspaceId,
        receiving.map((id) => `profile:${id}`),
      );
      await lockKeys(trx, workspaceId, [...newKeys, ...gaining.map((id) => `profile:${id}`)]);
    });
    assert.equal(bulk.length, 5);
    assert.deepEqual(bulk, oneByOne);
    assert.equal(bulk.filter((k) => k.endsWith(':ShareLock')).length, 2);
  });

  it('finds, under the locks, identifiers attached meanwhile and owners no longer live', async () => {
    const workspace = await app.org.findWorkspace();
    assert.ok(workspace);
    const result = await app.events.ingest(workspace.id, [
      { type: 'identify', userId: 'lock-check-1', messageId: 'lock-check-m1' },
      { type: 'identify', userId: 'lock-check-2', messageId: 'lock-check-m2' },
    ]);
    assert.equal(result.accepted, 2);
    const owners = await sql<{ profile_id: string; value: string }>`select profile_id, value from identities
      where workspace_id = ${workspace.id} and kind = 'user_id' and value like 'lock-check-%' order by value`.execute(
      app.database.db,
    );
    const [first, second] = owners.rows.map((r) => r.profile_id);
    assert.ok(first && second);
    await sql`update profiles set merged_into = ${first} where id = ${second}`.execute(app.database.db);
    const checked = await app.database.db.transaction().execute((trx) =>
      lockAndCheck(
        trx,
        workspace.id,
        { shared: [first, second], newKeys: [], exclusive: [] },
        {
          newIds: [
            { kind: 'user_id', value: 'lock-check-1' },
            { kind: 'user_id', value: 'lock-check-new' },
          ],
          owners: [first, second, newId()],
        },
      ),
    );
    // One new identifier is owned by now; of three owners, one was merged and one never existed.
    assert.deepEqual({ ...checked, moves: undefined }, { owned: 1, gone: 2, erased: false, moves: undefined });
    // The owners are checked whichever way they are locked: shared, exclusive, or by an earlier round.
    const gone = (locks: { shared: string[]; exclusive: string[] }, owners: string[]) =>
      app.database.db
        .transaction()
        .execute(
          async (trx) =>
            (await lockAndCheck(trx, workspace.id, { ...locks, newKeys: [] }, { newIds: [], owners })).gone,
        );
    assert.equal(await gone({ shared: [first, second], exclusive: [] }, [first, second]), 1);
    assert.equal(await gone({ shared: [first], exclusive: [second] }, [first, second]), 1);
    assert.equal(await gone({ shared: [], exclusive: [first] }, [first, second]), 1);
    assert.equal(await gone({ shared: [], exclusive: [] }, [first]), 0);
    assert.equal(await gone({ shared: [], exclusive: [] }, [second, newId()]), 2);

    // Trusted owners are not checked while the count of moves is the one they were found live at; a move since
    // changes the count, and then every owner is checked.
    const check = (trust: { moves: number; untrusted: string[] }) =>
      app.database.db
        .transaction()
        .execute((trx) =>
          lockAndCheck(
            trx,
            workspace.id,
            { shared: [first], newKeys: [], exclusive: [] },
            { newIds: [], owners: [first, second], trust },
          ),
        );
    const now = (await check({ moves: -1, untrusted: [] })).moves;
    assert.equal((await check({ moves: -1, untrusted: [] })).gone, 1, 'a count not read: everything is checked');
    assert.equal((await check({ moves: now, untrusted: [] })).gone, 0, 'the count holds: nothing is checked');
    assert.equal((await check({ moves: now, untrusted: [second] })).gone, 1, 'the untrusted are checked');
    await sql`update profiles set merged_into = ${first} where id = ${second}`.execute(app.database.db);
    const after = await check({ moves: now, untrusted: [] });
    assert.ok(after.moves > now, 'a merge moves the count');
    assert.equal(after.gone, 1, 'after a move, the trusted owners are checked too');
    await sql`update profiles set erased_at = now() where id = ${first}`.execute(app.database.db);
    const erased = await check({ moves: after.moves, untrusted: [] });
    assert.ok(erased.moves > after.moves, 'an erasure moves the count');
    assert.equal(erased.gone, 2);
  });

  it('follows a merge that came between planning a chunk ahead and its transaction', async () => {
    const { workspaceId } = await newWorkspace(app);
    const at = new Date('2026-06-01T10:00:00Z');
    await app.events.ingest(workspaceId, [
      { type: 'identify', userId: 'plan-u1', messageId: 'plan-1', timestamp: at.toISOString() },
      { type: 'identify', anonymousId: 'plan-a2', traits: { email: 'plan-2@example.test' }, messageId: 'plan-2' },
    ]);
    const owner = async (kind: string, value: string) =>
      (
        await sql<{ profile_id: string }>`select profile_id from identities
          where workspace_id = ${workspaceId} and kind = ${kind} and value = ${value}`.execute(app.database.db)
      ).rows[0]?.profile_id;
    const [first, second] = [await owner('user_id', 'plan-u1'), await owner('email', 'plan-2@example.test')];
    assert.ok(first && second && first !== second);
    // An import that met the second person in a chunk before: the next chunk is planned from its memory alone, and
    // the memory trusts the owner it found live under the count of moves it read then.
    const memory = new BulkMemory();
    const chunkOf = () =>
      app.profiles.groupBulk([
        { ids: [{ kind: 'email', value: 'plan-2@example.test' }], traits: null, at, channel: 'import' },
      ]);
    const met = await app.database.copyTransaction((trx, copyIn) =>
      app.profiles.resolveBulk(trx, copyIn, workspaceId, chunkOf(), memory),
    );
    assert.deepEqual(met.profileIds, [second]);
    memory.committed(met.learnt);
    const known = memory.owners.get('email\u0001plan-2@example.test');
    assert.ok(known && memory.trusts(known, second), 'the owner is trusted at the count read');
    const chunk = chunkOf();
    const plan = app.profiles.planBulk(chunk, memory);
    assert.ok(plan.ready, 'every identifier remembered: the outcome is planned ahead');
    assert.deepEqual(plan.ready.settled.profileIds, [second]);
    // Meanwhile the two people turn out to be one.
    await app.events.ingest(workspaceId, [
      { type: 'identify', userId: 'plan-u1', traits: { email: 'plan-2@example.test' }, messageId: 'plan-3' },
    ]);
    const survivor = await owner('email', 'plan-2@example.test');
    assert.ok(survivor);
    assert.notEqual(survivor, second, 'the planned profile was absorbed');
    const resolution = await app.database.copyTransaction((trx, copyIn) =>
      app.profiles.resolveBulk(trx, copyIn, workspaceId, chunk, memory, plan),
    );
    assert.deepEqual(resolution.profileIds, [survivor], 'the chunk goes to the live profile, not the planned one');
    const live = await sql<{
      merged_into: string | null;
    }>`select merged_into from profiles where id = ${survivor}`.execute(app.database.db);
    assert.equal(live.rows[0]?.merged_into, null);
    assert.equal(memory.owners.size, 0, 'the stale memory is forgotten');
  });
});
