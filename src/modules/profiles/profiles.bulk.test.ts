import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { lockProfilesShared } from './profiles.bulk.repo.ts';
import { lockKeysShared } from './profiles.repo.ts';

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
});
