// bench/loyalty: the till API and the balance read, on real PostgreSQL, each next to a baseline of the same run.
//
//  1. Till transactions: POST /api/v1/loyalty/programmes/main/purchases (secret key, idempotency key, 1–5 lines,
//     five earn rules evaluated: per-unit base, a line multiplier on a category, an amount bonus capped per day, a
//     weekday rule and a branch rule; its timeline event handed to the events module). Baseline: a bare Fastify
//     route doing the least a ledger write can do through pg (BEGIN, UPDATE the wallet, INSERT an entry, COMMIT).
//     Goal: ≥ 2,000 transactions/s with p99 < 30 ms on this 2-core machine.
//  2. The till's balance read: GET /api/v1/loyalty/cards/:number/balance with --entries ledger entries (10,000,000
//     by default, filled with SQL). Baseline: a bare route reading the wallet row by primary key. Goal: p99 < 5 ms.
//
//   node bench/loyalty.ts [--seconds 10] [--connections 32] [--rate 2000] [--customers 20000] [--entries 10000000]
//                         [--processes 1]   (Rapport runs as `rapport serve --no-worker --processes N`)
//
// Uses DATABASE_URL when set (a fresh database is created on that server), otherwise starts a throwaway cluster.
// Each server runs in its own process; autocannon drives them from this process. BENCH_PROFILE_DIR=<dir> writes
// Rapport's CPU profile there; BENCH_PERF_DIR=<dir> records `perf record -a -g` during each till round.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { createApp } from '../src/app.ts';
import { cardNumber } from '../src/modules/loyalty/loyalty.cardnumbers.ts';
import { loadConfig } from '../src/platform/config.ts';
import { randomToken } from '../src/platform/ids.ts';
import { benchDatabase, freePort, perfAround, postmasterPid, treeCpuMs } from './support.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    url: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '2000' },
    customers: { type: 'string', default: '20000' },
    entries: { type: 'string', default: '10000000' },
    processes: { type: 'string', default: '1' },
  },
});

const RANGE = { prefix: '7001', length: 16 };
const FILL_RANGE = { prefix: '7009', length: 16 };

async function serveBare(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const app = Fastify({ logger: false });
  app.post<{ Params: { ws: string }; Body: { card: string; points: number } }>('/bare/:ws/earn', async (request) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const w = await client.query(
        `update loyalty_wallets w set balance = balance + $3 from loyalty_cards c
          where c.workspace_id = $1 and c.number = $2 and w.member_id = c.member_id and w.wallet = 'points'
          returning w.member_id, w.balance`,
        [request.params.ws, request.body.card, request.body.points],
      );
      await client.query(
        `insert into loyalty_ledger (id, workspace_id, member_id, wallet, kind, amount, occurred_at)
          values (gen_random_uuid(), $1, $2, 'points', 'earn', $3, now())`,
        [request.params.ws, w.rows[0].member_id, request.body.points],
      );
      await client.query('commit');
      return { balance: Number(w.rows[0].balance) };
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  });
  app.get<{ Params: { ws: string; card: string } }>('/bare/:ws/balance/:card', async (request) => {
    const { rows } = await pool.query(
      `select w.wallet, w.balance from loyalty_cards c join loyalty_wallets w on w.member_id = c.member_id
        where c.workspace_id = $1 and c.number = $2`,
      [request.params.ws, request.params.card],
    );
    return { balances: rows };
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
}

/** Rapport as operators run it: `rapport serve --no-worker [--processes N]` (JSON request logs at info). */
async function serveCommand(databaseUrl: string, processes: string): Promise<{ proc: ChildProcess; address: string }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [new URL('../bin/rapport.js', import.meta.url).pathname, 'serve', '--no-worker', '--processes', processes],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        LOG_LEVEL: 'info',
        ...(process.env.BENCH_PROFILE_DIR
          ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` }
          : {}),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const address = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`rapport serve exited with ${proc.exitCode}`);
    if (
      await fetch(`${address}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { proc, address };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('rapport serve did not answer /health');
}

function child(role: string, url: string): Promise<{ proc: ChildProcess; address: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [new URL(import.meta.url).pathname, '--role', role, '--url', url], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    proc.once('message', (m: { address: string }) => resolve({ proc, address: m.address }));
    proc.once('exit', (code) => reject(new Error(`${role} server exited with ${code}`)));
  });
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
}

