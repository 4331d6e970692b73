// bench/consent: the send check (`consent.mayContact`) in-process, with 1,000,000 consent entries, against a bare
// primary-key read of the same status row through `pg` in the same run. Goal: p99 under 1 ms.
//
//   node bench/consent.ts [--entries 1000000] [--checks 20000] [--backend postgres|pglite]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { benchDatabase } from './support.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    checks: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'postgres' },
  },
});
const ENTRIES = Number(values.entries);
const CHECKS = Number(values.checks);
const PER_PROFILE = 4; // e-mail and SMS × marketing and profiling
const PROFILES = Math.ceil(ENTRIES / PER_PROFILE);

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number;
}
const stats = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return `p50 ${(percentile(s, 50) * 1000).toFixed(0)} µs, p99 ${(percentile(s, 99) * 1000).toFixed(0)} µs`;
};

async function main() {
  const postgres = values.backend === 'postgres';
  const database = postgres ? await benchDatabase() : null;
  const app = await createApp(
    loadConfig(process.env, {
      databaseUrl: database?.url,
      dataDir: postgres ? undefined : 'memory://',
      logLevel: 'warn',
      adminPassword: 'bench password 1',
    }),
    { api: false, worker: false },
  );
  const workspace = await app.org.findWorkspace();
  if (!workspace) throw new Error('no workspace');
  const ws = workspace.id;
  const db = app.database.db;
  const { sql } = await import('kysely');
  // Defaults (purposes) exist once the module has been used.
  await app.consent.mayContact(ws, '00000000-0000-0000-0000-000000000000', 'email', 'marketing');

  const t0 = performance.now();
  await sql`create temporary table bench_profiles as select gen_random_uuid() as id, g from generate_series(1, ${PROFILES}) g`.execute(
    db,
  );
  await sql`insert into consent_entries (id, workspace_id, profile_id, channel, purpose, address, action, source, occurred_at)
    select gen_random_uuid(), ${ws}, p.id, c.channel, u.purpose,
      case when c.channel = 'email' then 'p' || p.g || '@example.test' else '+7916' || lpad(p.g::text, 7, '0') end,
      case when (p.g + length(u.purpose)) % 3 = 0 then 'revoke' else 'grant' end, 'import',
      now() - (p.g % 500) * interval '1 day'
    from bench_profiles p, (values ('email'), ('sms')) c(channel), (values ('marketing'), ('profiling')) u(purpose)`.execute(
    db,
  );
  await sql`insert into consent_status (workspace_id, profile_id, channel, purpose, status, address, entry_id, since)
    select workspace_id, profile_id, channel, purpose, case action when 'grant' then 'granted' else 'revoked' end,
      address, id, occurred_at from consent_entries where workspace_id = ${ws}`.execute(db);
  await sql`analyze`.execute(db);
  const fill = (performance.now() - t0) / 1000;
  const ids = (
    await sql<{ id: string }>`select id from bench_profiles order by random() limit 5000`.execute(db)
  ).rows.map((r) => r.id);
  const count = (await sql<{ n: number }>`select count(*)::int as n from consent_entries`.execute(db)).rows[0]?.n;

  const baselineClient = postgres ? new pg.Client({ connectionString: database?.url }) : null;
  await baselineClient?.connect();
  const baselineRead = async (id: string) => {
    if (baselineClient) {
      await baselineClient.query(
        'select status, address from consent_status where workspace_id = $1 and profile_id = $2 and channel = $3 and purpose = $4',
        [ws, id, 'email', 'marketing'],
      );
    } else {
      await sql`select status, address from consent_status where workspace_id = ${ws} and profile_id = ${id}
        and channel = 'email' and purpose = 'marketing'`.execute(db);
    }
  };
  const measure = async (f: (id: string) => Promise<unknown>) => {
    for (let i = 0; i < 500; i++) await f(ids[i % ids.length] as string); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < CHECKS; i++) {
      const id = ids[i % ids.length] as string;
      const s = performance.now();
      await f(id);
      samples.push(performance.now() - s);
    }
    return samples;
  };
  let allowed = 0;
  const check = async (id: string) => {
    const d = await app.consent.mayContact(ws, id, 'email', 'marketing');
    if (d.allowed) allowed++;
  };
  const base1 = await measure(baselineRead);
  const rapport1 = await measure(check);
  const base2 = await measure(baselineRead);
  const rapport2 = await measure(check);
  await baselineClient?.end();
  await app.close();
  await database?.dispose();

  const rapport = [...rapport1, ...rapport2];
  const p99 = percentile(
    [...rapport].sort((a, b) => a - b),
    99,
  );
  console.log(
    `bench/consent (${values.backend}, ${count} consent entries of ${PROFILES} profiles, filled in ${fill.toFixed(0)} s)`,
  );
  console.log(`  baseline  bare primary-key read of the status row: ${stats([...base1, ...base2])}`);
  console.log(
    `  rapport   consent.mayContact (purpose kind + status, one statement): ${stats(rapport)} (${allowed} of ${rapport.length} allowed)`,
  );
  console.log(`  goal p99 < 1 ms: ${p99 < 1 ? 'MET' : 'NOT MET'}`);
}

await main();
