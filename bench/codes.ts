// bench/codes: the codes module on real PostgreSQL, each figure next to a baseline measured in the same run.
//
//  1. Generation: a 10,000,000-code batch (CSPRNG, check character, keyed hash, sorted binary COPY into the unique index,
//     the clear list written to a file) against a raw binary COPY of 10,000,000 rows of the same shape into a plain
//     table without indexes. Goal: at least 40% of the COPY rate.
//  2. Registration: POST /v1/codes/register from many distinct phones against a 1,000,000-code batch (every code
//     valid, once), through a `rapport serve` process, against a bare Fastify route doing the one write a claim
//     needs (INSERT … ON CONFLICT DO NOTHING of the code's hash) through `pg`. Goal: ≥ 3,000/s, p99 < 50 ms.
//
//   node bench/codes.ts [--codes 10000000] [--batch 1000000] [--seconds 20] [--connections 64] [--no-worker]
//                       [--processes 1] [--skip-registration]
//
// Uses DATABASE_URL when set (a fresh database is created on that server), otherwise starts a throwaway cluster.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { randomToken } from '../src/platform/ids.ts';
import { benchDatabase, freePort, postmasterPid, treeCpuMs } from './support.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    url: { type: 'string' },
    codes: { type: 'string', default: '10000000' },
    batch: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
    'no-worker': { type: 'boolean', default: false },
    processes: { type: 'string', default: '1' },
    'skip-registration': { type: 'boolean', default: false },
  },
});
const CODES = Number(values.codes);
const BATCH = Number(values.batch);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const BIN = new URL('../bin/rapport.js', import.meta.url).pathname;

/** A local date-time some days from now (the promotion's window; Moscow is UTC+3, a day either way is plenty). */
/** The same rows as a CSV file copied in (file written first, only the COPY timed): as bench/import measures. */
async function csvCopyBaseline(url: string, rows: number, dir: string) {
  const file = join(dir, 'baseline.csv');
  const out = createWriteStream(file);
  const ws = crypto.randomUUID();
  const batch = crypto.randomUUID();
  const per = 65_536;
  for (let done = 0; done < rows; done += per) {
    const n = Math.min(per, rows - done);
    const random = randomBytes(8 * n);
    let text = '';
    for (let i = 0; i < n; i++) text += `${random.readBigInt64BE(i * 8)},${ws},${batch}\n`;
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise((resolve) => out.end(resolve));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('create table copy_csv (hash bigint, workspace_id uuid, batch_id uuid)');
  const t0 = performance.now();
  await pipeline(createReadStream(file), client.query(copyFrom('copy copy_csv from stdin with (format csv)')));
  const rate = rows / ((performance.now() - t0) / 1000);
  await client.query('drop table copy_csv');
  await client.end();
  rmSync(file);
  return rate;
}

const localNow = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 16);

if (values.role === 'bare') await serveBare(values.url as string);
else {
  await main();
  process.exit();
}