let sequence = 0;
async function load(
  options: { url: string; method: 'GET' | 'POST'; headers: Record<string, string> },
  make: () => { path?: string; body?: unknown; headers?: Record<string, string> },
  seconds: number,
  connections: number,
  overallRate?: number,
): Promise<Run> {
  const result = await autocannon({
    url: options.url,
    duration: seconds,
    connections,
    pipelining: 1,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: options.method,
        setupRequest: (req: autocannon.Request) => {
          const r = make();
          return {
            ...req,
            ...(r.path ? { path: r.path } : {}),
            headers: { ...options.headers, ...(r.headers ?? {}) },
            ...(r.body ? { body: JSON.stringify(r.body) } : {}),
          };
        },
      },
    ],
  });
  if (result.non2xx || result.errors)
    throw new Error(`${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors of ${result.requests.total}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const CATEGORIES = ['tea', 'coffee', 'sweets', 'cups', 'gifts'];
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)] as T;

async function main() {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const rate = Number(values.rate);
  const customers = Number(values.customers);
  const entries = Number(values.entries);
  const database = await benchDatabase();
  const databaseUrl = database.url;
  const ownerKey = `sk_${randomToken(40)}`;
  const writeKey = `wk_${randomToken(30)}`;
  const bearer = { authorization: `Bearer ${ownerKey}`, 'content-type': 'application/json' };

  // ---- seed through the real API and SQL
  const t0 = performance.now();
  const seed = await createApp(
    loadConfig(process.env, { databaseUrl, logLevel: 'silent', secretKey: ownerKey, writeKey }),
    { api: true, worker: false },
  );
  const api = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const r = await seed.server?.inject({
      method,
      url,
      headers: bearer,
      ...(payload ? { payload: payload as object } : {}),
    });
    if (!r || r.statusCode >= 300) throw new Error(`${method} ${url}: ${r?.statusCode} ${r?.body}`);
    return r.json();
  };
  const workspaceId = (await api('GET', '/api/v1/workspace')).id as string;
  await api('POST', '/api/v1/loyalty/programmes', { key: 'main', name: 'Samovar Club', currency: 'RUB' });
  await api('POST', '/api/v1/loyalty/programmes/main/card-ranges', {
    kind: 'virtual',
    ...RANGE,
    firstSerial: 1,
    lastSerial: 99_999_999,
  });
  const rules = [
    { name: 'base', trigger: 'purchase', priority: 10, formula: { kind: 'per_unit', points: 1, per: 10_000 } },
    {
      name: 'double points on coffee',
      trigger: 'purchase',
      scope: 'line',
      priority: 20,
      condition: { field: 'line.category', op: 'eq', value: 'coffee' },
      formula: { kind: 'multiplier', factor: 2 },
    },
    {
      name: 'big basket, once a day',
      trigger: 'purchase',
      priority: 30,
      condition: { field: 'amount', op: 'gte', value: 300_000 },
      formula: { kind: 'fixed', points: 50 },
      caps: [{ period: 'day', maxTimes: 1 }],
    },
    {
      name: 'weekend mornings',
      trigger: 'purchase',
      priority: 40,
      condition: {
        all: [
          { field: 'weekday', op: 'in', value: ['sat', 'sun'] },
          { field: 'hour', op: 'lt', value: 12 },
        ],
      },
      formula: { kind: 'fixed', points: 10 },
    },
    {
      name: 'new store',
      trigger: 'purchase',
      priority: 50,
      condition: { field: 'branch', op: 'eq', value: 'S7' },
      formula: { kind: 'multiplier', factor: 1.5 },
    },
  ];
  for (const rule of rules) await api('POST', '/api/v1/loyalty/programmes/main/rules', rule);

  // Customers: profiles with their card as identifier (tracking API), then members, wallets and cards (SQL).
  const cards = Array.from({ length: customers }, (_, i) => cardNumber(RANGE, i + 1));
  for (let i = 0; i < customers; i += 500) {
    const batch = cards.slice(i, i + 500).map((card, j) => ({
      type: 'identify',
      userId: `bench-${i + j}`,
      traits: { card, phone: `+7916${String(i + j).padStart(7, '0')}` },
    }));
    const r = await seed.server?.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: {
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      payload: { batch },
    });
    if (r?.statusCode !== 200) throw new Error(`identify: ${r?.body}`);
  }
  const db = seed.database.db;
  const programmeId = (
    await sql<{ id: string }>`select id from loyalty_programmes where workspace_id = ${workspaceId}`.execute(db)
  ).rows[0]?.id as string;
  await sql`create temporary table bench_cards as
    select gen_random_uuid() as member_id, i.profile_id, i.value as number
    from identities i where i.workspace_id = ${workspaceId} and i.kind = 'card'`.execute(db);
  await sql`insert into loyalty_members (id, workspace_id, programme_id, profile_id, joined_at)
    select member_id, ${workspaceId}, ${programmeId}, profile_id, now() from bench_cards`.execute(db);
  await sql`insert into loyalty_wallets (member_id, wallet, workspace_id) select member_id, 'points', ${workspaceId} from bench_cards`.execute(
    db,
  );
  await sql`insert into loyalty_cards (id, workspace_id, programme_id, member_id, number, kind, status, qr_hash, is_identifier, issued_at)
    select gen_random_uuid(), ${workspaceId}, ${programmeId}, member_id, number, 'virtual', 'active', md5(number), true, now()
    from bench_cards`.execute(db);
  await sql`update loyalty_card_ranges set next_serial = ${customers + 1} where programme_id = ${programmeId}`.execute(
    db,
  );
  const setup = (performance.now() - t0) / 1000;

  // ---- 10,000,000 ledger entries (20 per member: 12 earnings, 6 payments, 2 expiries; 4 lots still open)
  const t1 = performance.now();
  const members = Math.ceil(entries / 20);
  await sql`create temporary table fill as select gen_random_uuid() as member_id, g from generate_series(1, ${members}) g`.execute(
    db,
  );
  await sql`insert into loyalty_members (id, workspace_id, programme_id, profile_id, joined_at)
    select member_id, ${workspaceId}, ${programmeId}, gen_random_uuid(), now() - interval '400 days' from fill`.execute(
    db,
  );
  await sql`insert into loyalty_wallets (member_id, wallet, workspace_id, balance)
    select member_id, 'points', ${workspaceId}, 40 from fill`.execute(db);
  await sql`insert into loyalty_cards (id, workspace_id, programme_id, member_id, number, kind, status, issued_at)
    select gen_random_uuid(), ${workspaceId}, ${programmeId}, member_id,
      ${FILL_RANGE.prefix} || lpad(g::text, 11, '0'), 'virtual', 'active', now() from fill`.execute(db);
  await sql`insert into loyalty_lots (id, workspace_id, member_id, wallet, amount, remaining, earned_at, available_at, expires_at)
    select (md5(f.member_id::text || k)::uuid), ${workspaceId}, f.member_id, 'points', 10, case when k > 8 then 10 else 0 end,
      now() - (400 - k * 30) * interval '1 day', now() - (386 - k * 30) * interval '1 day',
      now() - (21 - k * 30) * interval '1 day'
    from fill f, generate_series(1, 12) k`.execute(db);
  await sql`insert into loyalty_ledger (id, workspace_id, member_id, wallet, kind, amount, occurred_at)
    select gen_random_uuid(), ${workspaceId}, f.member_id, 'points',
      case when k <= 12 then 'earn' when k <= 18 then 'burn' else 'expire' end,
      case when k <= 12 then 10 else -10 end, now() - (400 - k * 20) * interval '1 day'
    from fill f, generate_series(1, 20) k`.execute(db);
  await sql`analyze`.execute(db);
  const fill = (performance.now() - t1) / 1000;
  const counted = await sql<{ n: number }>`select count(*)::bigint as n from loyalty_ledger`.execute(db);
  const ledgerRows = Number(counted.rows[0]?.n);
  const fillNumbers = (
    await sql<{ number: string }>`select c.number from loyalty_cards c join fill f on f.member_id = c.member_id
      order by random() limit 20000`.execute(db)
  ).rows.map((r) => r.number);
  await seed.close();

  const rapport = await serveCommand(databaseUrl, values.processes as string);
  const bare = await child('bare', databaseUrl);
  const tillHeaders = { authorization: `Bearer ${ownerKey}`, 'content-type': 'application/json' };
  const purchase = () => {
    const lines = Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => ({
      sku: `SKU-${Math.floor(Math.random() * 500)}`,
      category: pick(CATEGORIES),
      quantity: 1 + Math.floor(Math.random() * 3),
      price: 5_000 + Math.floor(Math.random() * 150_000),
    }));
    return {
      headers: { 'idempotency-key': `bench-${process.pid}-${++sequence}` },
      body: {
        customer: { card: pick(cards) },
        currency: 'RUB',
        lines,
        branch: `S${Math.floor(Math.random() * 20)}`,
        cashier: `c${Math.floor(Math.random() * 50)}`,
      },
    };
  };
  const tillUrl = {
    url: `${rapport.address}/api/v1/loyalty/programmes/main/purchases`,
    method: 'POST' as const,
    headers: tillHeaders,
  };
  const bareUrl = {
    url: `${bare.address}/bare/${workspaceId}/earn`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
  };
  const bareEarn = () => ({ body: { card: pick(cards), points: 1 + Math.floor(Math.random() * 20) } });

  // Warm both (JIT, pools, caches), then alternate so that drift of a noisy machine hits both alike.
  await load(tillUrl, purchase, 3, connections);
  await load(bareUrl, bareEarn, 3, connections);
  const till: Run[] = [];
  const base: Run[] = [];
  // CPU per transaction of each side (server process tree, PostgreSQL's processes): steadier than rates on a
  // shared machine.
  const pgPid = await postmasterPid(databaseUrl);
  const cpu = { bare: 0, bareDb: 0, rapport: 0, rapportDb: 0 };
  const measured = async (pid: number, key: 'bare' | 'rapport', work: () => Promise<Run>) => {
    const s0 = treeCpuMs(pid);
    const d0 = pgPid ? treeCpuMs(pgPid) : 0;
    const run = await work();
    cpu[key] += (treeCpuMs(pid) - s0) / (run.rps * seconds);
    cpu[`${key}Db`] += pgPid ? (treeCpuMs(pgPid) - d0) / (run.rps * seconds) : 0;
    return run;
  };
  for (let i = 0; i < 2; i++) {
    base.push(await measured(bare.proc.pid as number, 'bare', () => load(bareUrl, bareEarn, seconds, connections)));
    till.push(
      await perfAround(`till-${i}`, () =>
        measured(rapport.proc.pid as number, 'rapport', () => load(tillUrl, purchase, seconds, connections)),
      ),
    );
  }
  const atRate = await load(tillUrl, purchase, seconds, connections, rate);
  const baseAtRate = await load(bareUrl, bareEarn, seconds, connections, rate);

  // Balance reads: one till at a time (sequential), then 8 at once.
  const balanceUrl = {
    url: `${rapport.address}/api/v1/loyalty/cards/${fillNumbers[0]}/balance`,
    method: 'GET' as const,
    headers: { authorization: `Bearer ${ownerKey}` },
  };
  const bareBalanceUrl = {
    url: `${bare.address}/bare/${workspaceId}/balance/${fillNumbers[0]}`,
    method: 'GET' as const,
    headers: {},
  };
  const readRapport = () => ({ path: `/api/v1/loyalty/cards/${pick(fillNumbers)}/balance` });
  const readBare = () => ({ path: `/bare/${workspaceId}/balance/${pick(fillNumbers)}` });
  await load(balanceUrl, readRapport, 3, 1);
  await load(bareBalanceUrl, readBare, 3, 1);
  const reads: Record<string, { base: Run; rapport: Run }> = {};
  for (const c of [1, 8]) {
    reads[c] = {
      base: await load(bareBalanceUrl, readBare, seconds, c),
      rapport: await load(balanceUrl, readRapport, seconds, c),
    };
  }

  rapport.proc.kill('SIGTERM');
  bare.proc.kill('SIGTERM');
  await new Promise((res) => setTimeout(res, 1500));
  await database.dispose();

  const avg = (xs: Run[]) => xs.reduce((s, x) => s + x.rps, 0) / xs.length;
  const maxP99 = (xs: Run[]) => Math.max(...xs.map((x) => x.p99));
  const tillOk = atRate.rps >= rate * 0.98 && atRate.p99 < 30;
  const maxOk = avg(till) >= 2000;
  console.log(
    `bench/loyalty (PostgreSQL; ${customers} till customers, ${ledgerRows.toLocaleString('en')} ledger entries; setup ${setup.toFixed(0)} s, fill ${fill.toFixed(0)} s)`,
  );
  console.log(`  till transactions, ${connections} connections, 2×${seconds}s, as fast as possible:`);
  console.log(
    `    baseline  bare Fastify + pg: UPDATE wallet, INSERT entry : ${avg(base).toFixed(0)}/s  p99 ${maxP99(base)} ms`,
  );
  console.log(
    `    rapport   POST …/purchases (5 rules, idempotency, timeline) : ${avg(till).toFixed(0)}/s  p99 ${maxP99(till)} ms`,
  );
  const us = (ms: number) => `${((ms * 1000) / 2).toFixed(0)} µs`;
  console.log(
    `    CPU per transaction: baseline server ${us(cpu.bare)} + PostgreSQL ${us(cpu.bareDb)}; rapport server${values.processes === '1' ? '' : ` (${values.processes} processes)`} ${us(cpu.rapport)} + PostgreSQL ${us(cpu.rapportDb)}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(`  at a fixed ${rate}/s for ${seconds}s:`);
  console.log(`    baseline  ${baseAtRate.rps.toFixed(0)}/s  p50 ${baseAtRate.p50} ms  p99 ${baseAtRate.p99} ms`);
  console.log(`    rapport   ${atRate.rps.toFixed(0)}/s  p50 ${atRate.p50} ms  p99 ${atRate.p99} ms`);
  console.log(
    `  goal ≥ 2,000/s (max ${maxOk ? 'MET' : 'NOT MET'}) with p99 < 30 ms (at ${rate}/s ${tillOk ? 'MET' : 'NOT MET'})`,
  );
  console.log(`  balance read by card (${ledgerRows.toLocaleString('en')} entries), ${seconds}s each:`);
  for (const [c, r] of Object.entries(reads)) {
    console.log(
      `    ${c} connection(s): baseline p50 ${r.base.p50} / p99 ${r.base.p99} ms (${r.base.rps.toFixed(0)}/s)   rapport p50 ${r.rapport.p50} / p99 ${r.rapport.p99} ms (${r.rapport.rps.toFixed(0)}/s)`,
    );
  }
  const readOk = (reads[1] as { rapport: Run }).rapport.p99 < 5;
  console.log(`  goal balance read p99 < 5 ms (one till at a time): ${readOk ? 'MET' : 'NOT MET'}`);
}

// Last, so that every constant above is initialised. A server child leaves with the process that started it.
process.on('SIGINT', () => process.exit(0));
if (values.role === 'bare') process.on('disconnect', () => process.exit(0));
if (values.role === 'bare') await serveBare(values.url as string);
else await main();
