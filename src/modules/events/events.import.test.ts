import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';

let app: TestApp;
let dir: string;
before(async () => {
  app = await createTestApp();
  dir = mkdtempSync(join(tmpdir(), 'rapport-import-'));
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = async (table: 'events' | 'profiles', workspaceId: string) =>
  Number(
    (
      await sql<{
        n: number;
      }>`select count(*) as n from ${sql.table(table)} where workspace_id = ${workspaceId}`.execute(app.database.db)
    ).rows[0]?.n,
  );

/** A first run of an events file in batches of 10 that stops after two of them, as a crash would. */
async function interruptedAfterTwoBatches(workspaceId: string, file: string) {
  let batches = 0;
  await assert.rejects(
    app.events.importFile(workspaceId, {
      kind: 'events',
      file,
      batchSize: 10,
      onProgress: () => {
        if (++batches === 2) throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
}

describe('imports', () => {
  it('imports profiles from CSV with a reject file by line, and adds nothing when run again', async () => {
    const ws = await newWorkspace(app);
    const file = join(dir, 'customers.csv');
    writeFileSync(
      file,
      [
        'E-mail,Full name,Mobile,City,Card no',
        'anna@example.test,Anna Petrova,+7 916 123-45-67,Moscow,7001 0000 1234',
        'not an address,Nobody,,,',
        '"boris@example.test","Boris ""B"" Ivanov",,Kazan,',
        'anna@example.test,Anna Petrova,,Tula,',
      ].join('\n'),
    );
    const options = {
      kind: 'profiles' as const,
      file,
      mapping: { 'E-mail': 'email', 'Full name': 'name', Mobile: 'phone', 'Card no': 'card', City: 'city' },
      resume: false,
    };
    const first = await app.events.importFile(ws.workspaceId, options);
    assert.deepEqual(
      { rows: first.rows, accepted: first.accepted, rejected: first.rejected },
      { rows: 4, accepted: 3, rejected: 1 },
    );
    assert.match(readFileSync(first.rejectsFile as string, 'utf8'), /^line,code,message\n3,MISSING_IDENTITY,/);
    assert.equal(await count('profiles', ws.workspaceId), 2, 'Anna twice is one customer');
    const anna = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=card:700100001234',
      headers: ws.bearer,
    });
    const profile = (
      await app.server.inject({ method: 'GET', url: `/api/v1/profiles/${anna.json().items[0].id}`, headers: ws.bearer })
    ).json();
    assert.equal(profile.traits.name, 'Anna Petrova');
    assert.ok(profile.channels.includes('import'));
    const eventsBefore = await count('events', ws.workspaceId);
    await app.events.importFile(ws.workspaceId, options);
    assert.equal(await count('events', ws.workspaceId), eventsBefore, 'a second run adds nothing');
  });

  it('imports events from NDJSON and resumes after the last committed batch', async () => {
    const ws = await newWorkspace(app);
    const file = join(dir, 'orders.ndjson');
    const lines = Array.from({ length: 25 }, (_, i) =>
      JSON.stringify({
        type: 'track',
        userId: `buyer-${i % 5}`,
        event: 'Order Completed',
        properties: { total: 100 + i },
        timestamp: '2026-03-01T10:00:00Z',
      }),
    );
    lines.splice(7, 0, '{ this is not json');
    writeFileSync(file, `${lines.join('\n')}\n`);
    await interruptedAfterTwoBatches(ws.workspaceId, file);
    assert.ok(existsSync(`${file}.rapport-import.json`));
    const resumed = await app.events.importFile(ws.workspaceId, { kind: 'events', file, batchSize: 10 });
    assert.equal(resumed.skippedByCheckpoint, 21, 'two batches of ten and the unreadable line between them');
    assert.equal(await count('events', ws.workspaceId), 25);
    assert.match(readFileSync(resumed.rejectsFile ?? `${file}.rejects.csv`, 'utf8'), /8,UNREADABLE_LINE/);
    assert.equal(await count('profiles', ws.workspaceId), 5);
  });
  it('keeps the rejects of a resumed run once each, and starts over (adding nothing) when the checkpoint is unreadable', async () => {
    const ws = await newWorkspace(app);
    const file = join(dir, 'visits.ndjson');
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ type: 'track', userId: `visitor-${i % 3}`, event: 'Visit', messageId: `visit-${i}` }),
    );
    lines[4] = '{ broken';
    lines[24] = '{ broken too';
    writeFileSync(file, `${lines.join('\n')}\n`);
    await interruptedAfterTwoBatches(ws.workspaceId, file);
    const resumed = await app.events.importFile(ws.workspaceId, { kind: 'events', file, batchSize: 10 });
    assert.equal(resumed.skippedByCheckpoint, 21, 'two batches of ten valid lines and the broken one among them');
    const rejects = readFileSync(`${file}.rejects.csv`, 'utf8').trim().split('\n');
    assert.deepEqual(
      rejects.map((l) => l.split(',').slice(0, 2).join(',')),
      ['line,code', '5,UNREADABLE_LINE', '25,UNREADABLE_LINE'],
    );
    assert.equal(await count('events', ws.workspaceId), 28);

    writeFileSync(`${file}.rapport-import.json`, '{"size": 1');
    const again = await app.events.importFile(ws.workspaceId, { kind: 'events', file, batchSize: 10 });
    assert.deepEqual([again.skippedByCheckpoint, again.rows, again.rejected], [0, 30, 2]);
    assert.equal(await count('events', ws.workspaceId), 28, 'the message ids make the second pass add nothing');
    assert.ok(JSON.parse(readFileSync(`${file}.rapport-import.json`, 'utf8')).line === 30, 'a whole checkpoint again');
  });
});
