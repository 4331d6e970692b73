import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createApp } from '../../app.ts';
import { loadConfig } from '../../platform/config.ts';
import { backendUnderTest, createTestApp, newWorkspace, type TestApp, type TestWorkspace } from '../../testing.ts';

/**
 * Uploads through the HTTP API, processed by the background job. `app` runs workers, as `rapport serve` does;
 * `quiet` runs none, so a test can look at an import between upload and job, or run the job itself.
 */
let app: TestApp;
let quiet: TestApp;
before(async () => {
  [app, quiet] = await Promise.all([createTestApp({ worker: true }), createTestApp()]);
});
after(async () => {
  await Promise.all([app?.close(), quiet?.close()]);
});

async function upload(
  on: TestApp,
  ws: TestWorkspace,
  query: Record<string, string>,
  body: string | Buffer,
  contentType = 'text/csv',
  headers: Record<string, string> = ws.bearer,
) {
  return on.server.inject({
    method: 'POST',
    url: `/api/v1/imports?${new URLSearchParams(query)}`,
    headers: { ...headers, 'content-type': contentType },
    payload: body,
  });
}

async function get(on: TestApp, ws: TestWorkspace, url: string) {
  return on.server.inject({ method: 'GET', url, headers: ws.bearer });
}

async function waitUntilOver(on: TestApp, ws: TestWorkspace, id: string) {
  for (let i = 0; i < 240; i++) {
    const found = (await get(on, ws, `/api/v1/imports/${id}`)).json();
    if (found.status === 'done' || found.status === 'failed') return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`import ${id} did not finish`);
}

const count = async (on: TestApp, query: ReturnType<typeof sql<{ n: number }>>) =>
  Number((await query.execute(on.database.db)).rows[0]?.n);
const eventsOf = (on: TestApp, workspaceId: string) =>
  count(on, sql<{ n: number }>`select count(*) as n from events where workspace_id = ${workspaceId}`);
const chunksOf = (on: TestApp, importId: string) =>
  count(on, sql<{ n: number }>`select count(*) as n from import_chunks where import_id = ${importId}`);

const CUSTOMERS = [
  'E-mail,Full name,Mobile,City',
  'anna@example.test,Anna Petrova,+7 916 123-45-67,Moscow',
  'not an address,Nobody,,',
  'boris@example.test,Boris Ivanov,,Kazan',
].join('\n');
const CUSTOMER_MAP = 'E-mail=email,Full name=name,Mobile=phone';