/** The baseline server: one INSERT … ON CONFLICT DO NOTHING per request, nothing else. */
async function serveBare(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  await pool.query('create table if not exists bare_claims (hash bigint primary key, phone text not null)');
  const app = Fastify({ logger: false });
  let n = 0;
  app.post<{ Body: { code: string; phone: string } }>('/bare', async (request) => {
    const { rowCount } = await pool.query(
      'insert into bare_claims (hash, phone) values ($1, $2) on conflict do nothing',
      [++n, request.body.phone],
    );
    return { accepted: rowCount === 1 };
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
}

function bareServer(url: string): Promise<{ proc: ChildProcess; address: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [new URL(import.meta.url).pathname, '--role', 'bare', '--url', url], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    proc.once('message', (m: { address: string }) => resolve({ proc, address: m.address }));
    proc.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
}

/** Raw binary COPY of `rows` rows (bigint, uuid, uuid) into a plain table: the ceiling for loading codes. */
async function copyBaseline(url: string, rows: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('create table copy_baseline (hash bigint, workspace_id uuid, batch_id uuid)');
  const row = 2 + 12 + 20 + 20;
  const per = 1 << 20;
  const ws = Buffer.from(crypto.randomUUID().replaceAll('-', ''), 'hex');
  const batch = Buffer.from(crypto.randomUUID().replaceAll('-', ''), 'hex');
  const t0 = performance.now();
  for (let done = 0; done < rows; done += per) {
    const n = Math.min(per, rows - done);
    const random = randomBytes(8 * n);
    const buf = Buffer.allocUnsafe(n * row);
    for (let i = 0; i < n; i++) {
      const o = i * row;
      buf.writeInt16BE(3, o);
      buf.writeInt32BE(8, o + 2);
      buf.set(random.subarray(i * 8, i * 8 + 8), o + 6);
      buf.writeInt32BE(16, o + 14);
      ws.copy(buf, o + 18);
      buf.writeInt32BE(16, o + 34);
      batch.copy(buf, o + 38);
    }
    const stream = client.query(copyFrom('copy copy_baseline from stdin with (format binary)'));
    stream.write(Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]));
    stream.write(buf);
    stream.end(Buffer.from([0xff, 0xff]));
    await new Promise((resolve, reject) => stream.on('finish', resolve).on('error', reject));
  }
  const rate = rows / ((performance.now() - t0) / 1000);
  await client.query('drop table copy_baseline');
  await client.end();
  return rate;
}

