// bench/ingest: sustained /v1/batch ingestion (100-event batches, 50,000 distinct people, identity resolution)
// against a raw COPY of the same rows into a plain table, in one run.
//
//   node bench/ingest.ts [--backend postgres|pglite] [--seconds 20] [--concurrency 8,16,32]
//
// The sustained phase runs once per concurrency given (senders each with one batch in flight, a closed loop): with
// few senders it measures the batch latency (events/s = senders × 100 / latency) while the cores are left idle; the
// server's sustained capacity is the rate once more senders no longer raise it. Each run prints its rate, batch p99
// and CPU per event; the goal is judged on the highest sustained rate.
// postgres: DATABASE_URL when set (a fresh database is created there), else a throwaway cluster.
// The server runs as its own process (`rapport serve --no-worker`); this process generates the load.
// BENCH_PROFILE_DIR=<dir> writes the server's CPU profile there; BENCH_STATEMENTS_RESET=1 resets pg_stat_statements
// before the sustained phase (when the server preloads it), for a look at that phase's statements afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { randomToken } from '../src/platform/ids.ts';
import { benchDatabase, freePort, postmasterPid, treeCpuMs } from './support.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    seconds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8,16,32' },
    people: { type: 'string', default: '50000' },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCIES = values.concurrency.split(',').map(Number);
if (CONCURRENCIES.some((c) => !Number.isInteger(c) || c < 1))
  throw new Error('--concurrency: positive integers, e.g. 8,16,32');
const PEOPLE = Number(values.people);
const BATCH = 100;
const BIN = new URL('../bin/rapport.js', import.meta.url).pathname;

let seq = 0;
/**
 * One realistic message of sustained traffic: a purchase, page view or identify of a random known person among
 * PEOPLE, or (1 in 100) of someone never seen before.
 */
function message(run: string) {
  const n = seq++;
  const person = n % 100 === 99 ? PEOPLE + n : Math.floor(Math.random() * PEOPLE);
  const kind = n % 10;
  const base = { messageId: `${run}-${n}`, userId: `customer-${person}`, timestamp: new Date().toISOString() };
  if (kind === 0) {
    return {
      ...base,
      type: 'identify',
      anonymousId: `device-${person}`,
      traits: { email: `customer${person}@example.test`, name: `Customer ${person}` },
    };
  }
  if (kind < 4) return { ...base, type: 'page', name: 'Catalogue', properties: { path: `/c/${n % 50}` } };
  return {
    ...base,
    type: 'track',
    event: 'Order Completed',
    properties: { total: 100 + (n % 900), currency: 'RUB', sku: `SKU-${n % 300}` },
  };
}

/** First sight of every person: an identify with user id, device and e-mail. */
function firstSight(run: string, person: number) {
  return {
    type: 'identify',
    messageId: `${run}-first-${person}`,
    userId: `customer-${person}`,
    anonymousId: `device-${person}`,
    traits: { email: `customer${person}@example.test`, name: `Customer ${person}` },
  };
}

