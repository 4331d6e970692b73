import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';
import { bulkImport } from './events.bulk.ts';
import { importFile, importStream } from './events.import.ts';
import type { IngestResult } from './events.schemas.ts';
import type { StoredEventListener } from './events.service.ts';

/**
 * The bulk path of imports against one-by-one ingestion of the same file, on the real database: the same people
 * (partition of identifiers into live profiles), the same traits, channels and first/last sightings, the same
 * stored events on the same people, the same rejects. The reference plays the batches strictly one after the
 * other in file order (plain `importStream` keeps two batches in flight, which may commit in either order).
 */
let app: TestApp;
let dir: string;
/** Message ids of `Order Completed` events heard by an onStored listener, per workspace. */
const heard = new Map<string, string[]>();
const purchases: StoredEventListener = {
  names: ['Order Completed'],
  handle: async (_trx, workspaceId, events) => {
    heard.set(workspaceId, [...(heard.get(workspaceId) ?? []), ...events.map((e) => e.messageId)]);
  },
};
before(async () => {
  app = await createTestApp();
  app.events.onStored(purchases);
  dir = mkdtempSync(join(tmpdir(), 'rapport-bulk-'));
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Writer = (messages: unknown[]) => Promise<IngestResult>;

/** One batch after the other, each only once the previous one has committed. */
function oneAfterAnother(write: Writer): Writer {
  let last: Promise<unknown> = Promise.resolve();
  return (messages) => {
    const next = last.then(() => write(messages));
    last = next.catch(() => {});
    return next;
  };
}

const ingestInto =
  (workspaceId: string): Writer =>
  (messages) =>
    app.events.ingest(workspaceId, messages);

/** A bulk writer whose deferred rows are counted. */
function countingBulk(workspaceId: string) {
  const counts = { deferred: 0 };
  const writer = bulkImport(
    {
      copyTransaction: app.database.copyTransaction,
      profiles: app.profiles,
      ingest: (ws, messages, receivedAt) => {
        counts.deferred += messages.length;
        return app.events.ingest(ws, messages, receivedAt);
      },
      handledByIngest: (event) => event.context.consent !== undefined,
      listeners: [purchases],
    },
    workspaceId,
  );
  return { writer, counts };
}

// ---- a generated file: repeated people, e-mails and user ids, devices (some shared), typos, bad lines, duplicates

function random(seed: number) {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateLines(seed: number, rows: number, people: number): string[] {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const persons = Array.from({ length: people }, (_, i) => ({
    userId: r() < 0.7 ? `user-${i}` : undefined,
    email: r() < 0.8 ? `p${i}@example.test` : undefined,
    typo: r() < 0.15 ? `p${i}@exmaple.test` : undefined,
    phone: r() < 0.3 ? `+7916${String(1_000_000 + i)}` : undefined,
    devices: r() < 0.4 ? [`dev-${i}-a`, `dev-${i}-b`] : [`dev-${i}-a`],
  }));
  const cities = ['Moscow', 'Kazan', 'Tula', 'Perm'];
  const explicitIds: { messageId: string; type: string; event?: string; name?: string }[] = [];
  const lines: string[] = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let line = 1; line <= rows; line++) {
    const x = r();
    if (x < 0.015) {
      lines.push('{ this is not json');
      continue;
    }
    if (x < 0.025) {
      lines.push(JSON.stringify({ type: 'track', event: 'Lost', timestamp: '2026-02-01T00:00:00Z' }));
      continue;
    }
    if (x < 0.03) {
      lines.push(JSON.stringify({ type: 'teleport', userId: 'user-1' }));
      continue;
    }
    const i = Math.floor(r() * people);
    const p = persons[i] as (typeof persons)[number];
    // Times on a coarse grid, so that some observations of one person tie.
    const timestamp = new Date(base + Math.floor(r() * 400) * 3_600_000).toISOString();
    const message: Record<string, unknown> = { timestamp };
    const traits: Record<string, unknown> = {};
    if (p.userId && r() < 0.6) message.userId = p.userId;
    if (r() < 0.6) message.anonymousId = pick(p.devices);
    if (r() < 0.03) message.anonymousId = pick(['kiosk-1', 'kiosk-2']);
    if (p.email && r() < 0.5) traits.email = p.typo && r() < 0.2 ? p.typo : p.email;
    if (p.phone && r() < 0.25) traits.phone = p.phone;
    if (!message.userId && !message.anonymousId && !traits.email && !traits.phone) message.anonymousId = p.devices[0];
    const kind = r();
    if (kind < 0.25) {
      message.type = 'identify';
      message.traits = {
        ...traits,
        name: `Person ${i}${r() < 0.3 ? ` v${Math.floor(r() * 3)}` : ''}`,
        city: pick(cities),
      };
    } else if (kind < 0.8) {
      message.type = 'track';
      message.event = pick(['Order Completed', 'Product Viewed', 'Code Registered']);
      message.properties = { total: Math.floor(r() * 5000), sku: `SKU-${Math.floor(r() * 20)}` };
      if (Object.keys(traits).length) message.context = { traits };
    } else if (kind < 0.93) {
      message.type = 'page';
      message.name = pick(['Home', 'Catalogue', 'Cart']);
      if (Object.keys(traits).length) message.context = { traits };
    } else if (p.userId) {
      message.type = 'alias';
      message.userId = p.userId;
      message.previousId = pick(p.devices);
    } else {
      message.type = 'screen';
      message.name = 'Start';
    }
    // Consent statements go through ingestion. Each names its address: without one, the consent check looks for
    // the person's known address in what is committed before the batch, which depends on where batches end.
    if (p.email && r() < 0.02 && message.type !== 'alias') {
      message.context = {
        ...((message.context as object) ?? {}),
        consent: [
          { channel: 'email', purpose: pick(['marketing', 'no-such-purpose']), action: 'grant', address: p.email },
        ],
      };
    }
    // A message sent twice: the same event (type and name) again under its message id, with other details. (Not a
    // different event under one id: ingestion stores a group's plain rows before those a listener or an extension
    // watches, so there the later row may win; the bulk path keeps the first, as dedup means.)
    if (explicitIds.length > 0 && r() < 0.03) {
      const again = pick(explicitIds);
      message.messageId = again.messageId;
      message.type = again.type;
      for (const field of ['event', 'name'] as const) {
        if (again[field] === undefined) delete message[field];
        else message[field] = again[field];
      }
      if (message.type === 'alias') message.previousId = pick(p.devices);
      delete (message.context as Record<string, unknown> | undefined)?.consent;
    } else if (r() < 0.2 && !(message.context as Record<string, unknown> | undefined)?.consent) {
      message.messageId = `m-${seed}-${line}`;
      explicitIds.push({
        messageId: message.messageId as string,
        type: message.type as string,
        event: message.event as string | undefined,
        name: message.name as string | undefined,
      });
    }
    lines.push(JSON.stringify(message));
  }
  return lines;
}

// ---- what is compared

interface Snapshot {
  profiles: { ids: string; traits: unknown; channels: string[]; first: string; last: string }[];
  events: Record<string, unknown>[];
  counts: { events: number; identities: number; live: number };
}

async function snapshot(workspaceId: string): Promise<Snapshot> {
  const db = app.database.db;
  const identities = await sql<{ profile_id: string; kind: string; value: string }>`
    select profile_id, kind, value from identities where workspace_id = ${workspaceId}`.execute(db);
  const keysOf = new Map<string, string[]>();
  for (const i of identities.rows)
    keysOf.set(i.profile_id, [...(keysOf.get(i.profile_id) ?? []), `${i.kind}:${i.value}`]);
  const keyOf = (id: string) => (keysOf.get(id) ?? []).sort().join(' ');
  const profiles = await sql<{
    id: string;
    traits: unknown;
    channels: string[];
    first_seen_at: Date;
    last_seen_at: Date;
    merged_into: string | null;
  }>`select id, traits, channels, first_seen_at, last_seen_at, merged_into from profiles
     where workspace_id = ${workspaceId}`.execute(db);
  const live = profiles.rows.filter((p) => p.merged_into === null);
  const liveOf = new Map(profiles.rows.map((p) => [p.id, p.merged_into ?? p.id]));
  const events = await sql<Record<string, unknown> & { profile_id: string; occurred_at: Date }>`
    select message_id, profile_id, type, name, channel, occurred_at, user_id, anonymous_id, properties, traits, context
    from events where workspace_id = ${workspaceId} order by message_id`.execute(db);
  for (const p of live) assert.ok(keysOf.has(p.id), 'every live profile holds an identifier');
  return {
    profiles: live
      .map((p) => ({
        ids: keyOf(p.id),
        traits: p.traits,
        channels: [...p.channels].sort(),
        first: p.first_seen_at.toISOString(),
        last: p.last_seen_at.toISOString(),
      }))
      .sort((a, b) => (a.ids < b.ids ? -1 : 1)),
    events: events.rows.map(({ profile_id, occurred_at, ...e }) => {
      const owner = liveOf.get(profile_id) as string;
      assert.equal(liveOf.get(owner), owner, 'every event is on a live profile');
      return { ...e, occurredAt: occurred_at.toISOString(), person: keyOf(owner) };
    }),
    counts: { events: events.rows.length, identities: identities.rows.length, live: live.length },
  };
}

function assertOneValuePerKind(s: Snapshot) {
  for (const p of s.profiles) {
    const kinds = p.ids
      .split(' ')
      .map((k) => k.split(':')[0] as string)
      .filter((k) => k !== 'anonymous_id');
    assert.equal(new Set(kinds).size, kinds.length, `one value per person-level kind: ${p.ids}`);
  }
}

describe('bulk imports', () => {
  it('end with the same people, traits and stored events as one-by-one ingestion of the file', async () => {
    const file = join(dir, 'history.ndjson');
    writeFileSync(file, `${generateLines(7, 3_000, 220).join('\n')}\n`);
    const [viaApp, reference, counted] = [await newWorkspace(app), await newWorkspace(app), await newWorkspace(app)];

    const bulk = await app.events.importFile(viaApp.workspaceId, {
      kind: 'events',
      file,
      batchSize: 400,
      resume: false,
      rejectsFile: join(dir, 'bulk.rejects.csv'),
    });
    const plain = await importFile(oneAfterAnother(ingestInto(reference.workspaceId)), {
      kind: 'events',
      file,
      batchSize: 150,
      resume: false,
      rejectsFile: join(dir, 'plain.rejects.csv'),
    });
    const { writer, counts } = countingBulk(counted.workspaceId);
    const observed = await importFile(writer, { kind: 'events', file, batchSize: 1_000, resume: false });

    const summary = (s: typeof bulk) => ({ rows: s.rows, accepted: s.accepted, rejected: s.rejected });
    assert.deepEqual(summary(bulk), summary(plain));
    assert.deepEqual(summary(observed), summary(plain));
    assert.ok(plain.rejected > 30, 'the file has bad lines');
    assert.equal(
      readFileSync(join(dir, 'bulk.rejects.csv'), 'utf8'),
      readFileSync(join(dir, 'plain.rejects.csv'), 'utf8'),
    );
    assert.ok(counts.deferred > 0, 'some rows needed judgement');
    assert.ok(counts.deferred < observed.accepted / 3, `most rows took the bulk path (${counts.deferred} deferred)`);

    const expected = await snapshot(reference.workspaceId);
    assertOneValuePerKind(expected);
    assert.ok(expected.profiles.length > 150 && expected.counts.events > 2_500);
    // Listeners of stored events hear each first-stored message once, whichever path stored it.
    const heardIn = (ws: string) => [...(heard.get(ws) ?? [])].sort();
    assert.ok(heardIn(reference.workspaceId).length > 500);
    assert.equal(new Set(heardIn(reference.workspaceId)).size, heardIn(reference.workspaceId).length);
    assert.deepEqual(heardIn(viaApp.workspaceId), heardIn(reference.workspaceId));
    assert.deepEqual(heardIn(counted.workspaceId), heardIn(reference.workspaceId));
    assert.deepEqual(await snapshot(viaApp.workspaceId), expected);
    assert.deepEqual(await snapshot(counted.workspaceId), expected);
  });

  it('adds nothing when the same file is imported again', async () => {
    const ws = await newWorkspace(app);
    const file = join(dir, 'twice.ndjson');
    writeFileSync(file, `${generateLines(11, 1_200, 90).join('\n')}\n`);
    const first = await app.events.importFile(ws.workspaceId, { kind: 'events', file, batchSize: 300, resume: false });
    const before = await snapshot(ws.workspaceId);
    const merges = async () =>
      (
        await sql<{
          n: number;
        }>`select count(*) as n from profile_merges where workspace_id = ${ws.workspaceId}`.execute(app.database.db)
      ).rows[0]?.n;
    const mergesBefore = await merges();
    const second = await app.events.importFile(ws.workspaceId, { kind: 'events', file, batchSize: 500, resume: false });
    assert.equal(second.accepted, first.accepted);
    assert.deepEqual(await snapshot(ws.workspaceId), before);
    assert.equal(await merges(), mergesBefore);
  });

  it('resumes after the last committed batch with the same outcome as a run without interruption', async () => {
    const file = join(dir, 'resumed.ndjson');
    writeFileSync(file, `${generateLines(23, 1_500, 120).join('\n')}\n`);
    const [interrupted, whole] = [await newWorkspace(app), await newWorkspace(app)];
    let batches = 0;
    await assert.rejects(
      app.events.importFile(interrupted.workspaceId, {
        kind: 'events',
        file,
        batchSize: 200,
        onProgress: () => {
          if (++batches === 3) throw new Error('interrupted');
        },
      }),
      /interrupted/,
    );
    const checkpoint = JSON.parse(readFileSync(`${file}.rapport-import.json`, 'utf8')).line as number;
    const resumed = await app.events.importFile(interrupted.workspaceId, { kind: 'events', file, batchSize: 200 });
    assert.ok(checkpoint > 600, 'three batches of 200 rows (and the bad lines among them) were committed');
    assert.equal(resumed.skippedByCheckpoint, checkpoint);
    await importFile(oneAfterAnother(ingestInto(whole.workspaceId)), { kind: 'events', file, resume: false });
    assert.deepEqual(await snapshot(interrupted.workspaceId), await snapshot(whole.workspaceId));
  });

  it('runs a failed transaction again from scratch: nothing it wrote or learnt is trusted', async () => {
    const [bulkWs, plainWs] = [await newWorkspace(app), await newWorkspace(app)];
    // A first batch of new people, then a batch that only gives them e-mails (identifiers attached to existing
    // profiles), whose first attempt fails after its people were resolved and its events appended.
    const lines = [
      ...Array.from({ length: 100 }, (_, i) => ({ type: 'identify', userId: `u${i}` })),
      ...Array.from({ length: 100 }, (_, i) => ({
        type: 'track',
        event: 'Order Completed',
        userId: `u${i}`,
        context: { traits: { email: `u${i}@example.test` } },
      })),
      ...Array.from({ length: 100 }, (_, i) => ({ type: 'track', event: 'Order Completed', userId: `u${i}` })),
    ].map((m, i) => JSON.stringify({ ...m, timestamp: new Date(Date.UTC(2026, 5, 1, 0, i)).toISOString() }));
    const text = `${lines.join('\n')}\n`;
    let attempts = 0;
    const flaky: StoredEventListener = {
      handle: async () => {
        if (++attempts === 1) throw Object.assign(new Error('could not serialize'), { code: '40001' });
      },
    };
    const writer = bulkImport(
      {
        copyTransaction: app.database.copyTransaction,
        profiles: app.profiles,
        ingest: (ws, messages, receivedAt) => app.events.ingest(ws, messages, receivedAt),
        handledByIngest: (event) => event.context.consent !== undefined,
        listeners: [flaky],
      },
      bulkWs.workspaceId,
    );
    const run = (w: Writer) =>
      importStream(w, {
        kind: 'events',
        format: 'ndjson',
        input: Readable.from([text]),
        totalBytes: text.length,
        batchSize: 100,
        onReject: () => {},
      });
    await run(writer);
    await run(oneAfterAnother(ingestInto(plainWs.workspaceId)));
    assert.equal(attempts, 3, 'the second batch ran twice, the third once');
    const expected = await snapshot(plainWs.workspaceId);
    assert.equal(expected.counts.identities, 200);
    assert.deepEqual(await snapshot(bulkWs.workspaceId), expected);
  });

  it('keeps the identity rules while ingestion writes the same people meanwhile', async () => {
    const [busy, quiet] = [await newWorkspace(app), await newWorkspace(app)];
    const file = join(dir, 'concurrent.ndjson');
    writeFileSync(file, `${generateLines(41, 2_500, 150).join('\n')}\n`);
    // Tracking traffic over the same people: other devices, e-mails, user ids, merges and conflicts among them.
    const traffic = generateLines(43, 1_500, 150)
      .filter((line) => line.startsWith('{"'))
      .map((line, i) => ({ messageId: `tracked-${i}`, ...(JSON.parse(line) as Record<string, unknown>) }));
    const batches = Array.from({ length: Math.ceil(traffic.length / 50) }, (_, i) =>
      traffic.slice(i * 50, i * 50 + 50),
    );
    const importing = app.events.importFile(busy.workspaceId, { kind: 'events', file, batchSize: 250, resume: false });
    const tracking = (async () => {
      for (const batch of batches) await app.events.ingest(busy.workspaceId, batch);
    })();
    const [imported] = await Promise.all([importing, tracking]);
    const alone = await app.events.importFile(quiet.workspaceId, {
      kind: 'events',
      file,
      batchSize: 250,
      resume: false,
    });
    for (const batch of batches) await app.events.ingest(quiet.workspaceId, batch);

    assert.deepEqual(
      { accepted: imported.accepted, rejected: imported.rejected },
      { accepted: alone.accepted, rejected: alone.rejected },
    );
    const [during, after] = [await snapshot(busy.workspaceId), await snapshot(quiet.workspaceId)];
    assertOneValuePerKind(during);
    assert.deepEqual(
      during.events.map((e) => e.message_id),
      after.events.map((e) => e.message_id),
      'the same messages are stored, whatever the interleaving',
    );
  });

  it('reads CSV as ingestion does, rejects by line included', async () => {
    const [bulkWs, plainWs] = [await newWorkspace(app), await newWorkspace(app)];
    const rows = ['userId,anonymousId,email,event,timestamp,total,traits.name'];
    for (let i = 0; i < 400; i++) {
      const who = i % 37;
      rows.push(
        [
          i % 5 === 0 ? '' : `u${who}`,
          i % 3 === 0 ? `d${who % 30}` : '',
          i % 4 === 0 ? `c${who}@example.test` : '',
          i % 50 === 7 ? '' : 'Order Completed',
          `2026-03-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
          String(100 + i),
          i % 9 === 0 ? `"Name, ${who}"` : '',
        ].join(','),
      );
    }
    rows.push(',,,Order Completed,2026-03-01T10:00:00Z,5,');
    const csv = `${rows.join('\n')}\n`;
    const rejects = { bulk: [] as string[], plain: [] as string[] };
    const run = (writer: Writer, into: string[]) =>
      importStream(writer, {
        kind: 'events',
        format: 'csv',
        input: Readable.from([csv]),
        totalBytes: csv.length,
        batchSize: 64,
        onReject: (line, code) => {
          into.push(`${line}:${code}`);
        },
      });
    const bulk = await run(countingBulk(bulkWs.workspaceId).writer, rejects.bulk);
    const plain = await run(oneAfterAnother(ingestInto(plainWs.workspaceId)), rejects.plain);
    assert.deepEqual(bulk, plain);
    assert.deepEqual(rejects.bulk, rejects.plain);
    assert.ok(rejects.bulk.length >= 9);
    assert.deepEqual(await snapshot(bulkWs.workspaceId), await snapshot(plainWs.workspaceId));
  });

  it('refuses the rows of an erased person by line, as ingestion does', async () => {
    const ws = await newWorkspace(app);
    await app.events.ingest(ws.workspaceId, [
      { type: 'identify', userId: 'gone-1', traits: { email: 'gone@example.test', name: 'Gone' } },
    ]);
    const found = await app.server.inject({
      method: 'GET',
      url: '/api/v1/profiles?identifier=email:gone@example.test',
      headers: ws.bearer,
    });
    const id = found.json().items[0].id as string;
    const erased = await app.server.inject({
      method: 'POST',
      url: `/api/v1/profiles/${id}/erase`,
      headers: ws.bearer,
      payload: { reason: 'subject_request' },
    });
    assert.equal(erased.statusCode, 200);
    const lines = [
      { type: 'track', userId: 'kept-1', event: 'Order Completed' },
      { type: 'track', anonymousId: 'dev-x', event: 'Viewed', context: { traits: { email: 'gone@example.test' } } },
      { type: 'identify', userId: 'kept-2', traits: { email: 'kept2@example.test' } },
      { type: 'track', userId: 'gone-1', event: 'Order Completed' },
    ].map((m) => JSON.stringify({ ...m, timestamp: '2026-04-01T10:00:00Z' }));
    const text = `${lines.join('\n')}\n`;
    const refused: string[] = [];
    const summary = await importStream(countingBulk(ws.workspaceId).writer, {
      kind: 'events',
      format: 'ndjson',
      input: Readable.from([text]),
      totalBytes: text.length,
      onReject: (line, code) => {
        refused.push(`${line}:${code}`);
      },
    });
    assert.deepEqual(refused, ['2:ERASED_SUBJECT', '4:ERASED_SUBJECT']);
    assert.equal(summary.accepted, 2);
  });

  it('defers every row that leads to a profile a deferred row touches: their order decides', async () => {
    // P = {shared device, phone}, Q = {user 4, e-mail 4}. Then one row ties P to Q (a merge: deferred) and a later
    // one, with no identifier in common with it, brings P's phone with a new e-mail. One by one, the merge comes
    // first and the new e-mail cannot join the merged profile (it holds e-mail 4); written in bulk ahead of the
    // merge, it would join P, and P could no longer merge into Q.
    const rows = [
      { anonymousId: 'shared', traits: { phone: '+79161234567' } },
      { userId: 'u4', traits: { email: 'four@example.test' } },
      { userId: 'u4', anonymousId: 'shared' },
      { traits: { phone: '+79161234567', email: 'three@example.test' } },
    ];
    const text = `${rows.map((m) => JSON.stringify({ type: 'identify', timestamp: '2026-05-01T10:00:00Z', ...m })).join('\n')}\n`;
    const [bulkWs, plainWs] = [await newWorkspace(app), await newWorkspace(app)];
    const run = (writer: Writer) =>
      importStream(writer, {
        kind: 'events',
        format: 'ndjson',
        input: Readable.from([text]),
        totalBytes: text.length,
        batchSize: 2,
        onReject: () => {},
      });
    await run(countingBulk(bulkWs.workspaceId).writer);
    await run(oneAfterAnother(ingestInto(plainWs.workspaceId)));
    const expected = await snapshot(plainWs.workspaceId);
    assert.deepEqual(
      expected.profiles.map((p) => p.ids),
      ['anonymous_id:shared email:four@example.test phone:+79161234567 user_id:u4', 'email:three@example.test'],
    );
    assert.deepEqual(await snapshot(bulkWs.workspaceId), expected);
  });

  it('gives the partition of one-by-one resolution for any small history (property)', async () => {
    const person = fc.record({
      user: fc.boolean(),
      email: fc.constantFrom(0, 1, 2), // none, own, a second (mistyped) one
      phone: fc.boolean(),
      device: fc.constantFrom('own', 'shared', 'none'),
    });
    const history = fc.array(fc.tuple(fc.nat(4), person, fc.nat(20)), { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(history, fc.integer({ min: 1, max: 12 }), async (rows, batchSize) => {
        const lines = rows.map(([who, p, hour], line) => {
          const message: Record<string, unknown> = {
            type: 'identify',
            timestamp: new Date(Date.UTC(2026, 0, 1, hour)).toISOString(),
            traits: { seen: line },
          };
          if (p.user) message.userId = `u${who}`;
          if (p.email) (message.traits as Record<string, unknown>).email = `p${who}-${p.email}@example.test`;
          if (p.phone) (message.traits as Record<string, unknown>).phone = `+791600000${who}0`;
          if (p.device === 'own') message.anonymousId = `d${who}`;
          if (p.device === 'shared' || (!p.user && !p.email && !p.phone && p.device === 'none'))
            message.anonymousId = 'shared';
          return JSON.stringify(message);
        });
        const text = `${lines.join('\n')}\n`;
        const [bulkWs, plainWs] = [await newWorkspace(app), await newWorkspace(app)];
        const run = (writer: Writer) =>
          importStream(writer, {
            kind: 'events',
            format: 'ndjson',
            input: Readable.from([text]),
            totalBytes: text.length,
            batchSize,
            onReject: () => {},
          });
        await run(countingBulk(bulkWs.workspaceId).writer);
        await run(oneAfterAnother(ingestInto(plainWs.workspaceId)));
        const expected = await snapshot(plainWs.workspaceId);
        assertOneValuePerKind(expected);
        assert.deepEqual(await snapshot(bulkWs.workspaceId), expected);
      }),
      { numRuns: 40 },
    );
  });
});
