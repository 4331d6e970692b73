// bench/http-baseline: the cost of Rapport's platform (auth, validation, serialisation, headers, metrics, logs).
// One authenticated management read by id (GET /api/v1/branches/:id with a secret key) against a bare Fastify
// route that runs the same SELECT through `pg` with no auth, on the same real PostgreSQL, in one run.
//
//   node bench/http-baseline.ts [--seconds 10] [--connections 32]
//
// Uses DATABASE_URL when set (a fresh database is created on that server), otherwise starts a throwaway cluster.
// Each server runs in its own process; autocannon drives them one after the other from this process.
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { randomToken } from '../src/platform/ids.ts';
import { benchDatabase } from './support.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    url: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
  },
});

const SELECT = 'select * from branches where workspace_id = $1 and id = $2';

if (values.role === 'rapport') await serveRapport(values.url as string);
else if (values.role === 'bare') await serveBare(values.url as string);
else await main();
process.on('SIGINT', () => process.exit(0));

async function serveRapport(databaseUrl: string) {
  const config = loadConfig(process.env, {
    databaseUrl,
    port: 0,
    logLevel: (process.env.BENCH_LOG as 'info') ?? 'info',
    authCacheSeconds: 5,
  });
  const app = await createApp(config, { api: true, worker: false });
  const address = await app.server?.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
}

async function serveBare(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const app = Fastify({ logger: false });
  app.get<{ Params: { ws: string; id: string } }>('/bare/:ws/:id', async (request) => {
    const { rows } = await pool.query(SELECT, [request.params.ws, request.params.id]);
    return rows[0];
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
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

async function load(url: string, headers: Record<string, string>, seconds: number, connections: number) {
  const result = await autocannon({ url, headers, duration: seconds, connections, pipelining: 1 });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

async function main() {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  const database = await benchDatabase();
  const databaseUrl = database.url;

  // Seed through the real API: a workspace's owner key and a branch to read.
  const ownerKey = `sk_${randomToken(40)}`;
  const seed = await createApp(loadConfig(process.env, { databaseUrl, logLevel: 'silent', secretKey: ownerKey }), {
    api: true,
    worker: false,
  });
  const bearer = { authorization: `Bearer ${ownerKey}` };
  for (let i = 0; i < 200; i++) {
    await seed.server?.inject({
      method: 'POST',
      url: '/api/v1/branches',
      headers: bearer,
      payload: { name: `Store ${i}`, code: `S${i}` },
    });
  }
  const branch = (
    await seed.server?.inject({ method: 'GET', url: '/api/v1/branches?limit=200', headers: bearer })
  )?.json().items[100];
  const workspaceId = (await seed.server?.inject({ method: 'GET', url: '/api/v1/workspace', headers: bearer }))?.json()
    .id;
  await seed.close();

  const rapport = await child('rapport', databaseUrl);
  const bare = await child('bare', databaseUrl);
  const rapportUrl = `${rapport.address}/api/v1/branches/${branch.id}`;
  const bareUrl = `${bare.address}/bare/${workspaceId}/${branch.id}`;
  // Warm both (JIT, pools, caches), then alternate so that drift of a noisy machine hits both alike.
  await load(rapportUrl, bearer, 3, connections);
  await load(bareUrl, {}, 3, connections);
  const r: { rps: number; p99: number }[] = [];
  const b: { rps: number; p99: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    b.push(await load(bareUrl, {}, seconds, connections));
    r.push(await load(rapportUrl, bearer, seconds, connections));
  }
  const avg = (xs: { rps: number }[]) => xs.reduce((s, x) => s + x.rps, 0) / xs.length;
  const maxP99 = (xs: { p99: number }[]) => Math.max(...xs.map((x) => x.p99));
  const ratio = avg(r) / avg(b);
  rapport.proc.kill('SIGTERM');
  bare.proc.kill('SIGTERM');
  await new Promise((res) => setTimeout(res, 1500));
  await database.dispose();

  console.log(`bench/http-baseline  (${connections} connections, ${rounds}×${seconds}s each, PostgreSQL)`);
  console.log(`  baseline  bare Fastify + pg SELECT, no auth : ${avg(b).toFixed(0)} req/s  p99 ${maxP99(b)} ms`);
  console.log(`  rapport   GET /api/v1/branches/:id (sk_ key) : ${avg(r).toFixed(0)} req/s  p99 ${maxP99(r)} ms`);
  console.log(`  ratio rapport/baseline: ${ratio.toFixed(2)}  (goal ≥ 0.70)  ${ratio >= 0.7 ? 'MET' : 'NOT MET'}`);
}