describe('uploaded imports', () => {
  it('imports an uploaded CSV in the background, keeps its rejects, removes the file, adds nothing twice', async () => {
    const ws = await newWorkspace(app);
    const started = await upload(
      app,
      ws,
      { kind: 'profiles', fileName: 'customers.csv', map: CUSTOMER_MAP },
      CUSTOMERS,
    );
    assert.equal(started.statusCode, 202, started.body);
    const created = started.json();
    assert.equal(started.headers.location, `/api/v1/imports/${created.id}`);
    assert.equal(created.status, 'queued');
    assert.equal(created.format, 'csv');
    assert.equal(created.totalBytes, Buffer.byteLength(CUSTOMERS));
    assert.deepEqual(created.mapping, { 'E-mail': 'email', 'Full name': 'name', Mobile: 'phone' });

    const done = await waitUntilOver(app, ws, created.id);
    assert.equal(done.status, 'done', done.error);
    assert.deepEqual(
      { rows: done.rows, accepted: done.accepted, rejected: done.rejected, bytesDone: done.bytesDone },
      { rows: 3, accepted: 2, rejected: 1, bytesDone: created.totalBytes },
    );
    assert.ok(done.startedAt && done.finishedAt);
    assert.match(done.createdBy, /^key:sk_/);

    const rejects = await get(app, ws, `/api/v1/imports/${created.id}/rejects.csv`);
    assert.equal(rejects.statusCode, 200);
    assert.match(String(rejects.headers['content-type']), /^text\/csv/);
    assert.match(String(rejects.headers['content-disposition']), /filename="customers.rejects.csv"/);
    assert.match(rejects.body, /^line,code,message\n3,MISSING_IDENTITY,"[^"\n]+"\n$/);

    const anna = (await get(app, ws, '/api/v1/profiles?identifier=email:anna@example.test')).json().items[0];
    assert.equal(anna.name, 'Anna Petrova');
    assert.equal(anna.phone, '+79161234567');
    const boris = await get(app, ws, '/api/v1/profiles?identifier=email:boris@example.test');
    assert.equal(boris.json().items.length, 1);
    assert.equal(await chunksOf(app, created.id), 0, 'the file is not kept');

    const eventsBefore = await eventsOf(app, ws.workspaceId);
    const again = await upload(app, ws, { kind: 'profiles', fileName: 'customers.csv', map: CUSTOMER_MAP }, CUSTOMERS);
    assert.equal(again.statusCode, 202);
    const second = await waitUntilOver(app, ws, again.json().id);
    assert.equal(second.status, 'done');
    assert.equal(second.accepted, 2);
    assert.equal(await eventsOf(app, ws.workspaceId), eventsBefore, 'the same file again adds no events');

    const list = (await get(app, ws, '/api/v1/imports?limit=1')).json();
    assert.equal(list.items[0].id, again.json().id, 'newest first');
    const next = (await get(app, ws, `/api/v1/imports?limit=1&cursor=${list.nextCursor}`)).json();
    assert.equal(next.items[0].id, created.id);
    assert.equal(next.nextCursor, null);

    const audit = (await get(app, ws, '/api/v1/audit?action=import.')).json();
    assert.equal(audit.items.length, 2);
    assert.equal(audit.items[0].action, 'import.uploaded');
    assert.deepEqual(audit.items[1].details, { kind: 'profiles', format: 'csv', bytes: Buffer.byteLength(CUSTOMERS) });
  });

  it('imports events from NDJSON, with unreadable lines as rejects', async () => {
    const ws = await newWorkspace(app);
    const lines = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ type: 'track', userId: `buyer-${i % 3}`, event: 'Order Completed', properties: { total: i } }),
    );
    lines.splice(4, 0, '{ not json');
    const started = await upload(
      app,
      ws,
      { kind: 'events', fileName: 'orders.ndjson' },
      `${lines.join('\n')}\n`,
      'application/x-ndjson',
    );
    assert.equal(started.statusCode, 202, started.body);
    assert.equal(started.json().format, 'ndjson');
    const done = await waitUntilOver(app, ws, started.json().id);
    assert.deepEqual([done.status, done.rows, done.accepted, done.rejected], ['done', 13, 12, 1]);
    const rejects = (await get(app, ws, `/api/v1/imports/${done.id}/rejects.csv`)).body;
    assert.match(rejects, /\n5,UNREADABLE_LINE,/);
    assert.equal(await eventsOf(app, ws.workspaceId), 12);
  });

  it('stores a large file in chunks of about 1 MB and reads it back across chunk boundaries', async () => {
    const ws = await newWorkspace(quiet);
    const note = 'x'.repeat(1000);
    const rows = ['userId,event,note'];
    for (let i = 0; i < 2200; i++) rows.push(`buyer-${i % 50},Visit ${i},${note}`);
    const file = Buffer.from(`${rows.join('\n')}\n`);
    // Over a real socket, sent in 64 KB pieces without a Content-Length, as a browser or curl streams a file.
    const address = await quiet.server.listen({ port: 0, host: '127.0.0.1' });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < file.length; at += 65_536) controller.enqueue(file.subarray(at, at + 65_536));
        controller.close();
      },
    });
    const started = await fetch(`${address}/api/v1/imports?kind=events&fileName=visits.csv`, {
      method: 'POST',
      headers: { ...ws.bearer, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(started.status, 202, await started.clone().text());
    const { id, totalBytes } = (await started.json()) as { id: string; totalBytes: number };
    assert.equal(totalBytes, file.length);
    assert.equal(await chunksOf(quiet, id), Math.ceil(file.length / (1024 * 1024)));

    await quiet.events.uploads.run(ws.workspaceId, id);
    const done = (await get(quiet, ws, `/api/v1/imports/${id}`)).json();
    assert.deepEqual([done.status, done.rows, done.accepted, done.rejected], ['done', 2200, 2200, 0]);
    assert.equal(await eventsOf(quiet, ws.workspaceId), 2200);
    const names = await sql<{ name: string }>`select name from events where workspace_id = ${ws.workspaceId}
      and properties->>'note' <> ${note}`.execute(quiet.database.db);
    assert.deepEqual(names.rows, [], 'no row was cut at a chunk boundary');
    assert.equal(await chunksOf(quiet, id), 0);
  });

  it('resumes after the checkpoint of an interrupted run without sending earlier lines again', async () => {
    const ws = await newWorkspace(quiet);
    const rows = ['userId,event,total'];
    for (let i = 0; i < 30; i++) rows.push(`buyer-${i},Order Completed,${100 + i}`);
    const started = await upload(quiet, ws, { kind: 'events', fileName: 'orders.csv' }, rows.join('\n'));
    const id = started.json().id;
    // As a worker that died after committing lines 2–11 would have left it.
    await sql`update imports set status = 'running', checkpoint_line = 11, accepted = 10, rows = 10,
      started_at = now() where id = ${id}`.execute(quiet.database.db);

    await quiet.events.uploads.run(ws.workspaceId, id);
    const done = (await get(quiet, ws, `/api/v1/imports/${id}`)).json();
    assert.deepEqual([done.status, done.rows, done.accepted, done.rejected], ['done', 30, 30, 0]);
    const sent = await sql<{ user_id: string }>`select user_id from events where workspace_id = ${ws.workspaceId}
      order by (properties->>'total')::int`.execute(quiet.database.db);
    assert.equal(sent.rows.length, 20, 'lines up to the checkpoint were not sent again');
    assert.equal(sent.rows[0]?.user_id, 'buyer-10', 'the first line after the checkpoint is the first sent');

    // A job that comes again after the end (a duplicate delivery) finds nothing to do.
    await quiet.events.uploads.run(ws.workspaceId, id);
    assert.equal(await eventsOf(quiet, ws.workspaceId), 20);
  });

  it('marks an import failed when its job has failed every attempt', async () => {
    const ws = await newWorkspace(quiet);
    const id = (await upload(quiet, ws, { kind: 'profiles', fileName: 'a.csv' }, CUSTOMERS)).json().id;
    await sql`update imports set status = 'running', error = 'connection terminated' where id = ${id}`.execute(
      quiet.database.db,
    );
    const deadLetter = quiet.events.uploads.jobs.find((job) => job.name === 'events.import.failed');
    await deadLetter?.handler([{ data: { workspaceId: ws.workspaceId, importId: id } }] as never);
    const failed = (await get(quiet, ws, `/api/v1/imports/${id}`)).json();
    assert.deepEqual([failed.status, failed.error], ['failed', 'connection terminated']);
    assert.ok(failed.finishedAt);
    assert.equal(await chunksOf(quiet, id), 0);
  });

  it('fails a file that cannot be read with a readable error and removes it', async () => {
    const ws = await newWorkspace(quiet);
    const started = await upload(
      quiet,
      ws,
      { kind: 'profiles', fileName: 'broken.csv' },
      'email,name\nanna@example.test,Anna\n"boris@example.test,Boris\n',
    );
    const id = started.json().id;
    await quiet.events.uploads.run(ws.workspaceId, id);
    const failed = (await get(quiet, ws, `/api/v1/imports/${id}`)).json();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /quote.*line 3/i);
    assert.equal(await chunksOf(quiet, id), 0);
  });

  it('is imported by a worker of another process that shares only the database', {
    skip: backendUnderTest() === 'pglite' && 'PostgreSQL only (set TEST_DATABASE_URL): PGlite is one process',
  }, async () => {
    const worker = await createApp(
      loadConfig({}, { databaseUrl: quiet.database.connectionString, logLevel: 'silent', dataDir: 'memory://' }),
      { api: false, worker: true },
    );
    try {
      const ws = await newWorkspace(quiet);
      const started = await upload(quiet, ws, { kind: 'profiles', fileName: 'c.csv', map: CUSTOMER_MAP }, CUSTOMERS);
      const done = await waitUntilOver(quiet, ws, started.json().id);
      assert.deepEqual([done.status, done.accepted, done.rejected], ['done', 2, 1]);
    } finally {
      await worker.close();
    }
  });

  it('refuses bad requests with 400 problems and leaves nothing behind', async () => {
    const ws = await newWorkspace(quiet);
    const problem = async (
      query: Record<string, string>,
      body: string,
      status: number,
      code: string,
      contentType = 'text/csv',
    ) => {
      const res = await upload(quiet, ws, query, body, contentType);
      assert.equal(res.statusCode, status, `${JSON.stringify(query)} → ${res.body}`);
      assert.match(String(res.headers['content-type']), /problem\+json/);
      assert.equal(res.json().code, code);
    };
    await problem({ kind: 'orders', fileName: 'a.csv' }, CUSTOMERS, 400, 'VALIDATION_FAILED');
    await problem({ kind: 'events', fileName: 'a.csv', format: 'xlsx' }, CUSTOMERS, 400, 'VALIDATION_FAILED');
    await problem({ kind: 'events' }, CUSTOMERS, 400, 'VALIDATION_FAILED');
    await problem({ kind: 'profiles', fileName: 'a.csv', map: 'E-mail' }, CUSTOMERS, 400, 'INVALID_MAPPING');
    await problem({ kind: 'profiles', fileName: 'a.csv', map: 'A=x,A=y' }, CUSTOMERS, 400, 'INVALID_MAPPING');
    await problem({ kind: 'profiles', fileName: 'a.ndjson', map: 'A=email' }, '{}', 400, 'INVALID_MAPPING');
    await problem({ kind: 'profiles', fileName: 'a.csv' }, '', 400, 'EMPTY_FILE');
    await problem({ kind: 'profiles', fileName: 'a.csv' }, CUSTOMERS, 415, 'UNSUPPORTED_MEDIA_TYPE', 'image/png');
    const gzipped = await quiet.server.inject({
      method: 'POST',
      url: '/api/v1/imports?kind=profiles&fileName=a.csv',
      headers: { ...ws.bearer, 'content-type': 'text/csv', 'content-encoding': 'gzip' },
      payload: CUSTOMERS,
    });
    assert.equal(gzipped.json().code, 'UNSUPPORTED_ENCODING');
    const list = (await get(quiet, ws, '/api/v1/imports')).json();
    assert.deepEqual(list.items, [], 'a refused upload leaves no import');
    assert.equal(
      await count(
        quiet,
        sql<{ n: number }>`select count(*) as n from import_chunks where workspace_id = ${ws.workspaceId}`,
      ),
      0,
    );
  });

  it('needs profiles:write to upload and profiles:read to look; other workspaces see nothing', async () => {
    const ws = await newWorkspace(quiet);
    const analyst = (
      await quiet.server.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: ws.bearer,
        payload: { kind: 'secret', name: 'reader', role: 'analyst' },
      })
    ).json().secret;
    const asAnalyst = { authorization: `Bearer ${analyst}` };
    const refused = await upload(quiet, ws, { kind: 'profiles', fileName: 'a.csv' }, CUSTOMERS, 'text/csv', asAnalyst);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'FORBIDDEN');

    const created = (await upload(quiet, ws, { kind: 'profiles', fileName: 'a.csv' }, CUSTOMERS)).json();
    const seen = await quiet.server.inject({ method: 'GET', url: `/api/v1/imports/${created.id}`, headers: asAnalyst });
    assert.equal(seen.statusCode, 200);

    const other = await newWorkspace(quiet);
    const hidden = await get(quiet, other, `/api/v1/imports/${created.id}`);
    assert.equal(hidden.statusCode, 404);
    assert.equal(hidden.json().code, 'IMPORT_NOT_FOUND');
    assert.equal((await get(quiet, other, `/api/v1/imports/${created.id}/rejects.csv`)).statusCode, 404);
    assert.deepEqual((await get(quiet, other, '/api/v1/imports')).json().items, []);
  });
});
