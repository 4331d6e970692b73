// bench/import: `rapport import events` of a CSV file against a raw COPY of the same file into a plain table, in
// one run, on PostgreSQL. Goal: the import at no less than 25% of the COPY rate. The import takes the bulk path
// (events.bulk.ts); the CPU it used per row and the machine's load are printed too, since on a shared machine they
// say how much of the time was the import's own.
//
//   node bench/import.ts [--rows 1000000] [--people 50000] [--batch 4000] [--path bulk|ingest]
//
// --batch defaults to the command line's own default (DEFAULT_BATCH).
//
// --path ingest measures the one-by-one path (every batch through ingestion, as imports ran before the bulk path)
// for comparison in the same conditions.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createApp } from '../src/app.ts';
import { DEFAULT_BATCH, type ImportOptions, importFile } from '../src/modules/events/events.import.ts';
import { loadConfig } from '../src/platform/config.ts';
import { benchDatabase, postmasterPid, treeCpuMs } from './support.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    people: { type: 'string', default: '50000' },
    batch: { type: 'string', default: String(DEFAULT_BATCH) },
    path: { type: 'string', default: 'bulk' },
  },
});
const ROWS = Number(values.rows);
const PEOPLE = Number(values.people);

async function writeCsv(file: string) {
  const out = createWriteStream(file);
  out.write('messageId,userId,event,timestamp,total,currency,sku,store\n');
  for (let i = 0; i < ROWS; i++) {
    const line = `imp-${i},customer-${i % PEOPLE},Order Completed,2026-0${1 + (i % 9)}-1${i % 10}T10:00:00Z,${100 + (i % 900)},RUB,SKU-${i % 300},store-${i % 40}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/** The same rows as the events Rapport stores from them, for the second baseline. */
async function writeEventRows(file: string) {
  const out = createWriteStream(file);
  const profiles = Array.from({ length: PEOPLE }, () => crypto.randomUUID());
  for (let i = 0; i < ROWS; i++) {
    const ts = `2026-0${1 + (i % 9)}-1${i % 10}T10:00:00Z`;
    const properties = `{""total"": ${100 + (i % 900)}, ""currency"": ""RUB"", ""sku"": ""SKU-${i % 300}"", ""store"": ""store-${i % 40}""}`;
    const line = `${crypto.randomUUID()},imp-${i},${profiles[i % PEOPLE]},track,Order Completed,import,${ts},${ts},customer-${i % PEOPLE},,"${properties}","{}","{""channel"": ""import""}"\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

async function copyRate(client: pg.Client, table: string, file: string, header: boolean) {
  const t0 = performance.now();
  await pipeline(
    createReadStream(file),
    client.query(copyFrom(`copy ${table} from stdin with (format csv, header ${header})`)),
  );
  return ROWS / ((performance.now() - t0) / 1000);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-import-'));
  const file = join(dir, 'orders.csv');
  await writeCsv(file);
  const database = await benchDatabase();
  const u = new URL(database.url);

  // Baselines, both raw COPY into plain tables without indexes or constraints: (1) the file itself, with its own
  // columns; (2) the same rows as the events Rapport stores from them (ids, times, JSON properties).
  const eventsFile = join(dir, 'events.csv');
  await writeEventRows(eventsFile);
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  await client.query(
    'create table copy_file (message_id text, user_id text, event text, ts timestamptz, total int, currency text, sku text, store text)',
  );
  await client.query(`create table copy_events (id uuid, message_id text, profile_id uuid, type text, name text, channel text,
    occurred_at timestamptz, received_at timestamptz, user_id text, anonymous_id text, properties jsonb, traits jsonb, context jsonb)`);
  const fileCopyRate = await copyRate(
    client,
    'copy_file (message_id, user_id, event, ts, total, currency, sku, store)',
    file,
    true,
  );
  await client.query('truncate copy_file');
  const eventsCopyRate = await copyRate(client, 'copy_events', eventsFile, false);
  await client.query('drop table copy_file, copy_events');
  await client.end();

  const app = await createApp(
    loadConfig(process.env, { databaseUrl: u.toString(), logLevel: 'warn', adminPassword: 'bench password 1' }),
    {
      api: false,
      worker: false,
    },
  );
  const workspace = await app.org.findWorkspace();
  if (!workspace) throw new Error('no workspace');
  let lastReport = 0;
  const loadBefore = loadavg()[0] as number;
  const pgPid = await postmasterPid(u.toString());
  const pgCpu0 = pgPid ? treeCpuMs(pgPid) : 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const options: ImportOptions = {
    kind: 'events',
    file,
    batchSize: Number(values.batch),
    resume: false,
    onProgress: (p) => {
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        process.stderr.write(`  … ${p.rows} rows (${((p.bytes / p.totalBytes) * 100).toFixed(0)}%)\n`);
      }
    },
  };
  const summary =
    values.path === 'ingest'
      ? await importFile((messages) => app.events.ingest(workspace.id, messages), options)
      : await app.events.importFile(workspace.id, options);
  const importRate = summary.accepted / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const pgCpuMs = pgPid ? treeCpuMs(pgPid) - pgCpu0 : null;
  const loadAfter = loadavg()[0] as number;
  await app.close();
  await database.dispose();
  const size = statSync(file).size;
  rmSync(dir, { recursive: true, force: true });

  console.log(`bench/import (${ROWS} event rows of ${PEOPLE} people, ${(size / 1e6).toFixed(0)} MB CSV, PostgreSQL)`);
  console.log(`  baseline  raw COPY of the file into a plain table: ${fileCopyRate.toFixed(0)} rows/s`);
  console.log(
    `  baseline  raw COPY of the same rows as stored events into a plain table: ${eventsCopyRate.toFixed(0)} rows/s`,
  );
  console.log(
    `  rapport   rapport import events (${values.path === 'ingest' ? 'one by one through ingestion' : 'bulk path'}, batches of ${values.batch}): ${importRate.toFixed(0)} rows/s, ${summary.rejected} rejected`,
  );
  console.log(
    `            CPU a row: this process ${((cpu.user + cpu.system) / ROWS).toFixed(1)} µs${pgCpuMs === null ? '' : ` + PostgreSQL ${((pgCpuMs * 1000) / ROWS).toFixed(1)} µs`}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (${availableParallelism()} cores: above that, others competed)`,
  );
  console.log(`  ratio to the file's COPY ${(importRate / fileCopyRate).toFixed(2)}`);
  console.log(
    `  ratio to the stored rows' COPY ${(importRate / eventsCopyRate).toFixed(2)} (goal ≥ 0.25): ${importRate / eventsCopyRate >= 0.25 ? 'MET' : 'NOT MET'}`,
  );
}

await main();
