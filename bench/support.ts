// Shared by the benchmarks: a fresh database on DATABASE_URL's server, or on a throwaway cluster started here.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayPostgres } from '../scripts/throwaway-postgres.ts';
import { freshPostgresDatabase } from '../src/testing.ts';

export { freePort } from '../src/testing.ts';

export async function benchDatabase(): Promise<{ url: string; dispose(): Promise<void> }> {
  let base = process.env.DATABASE_URL;
  let stopCluster = () => {};
  if (!base) {
    const cluster = await startThrowawayPostgres(mkdtempSync(join(tmpdir(), 'rapport-bench-pg-')));
    base = cluster.url;
    stopCluster = cluster.stop;
  }
  const fresh = await freshPostgresDatabase(base);
  return {
    url: fresh.url,
    async dispose() {
      await fresh.drop();
      stopCluster();
    },
  };
}

/**
 * CPU time (user + system, ms) of a process and all its descendants, including children that exited and were
 * waited for. On a shared two-core machine throughput moves with whatever else runs; CPU per operation does much
 * less, so the benchmarks print it beside their rates.
 */
export function treeCpuMs(rootPid: number): number {
  const children = new Map<number, number[]>();
  const stats = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid … : comm may hold spaces and parentheses, so split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    stats.set(pid, fields.map(Number));
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)?.push(pid);
  }
  const tick = 1000 / 100; // USER_HZ
  let ms = 0;
  const visit = (pid: number) => {
    const f = stats.get(pid);
    if (!f) return;
    // fields after ')': state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14); an exited child's time is
    // in its waiter's cutime/cstime only, so nothing is counted twice.
    ms += ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) * tick;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(rootPid);
  return ms;
}

/** The postmaster's pid of the server behind `url` (needs a superuser connection on this machine). */
export async function postmasterPid(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ setting: string }>(
      "select setting from pg_settings where name = 'data_directory'",
    );
    const dir = rows[0]?.setting;
    if (!dir) return null;
    return Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

/**
 * With BENCH_PERF_DIR set, records the whole machine with `perf record -a -g` while `work` runs (one file per
 * label: `perf report -i <dir>/<label>.data --comm postgres` shows where PostgreSQL's CPU went in that phase only).
 */
export async function perfAround<T>(label: string, work: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PERF_DIR;
  if (!dir) return work();
  const perf = spawn('perf', ['record', '-a', '-g', '-F', '499', '-o', `${dir}/${label}.data`], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    return await work();
  } finally {
    const exited = new Promise((r) => perf.once('exit', r));
    perf.kill('SIGINT');
    await exited;
  }
}
