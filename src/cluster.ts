import cluster, { type Worker } from 'node:cluster';
import type { Config } from './platform/config.ts';

/**
 * `rapport serve --processes N`: N server processes share one port through node:cluster (the primary accepts
 * connections and hands them round-robin to its workers). The design allows any number of stateless `serve`
 * processes against one PostgreSQL — every limit, counter, lock and job lives in the database — and on a machine
 * with more than one core this is how a single host uses them. The embedded database (PGlite) is one process, so
 * more than one needs DATABASE_URL.
 *
 * The primary prepares the database once (migrations, first-start bootstrap) before forking, prints the welcome,
 * restarts a process that dies (at most once a second), and on SIGINT/SIGTERM asks every process to drain and waits.
 * Background work (jobs) runs in the first process only, unless `--no-worker`.
 */

export interface ClusterChild {
  index: number;
  worker: boolean;
}

/**
 * In a process forked by the primary: which one it is and whether it runs the background work. The primary says so
 * on the child's command line (`--cluster-child <index>[:worker]`), which `serve` parses with its other options.
 */
export function clusterChild(flag: string | undefined): ClusterChild | null {
  if (cluster.isPrimary || flag === undefined) return null;
  const [index, role] = flag.split(':');
  return { index: Number(index), worker: role === 'worker' };
}

/** Tells the primary this process listens (the primary prints the welcome once all do). */
export function reportListening(address: string) {
  process.send?.({ rapport: 'listening', address });
}

export async function runPrimary(
  config: Config,
  options: { processes: number; worker: boolean },
  prepare: () => Promise<(address: string) => void>,
): Promise<void> {
  if (!config.databaseUrl) {
    console.error(
      `--processes ${options.processes} needs PostgreSQL (DATABASE_URL): the embedded database can be opened by one process only.`,
    );
    process.exitCode = 2;
    return;
  }
  const welcome = await prepare();
  let stopping = false;
  let listening = 0;
  let lastRestart = 0;
  const children = new Map<number, Worker>();

  const fork = (index: number) => {
    cluster.setupPrimary({
      args: [...process.argv.slice(2), '--cluster-child', `${index}${options.worker && index === 0 ? ':worker' : ''}`],
    });
    const child = cluster.fork();
    children.set(index, child);
    child.on('message', (message: { rapport?: string; address?: string }) => {
      if (message?.rapport !== 'listening') return;
      listening++;
      if (listening === options.processes) welcome(message.address as string);
    });
    child.on('exit', (code, signal) => {
      children.delete(index);
      if (stopping) {
        if (children.size === 0) process.exit(0);
        return;
      }
      console.error(`rapport: server process ${index + 1} exited (${signal ?? code}); starting it again`);
      const wait = Math.max(0, lastRestart + 1_000 - Date.now());
      lastRestart = Date.now() + wait;
      setTimeout(() => fork(index), wait);
    });
  };
  for (let i = 0; i < options.processes; i++) fork(i);

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const child of children.values()) child.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    if (children.size === 0) process.exit(0);
    for (const child of children.values()) child.process.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