// node:http with kept-alive connections: fetch (undici) costs several times its CPU a request, on the same two cores
// as the server it measures.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(base: string, path: string, headers: Record<string, string>, body: string) {
  const { hostname, port } = new URL(base);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        path,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function load(
  url: string,
  writeKey: string,
  seconds: number,
  concurrency: number,
  next?: () => unknown[] | null,
) {
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const run = randomToken(6);
  const until = Date.now() + seconds * 1000;
  let events = 0;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const messages = next ? next() : Array.from({ length: BATCH }, () => message(run));
        if (!messages) break;
        const body = JSON.stringify({ batch: messages, sentAt: new Date().toISOString() });
        const t0 = performance.now();
        const r = await post(url, '/v1/batch', { authorization: auth, 'content-type': 'application/json' }, body);
        if (r.status !== 200) throw new Error(`batch answered ${r.status}: ${r.body}`);
        latencies.push(performance.now() - t0);
        events += messages.length;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { events, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

/** The same rows as CSV lines for a plain events-shaped table. */
function* csvRows(count: number) {
  for (let i = 0; i < count; i++) {
    const m = message('copy');
    yield `${crypto.randomUUID()},${m.messageId},${crypto.randomUUID()},${m.type},Order Completed,server,${m.timestamp},${m.timestamp},${m.userId},,"{""total"":100}","{}","{}"\n`;
  }
}
const PLAIN_TABLE = `create table copy_baseline (id uuid, message_id text, profile_id uuid, type text, name text, channel text,
  occurred_at timestamptz, received_at timestamptz, user_id text, anonymous_id text, properties jsonb, traits jsonb, context jsonb)`;

async function copyBaselinePostgres(databaseUrl: string, rows: number) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(PLAIN_TABLE);
  const t0 = performance.now();
  await pipeline(
    Readable.from(csvRows(rows)),
    client.query(copyFrom('copy copy_baseline from stdin with (format csv)')),
  );
  const s = (performance.now() - t0) / 1000;
  await client.end();
  return rows / s;
}

async function copyBaselinePGlite(rows: number) {
  const db = await PGlite.create();
  await db.exec(PLAIN_TABLE);
  const csv = [...csvRows(rows)].join('');
  const t0 = performance.now();
  await db.query("copy copy_baseline from '/dev/blob' with (format csv)", [], { blob: new Blob([csv]) });
  const s = (performance.now() - t0) / 1000;
  await db.close();
  return rows / s;
}

function start(env: Record<string, string>): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [BIN, 'serve', '--no-worker'], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      ...(process.env.BENCH_PROFILE_DIR
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` }
        : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, exited: new Promise((r) => child.once('exit', r)) };
}

async function main() {
  const backend = values.backend;
  const writeKey = `wk_${randomToken(32)}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PORT: String(port),
    RAPPORT_WRITE_KEY: writeKey,
    RAPPORT_ADMIN_PASSWORD: 'bench password 1',
  };
  let cleanup = async () => {};
  let databaseUrl = '';
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-'));
    env.RAPPORT_DATA_DIR = dir;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const database = await benchDatabase();
    databaseUrl = database.url;
    env.DATABASE_URL = databaseUrl;
    cleanup = database.dispose;
  }

  const server = start(env);
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 150));
  }
  // Phase 1: the first sight of every person (all new profiles and identifiers).
  const seedRun = randomToken(6);
  let nextPerson = 0;
  const t0 = performance.now();
  const seeded = await load(url, writeKey, 3600, 8, () => {
    if (nextPerson >= PEOPLE) return null;
    const from = nextPerson;
    nextPerson = Math.min(PEOPLE, nextPerson + BATCH);
    return Array.from({ length: nextPerson - from }, (_, i) => firstSight(seedRun, from + i));
  });
  const seedRate = seeded.events / ((performance.now() - t0) / 1000);
  // Phase 2: sustained traffic of known people with 1% newcomers, at each concurrency.
  await load(url, writeKey, 3, CONCURRENCIES[0] as number);
  const pgPid = databaseUrl ? await postmasterPid(databaseUrl) : null;
  if (databaseUrl && process.env.BENCH_STATEMENTS_RESET) {
    // For a look at pg_stat_statements afterwards: the sustained phase alone (the server must have it preloaded).
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query('create extension if not exists pg_stat_statements');
    await client.query('select pg_stat_statements_reset()');
    await client.end();
  }
  const serverPid = server.child.pid as number;
  const sustained: { concurrency: number; rate: number; p99: number; events: number; cpu: string }[] = [];
  for (const concurrency of CONCURRENCIES) {
    // CPU of the run, per event: the server's process tree, PostgreSQL's processes, this load generator.
    const cpu0 = { server: treeCpuMs(serverPid), db: pgPid ? treeCpuMs(pgPid) : 0, load: process.cpuUsage() };
    const result = await load(url, writeKey, SECONDS, concurrency);
    const perEvent = (ms: number) => `${((ms * 1000) / result.events).toFixed(0)} µs`;
    const loadCpu = process.cpuUsage(cpu0.load);
    const cpu = `server ${perEvent(treeCpuMs(serverPid) - cpu0.server)}${pgPid ? ` + PostgreSQL ${perEvent(treeCpuMs(pgPid) - cpu0.db)}` : ''} + load generator ${perEvent((loadCpu.user + loadCpu.system) / 1000)}`;
    sustained.push({ concurrency, rate: result.events / SECONDS, p99: result.p99, events: result.events, cpu });
  }
  server.child.kill('SIGTERM');
  await server.exited;
  const rows = Math.max(...sustained.map((r) => r.events));
  const copyRate =
    backend === 'pglite' ? await copyBaselinePGlite(rows) : await copyBaselinePostgres(databaseUrl, rows);
  await cleanup();
  const best = sustained.reduce((a, b) => (b.rate > a.rate ? b : a));

  console.log(
    `bench/ingest (${backend}, batches of ${BATCH}, ${PEOPLE} people, ${SECONDS}s per concurrency; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
  console.log(`  baseline  raw COPY of the same ${rows} rows into a plain table: ${copyRate.toFixed(0)} rows/s`);
  console.log(
    `  rapport   first sight of ${PEOPLE} people (identify, all new, 8 senders): ${seedRate.toFixed(0)} events/s, batch p99 ${seeded.p99.toFixed(0)} ms`,
  );
  for (const r of sustained) {
    console.log(
      `  rapport   sustained /v1/batch with identity resolution, ${String(r.concurrency).padStart(2)} senders: ${r.rate.toFixed(0)} events/s (ratio ${(r.rate / copyRate).toFixed(2)}), batch p99 ${r.p99.toFixed(0)} ms; CPU per event: ${r.cpu}`,
    );
  }
  console.log(
    `  sustained capacity ${best.rate.toFixed(0)} events/s (${best.concurrency} senders); goal on PostgreSQL ≥ 20,000 events/s: ${backend === 'postgres' ? (best.rate >= 20_000 ? 'MET' : 'NOT MET') : 'n/a'}`,
  );
}

await main();
