import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from './app.ts';
import { loadConfig } from './platform/config.ts';
import { openDatabase } from './platform/db.ts';
import { WEB_DIST } from './platform/http/server.ts';
import { migrateToLatest } from './platform/migrate.ts';

const HELP = `rapport — open-source e-CRM

Usage: rapport <command> [options]

Commands:
  serve [--no-worker]   HTTP API, console and (unless --no-worker) background workers
  worker                background workers only
  migrate               apply database migrations and exit
  help                  this text

Configuration comes from the environment; see README.md.`;

async function main(argv: string[]) {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'worker':
      return runRoles({ api: false, worker: true });
    case 'migrate':
      return migrate();
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    default:
      console.error(`Unknown command "${command}".\n\n${HELP}`);
      process.exitCode = 2;
  }
}

async function serve(args: string[]) {
  const { values } = parseArgs({ args, options: { 'no-worker': { type: 'boolean', default: false } } });
  await ensureConsoleBuilt();
  return runRoles({ api: true, worker: !values['no-worker'] });
}

/** `npm install` builds the console; this covers a checkout where that step was skipped. */
async function ensureConsoleBuilt() {
  if (existsSync(join(WEB_DIST, 'index.html'))) return;
  console.log('Building the console (first start)…');
  try {
    const { build } = await import('vite');
    await build({ configFile: join(WEB_DIST, '..', 'vite.config.ts'), logLevel: 'warn' });
  } catch (error) {
    console.error(`Could not build the console (${(error as Error).message}); the API still runs.`);
  }
}

async function runRoles(roles: { api: boolean; worker: boolean }) {
  const config = loadConfig();
  const app = await createApp(config, roles);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      app.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (error) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  if (app.server) {
    const address = await app.server.listen({ port: config.port, host: config.host });
    const url =
      config.publicUrl ?? address.replace('://0.0.0.0', '://localhost').replace('://127.0.0.1', '://localhost');
    printWelcome(url, app.database.kind, app.firstStart);
  } else {
    app.logger.info({ database: app.database.kind }, 'worker started');
  }
}

function printWelcome(url: string, database: string, first: Awaited<ReturnType<typeof createApp>>['firstStart']) {
  const lines = [
    `Rapport is running on ${database === 'pglite' ? 'the embedded database' : 'PostgreSQL'}.`,
    `  Console:  ${url}/`,
    `  API docs: ${url}/api/docs`,
  ];
  if (first.createdWorkspace && first.adminEmail) {
    lines.push(`  Sign in:  ${first.adminEmail}`);
    lines.push(
      first.generatedPassword
        ? `  Password: ${first.generatedPassword}   (shown once; change it after signing in)`
        : '  Password: the one in RAPPORT_ADMIN_PASSWORD',
    );
  }
  // Deliberately on stdout rather than in the JSON log: the first password must not end up in log storage.
  console.log(`\n${lines.join('\n')}\n`);
}

async function migrate() {
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const { applied } = await migrateToLatest(database.db);
    console.log(
      applied.length ? `Applied ${applied.length} migrations:\n  ${applied.join('\n  ')}` : 'Database is up to date.',
    );
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
