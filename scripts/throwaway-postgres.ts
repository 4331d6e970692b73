// A throwaway PostgreSQL cluster in a temporary folder on a free port, for CI and benchmarks.
//   node scripts/throwaway-postgres.ts start <dir>   → prints the connection URL
//   node scripts/throwaway-postgres.ts stop <dir>
// The server binaries refuse to run as root, so as root they run as the `postgres` user.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

function bin(name: string): string {
  for (const dir of BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  return name; // on PATH
}

function asServerUser(command: string, args: string[]) {
  const root = process.getuid?.() === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startThrowawayPostgres(dir: string): Promise<{ url: string; stop(): void }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'data');
  mkdirSync(data);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const port = await freePort();
  asServerUser(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8']);
  // Tuned for a throwaway test server: durability traded for speed, never for anything that keeps data.
  const settings = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'max_connections = 200',
    'shared_buffers = 256MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
  ];
  writeFileSync(join(data, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
  asServerUser(bin('pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  writeFileSync(join(dir, 'url'), url);
  return { url, stop: () => stopThrowawayPostgres(dir) };
}

export function stopThrowawayPostgres(dir: string) {
  const data = join(dir, 'data');
  if (existsSync(join(data, 'postmaster.pid'))) {
    asServerUser(bin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  }
  rmSync(dir, { recursive: true, force: true });
}

if (import.meta.main) {
  const [command, dir] = process.argv.slice(2);
  if (!dir || (command !== 'start' && command !== 'stop')) {
    console.error('usage: node scripts/throwaway-postgres.ts start|stop <dir>');
    process.exit(2);
  }
  if (command === 'start') {
    const { url } = await startThrowawayPostgres(dir);
    console.log(url);
  } else {
    stopThrowawayPostgres(dir);
  }
}
