// bench/profile-read: a profile page's reads — GET /api/v1/profiles/:id and the first page of its timeline, fetched
// together as the console does — with 100,000 profiles and 2,000,000 events on PostgreSQL. Baseline in the same
// run: the same two pieces of data read with bare `pg` queries (no HTTP, no auth).
//
//   node bench/profile-read.ts [--profiles 100000] [--events-per-profile 20] [--seconds 15] [--concurrency 8]
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { randomToken } from '../src/platform/ids.ts';
import { benchDatabase, freePort, postmasterPid, treeCpuMs } from './support.ts';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100000' },
    'events-per-profile': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '8' },
  },
});
const PROFILES = Number(values.profiles);
const PER = Number(values['events-per-profile']);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const BIN = new URL('../bin/rapport.js', import.meta.url).pathname;

function p99(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.99)] ?? 0;
}
function p50(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.5)] ?? 0;
}

/** Where the CPU of a round went, per page: the server's process tree, PostgreSQL's, and this process's. */
let cpuSources: { server: () => number; postgres: () => number } = { server: () => 0, postgres: () => 0 };

async function run(read: (id: string) => Promise<void>, ids: string[], seconds: number, concurrency = CONCURRENCY) {
  const latencies: number[] = [];
  const cpu0 = { server: cpuSources.server(), postgres: cpuSources.postgres(), self: process.cpuUsage() };
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const id = ids[Math.floor(Math.random() * ids.length)] as string;
        const t0 = performance.now();
        await read(id);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const self = process.cpuUsage(cpu0.self);
  const perPage = (ms: number) => (ms * 1000) / latencies.length;
  return {
    p50: p50(latencies),
    p99: p99(latencies),
    rate: latencies.length / seconds,
    cpu: {
      server: perPage(cpuSources.server() - cpu0.server),
      postgres: perPage(cpuSources.postgres() - cpu0.postgres),
      client: (self.user + self.system) / latencies.length,
    },
  };
}

async function main() {
  const database = await benchDatabase();
  const databaseUrl = database.url;
  const secretKey = `sk_${randomToken(40)}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    RAPPORT_SECRET_KEY: secretKey,
    RAPPORT_ADMIN_PASSWORD: 'bench password 1',
    LOG_LEVEL: 'warn',
  };

  // Start once to migrate and bootstrap, then fill the tables directly (2,000,000 events through the API would
  // measure ingestion, not reads).
  let server: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--no-worker'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const waitHealthy = async () => {
    for (let i = 0; i < 300; i++) {
      if (
        await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('server did not start');
  };
  await waitHealthy();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const ws = (await db.query('select id from workspaces limit 1')).rows[0].id as string;
  const t0 = performance.now();
  await db.query(
    `insert into profiles (id, workspace_id, traits, trait_times, channels, first_seen_at, last_seen_at)
     select gen_random_uuid(), $1, jsonb_build_object('name', 'Customer ' || g, 'city', 'Moscow', 'tier', 'silver'),
            jsonb_build_object('name', '2026-01-01T00:00:00.000Z'), array['web','pos'], now() - interval '540 days', now()
     from generate_series(1, $2) g`,
    [ws, PROFILES],
  );
  await db.query(
    `insert into identities (workspace_id, kind, value, profile_id)
     select $1, k.kind, case k.kind when 'email' then 'c' || row_number() over () || '@example.test' else p.id::text end, p.id
     from profiles p cross join (values ('email'), ('user_id')) as k(kind) where p.workspace_id = $1`,
    [ws],
  );
  await db.query(
    `insert into events (id, workspace_id, message_id, profile_id, type, name, channel, occurred_at, received_at, user_id, properties)
     select gen_random_uuid(), $1, p.id::text || '-' || g, p.id,
            case when g % 5 = 0 then 'page' else 'track' end, case when g % 5 = 0 then 'Catalogue' else 'Order Completed' end,
            case when g % 3 = 0 then 'pos' else 'web' end,
            now() - (random() * interval '540 days'), now(), p.id::text, jsonb_build_object('total', (random() * 5000)::int, 'currency', 'RUB')
     from profiles p cross join generate_series(1, $2) g where p.workspace_id = $1`,
    [ws, PER],
  );
  await db.query('analyze');
  const fill = (performance.now() - t0) / 1000;
  const counts = (await db.query('select (select count(*) from profiles) as p, (select count(*) from events) as e'))
    .rows[0];
  const ids = (await db.query('select id from profiles where workspace_id = $1', [ws])).rows.map((r) => r.id as string);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  server = spawn(process.execPath, [BIN, 'serve', '--no-worker'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy();

  // node:http with kept-alive connections: fetch (undici) spent 400–700 µs of this process's CPU a page, on the
  // same two cores as the server it measures.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 * CONCURRENCY });
  const headers = { authorization: `Bearer ${secretKey}` };
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  const viaApi = async (id: string) => {
    const [a, b] = await Promise.all([get(`/api/v1/profiles/${id}`), get(`/api/v1/profiles/${id}/events?limit=50`)]);
    if (a !== 200 || b !== 200) throw new Error(`reads answered ${a}/${b}`);
  };
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const viaPg = async (id: string) => {
    await Promise.all([
      pool.query('select * from profiles where workspace_id = $1 and id = $2', [ws, id]),
      pool.query('select kind, value, created_at from identities where workspace_id = $1 and profile_id = $2', [
        ws,
        id,
      ]),
      pool.query(
        'select * from events where profile_id = $1 and workspace_id = $2 order by occurred_at desc, id desc limit 51',
        [id, ws],
      ),
    ]);
  };
  const postmaster = await postmasterPid(databaseUrl);
  const serverPid = server.pid as number;
  cpuSources = { server: () => treeCpuMs(serverPid), postgres: () => (postmaster ? treeCpuMs(postmaster) : 0) };
  await run(viaApi, ids, 3);
  await run(viaPg, ids, 3);
  const levels = [...new Set([1, 4, CONCURRENCY])];
  const results = [];
  for (const level of levels) {
    results.push({
      level,
      baseline: await run(viaPg, ids, SECONDS, level),
      api: await run(viaApi, ids, SECONDS, level),
    });
  }
  const { api } = results.at(-1) as (typeof results)[number];

  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await pool.end();
  await db.end();
  await database.dispose();

  console.log(
    `bench/profile-read (${counts.p} profiles, ${counts.e} events, filled in ${fill.toFixed(0)} s; ${SECONDS}s per level)`,
  );
  for (const r of results) {
    const line = (label: string, m: Awaited<ReturnType<typeof run>>) =>
      `    ${label}: p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, ${m.rate.toFixed(0)} pages/s; CPU a page: ` +
      `server ${m.cpu.server.toFixed(0)} + PostgreSQL ${m.cpu.postgres.toFixed(0)} + this process ${m.cpu.client.toFixed(0)} µs`;
    console.log(`  ${r.level} concurrent reader(s)`);
    console.log(line('baseline  same rows via bare pg (3 queries in parallel)', r.baseline));
    console.log(line('rapport   GET profile + first timeline page (in parallel)', r.api));
  }
  console.log(`  goal p99 < 20 ms at ${CONCURRENCY} concurrent readers: ${api.p99 < 20 ? 'MET' : 'NOT MET'}`);
}

await main();