async function main() {
  const database = await benchDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-codes-'));
  const writeKey = `wk_${randomToken(32)}`;
  const env = {
    DATABASE_URL: database.url,
    RAPPORT_WRITE_KEY: writeKey,
    RAPPORT_ADMIN_PASSWORD: 'bench password 1',
    RAPPORT_TIME_ZONE: 'Europe/Moscow',
  };
  try {
    // ---- 1. generation
    // The machine is shared: the COPY baseline is measured before and after the generation, and the ratio taken to
    // their mean.
    const copyBefore = await copyBaseline(database.url, CODES);
    const csvRate = await csvCopyBaseline(database.url, CODES, dir);
    const app = await createApp(loadConfig({ ...process.env, ...env }, { logLevel: 'warn' }), {
      api: false,
      worker: false,
    });
    const workspace = await app.org.findWorkspace();
    if (!workspace) throw new Error('no workspace');
    const promotion = await app.codes.admin.createPromotion(workspace.id, {
      key: 'bench',
      name: 'Bench',
      startsAt: localNow(-1),
      endsAt: localNow(89),
      reward: { kind: 'points', points: 10 },
      perPersonPerDay: 5,
      guessesPerMinute: 300,
    });
    const big = await app.codes.admin.createBatch(workspace.id, promotion.id, { count: CODES }, 'bench');
    const bigFile = join(dir, 'big.csv');
    let last = 0;
    const pgPidGen = await postmasterPid(database.url);
    const genCpu0 = process.cpuUsage();
    const genDb0 = pgPidGen ? treeCpuMs(pgPidGen) : 0;
    const t0 = performance.now();
    await app.codes.admin.generateBatch(workspace.id, big.id, createWriteStream(bigFile), 'csv', (done, total) => {
      if (Date.now() - last > 10_000) {
        last = Date.now();
        process.stderr.write(`  … ${done} of ${total} codes\n`);
      }
    });
    const genRate = CODES / ((performance.now() - t0) / 1000);
    const genCpu = process.cpuUsage(genCpu0);
    const genNodeUs = ((genCpu.user + genCpu.system) / CODES).toFixed(2);
    const genDbUs = pgPidGen ? (((treeCpuMs(pgPidGen) - genDb0) * 1000) / CODES).toFixed(2) : '?';
    const bigSize = statSync(bigFile).size;
    rmSync(bigFile);
    const copyAfter = await copyBaseline(database.url, CODES);
    const copyRate = (copyBefore + copyAfter) / 2;

    const ratio = genRate / copyRate;
    console.log(`bench/codes (PostgreSQL; ${CODES.toLocaleString('en')}-code generation)`);
    console.log(
      `  baseline  raw binary COPY of ${CODES.toLocaleString('en')} rows (bigint, uuid, uuid) into a plain table: ${copyRate.toFixed(0)} rows/s (before ${copyBefore.toFixed(0)}, after ${copyAfter.toFixed(0)})`,
    );
    console.log(
      `  baseline  raw COPY of the same rows from a CSV file (as bench/import): ${csvRate.toFixed(0)} rows/s`,
    );
    console.log(
      `  rapport   generate ${CODES.toLocaleString('en')} codes of ${big.length} characters (CSPRNG, check character, AES-CMAC, sorted COPY into the unique index, ${(bigSize / 1e6).toFixed(0)} MB clear list written): ${genRate.toFixed(0)} codes/s`,
    );
    console.log(
      `            CPU per code: this process (generation, hashing, CSV) ${genNodeUs} µs, PostgreSQL ${genDbUs} µs; wall ${(1e6 / genRate).toFixed(2)} µs; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `  ratio ${ratio.toFixed(2)} to binary COPY, ${(genRate / csvRate).toFixed(2)} to CSV COPY (goal ≥ 0.40 of the binary one): ${ratio >= 0.4 ? 'MET' : 'NOT MET'}`,
    );
    if (values['skip-registration']) {
      await app.close();
      return;
    }

    // The batch people register from.
    const smallFile = join(dir, 'small.csv');
    const small = await app.codes.admin.createBatch(workspace.id, promotion.id, { count: BATCH }, 'bench');
    const out = createWriteStream(smallFile);
    await app.codes.admin.generateBatch(workspace.id, small.id, out, 'txt');
    await new Promise((resolve) => out.end(resolve));
    await app.close();
    const codes: string[] = [];
    for await (const line of createInterface({ input: createReadStream(smallFile) })) if (line) codes.push(line);
    // The generation left 11 million fresh rows in `codes`: autovacuum would visit them (seconds of CPU on both
    // cores) at a moment of its choosing, which is during the registrations. Done first, as docs/operations.md asks
    // of operators after a large batch, so the registrations measure registrations.
    const maintenance = new pg.Client({ connectionString: database.url });
    await maintenance.connect();
    const v0 = performance.now();
    await maintenance.query('vacuum (analyze) codes');
    const vacuumSeconds = (performance.now() - v0) / 1000;
    await maintenance.end();

    // ---- 2. registration
    const bare = await bareServer(database.url);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawn(
      process.execPath,
      [BIN, 'serve', '--processes', values.processes as string, ...(values['no-worker'] ? ['--no-worker'] : [])],
      {
        env: {
          ...process.env,
          ...env,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ...(process.env.BENCH_PROFILE_DIR
            ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` }
            : {}),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
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
    let next = 0;
    const body = () => {
      const i = next++;
      return JSON.stringify({ code: codes[i % codes.length], phone: `+7916${String(1_000_000 + i).padStart(7, '0')}` });
    };
    const run = (target: string, path: string, seconds: number, auth?: string) =>
      autocannon({
        url: target,
        duration: seconds,
        connections: CONNECTIONS,
        pipelining: 1,
        requests: [
          {
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
            setupRequest: (request) => ({ ...request, body: body() }),
          },
        ],
      });
    const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
    // Two alternating rounds of each (the machine is shared), after a warm-up of each.
    await run(bare.address, '/bare', 3);
    const bareNext = next;
    next = 0;
    await run(url, '/v1/codes/register', 3, auth); // warm-up: these codes are used now, like the rest
    const rounds: { baseline: autocannon.Result; rapport: autocannon.Result }[] = [];
    // CPU per request of each side (server process tree, PostgreSQL's processes): steadier than rates on a shared
    // machine.
    const pgPid = await postmasterPid(database.url);
    const cpu = { bare: 0, bareDb: 0, rapport: 0, rapportDb: 0 };
    const measured = async <T>(pid: number, key: 'bare' | 'rapport', work: () => Promise<T>) => {
      const s0 = treeCpuMs(pid);
      const d0 = pgPid ? treeCpuMs(pgPid) : 0;
      const result = await work();
      cpu[key] += treeCpuMs(pid) - s0;
      cpu[`${key}Db`] += pgPid ? treeCpuMs(pgPid) - d0 : 0;
      return result;
    };
    for (let round = 0; round < 2; round++) {
      const codesNext = next;
      next = bareNext + round * 1_000_000;
      const baseline = await measured(bare.proc.pid as number, 'bare', () => run(bare.address, '/bare', SECONDS / 2));
      next = codesNext;
      const rapport = await measured(server.pid as number, 'rapport', () =>
        run(url, '/v1/codes/register', SECONDS / 2, auth),
      );
      rounds.push({ baseline, rapport });
    }
    bare.proc.kill('SIGTERM');
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));

    const total = (r: autocannon.Result[]) => r.reduce((n, x) => n + x.requests.total, 0);
    const worst = (r: autocannon.Result[], f: (x: autocannon.Result) => number) => Math.max(...r.map(f));
    const baselines = rounds.map((r) => r.baseline);
    const rapports = rounds.map((r) => r.rapport);
    const regRate = total(rapports) / SECONDS;
    const rapport = {
      non2xx: rapports.reduce((n, x) => n + x.non2xx, 0),
      requests: { total: total(rapports) },
      latency: { p50: worst(rapports, (x) => x.latency.p50), p99: worst(rapports, (x) => x.latency.p99) },
    };
    const baseline = {
      requests: { total: total(baselines) },
      latency: { p99: worst(baselines, (x) => x.latency.p99) },
    };
    console.log(
      `bench/codes (PostgreSQL; registrations against ${BATCH.toLocaleString('en')} codes; \`vacuum (analyze) codes\` after the generation took ${vacuumSeconds.toFixed(1)} s)`,
    );
    console.log(
      `  baseline  bare Fastify POST, one INSERT … ON CONFLICT DO NOTHING through pg, ${CONNECTIONS} connections: ${(baseline.requests.total / SECONDS).toFixed(0)} req/s, p99 ${baseline.latency.p99} ms (2 rounds alternating with Rapport's)`,
    );
    console.log(
      `  rapport   POST /v1/codes/register, ${CONNECTIONS} connections, distinct phones, ${values['no-worker'] ? 'serve --no-worker' : 'serve (API + worker)'}${values.processes === '1' ? '' : ` in ${values.processes} processes`}: ${regRate.toFixed(0)} registrations/s, p50 ${rapport.latency.p50} ms, p99 ${rapport.latency.p99} ms (the worse of 2 rounds), non-2xx ${rapport.non2xx} of ${rapport.requests.total}`,
    );
    const per = (ms: number, n: number) => `${((ms * 1000) / Math.max(1, n)).toFixed(0)} µs`;
    console.log(
      `  CPU per request: bare server ${per(cpu.bare, baseline.requests.total)} + PostgreSQL ${per(cpu.bareDb, baseline.requests.total)}; rapport server ${per(cpu.rapport, rapport.requests.total)} + PostgreSQL ${per(cpu.rapportDb, rapport.requests.total)}${pgPid ? '' : ' (PostgreSQL not on this machine: not measured)'}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `  ratio ${(regRate / (baseline.requests.total / SECONDS)).toFixed(2)}; goal ≥ 3,000/s and p99 < 50 ms: ${regRate >= 3000 && rapport.latency.p99 < 50 && rapport.non2xx === 0 ? 'MET' : 'NOT MET'}`,
    );
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await database.dispose();
  }
}
