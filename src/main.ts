import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from './app.ts';
import { clusterChild, reportListening, runPrimary } from './cluster.ts';
import { DEFAULT_BATCH, MAX_BATCH } from './modules/events/events.import.ts';
import { loadConfig } from './platform/config.ts';
import { openDatabase } from './platform/db.ts';
import { WEB_DIST } from './platform/http/server.ts';
import { migrateToLatest } from './platform/migrate.ts';

const HELP = `rapport — open-source e-CRM

Usage: rapport <command> [options]

Commands:
  serve [--no-worker] [--processes N]
                        HTTP API, console and (unless --no-worker) background workers; N processes share the
                        port (PostgreSQL only; default RAPPORT_PROCESSES or 1)
  worker                background workers only
  migrate               apply database migrations and exit
  import events|profiles <file> [--workspace <id|slug>] [--format csv|ndjson]
                        [--map 'Header=field,…'] [--batch 4000] [--rejects <file>] [--no-resume]
                        stream a CSV or NDJSON file in through identity resolution; idempotent, resumable
  demo [--customers 20000] [--workspace <id|slug>]
                        fill a workspace with a generated demo brand (customers, 18 months of activity)
  codes generate --promotion <key|id> --count <n> --out <file> [--format csv|txt] [--label <text>]
                 [--workspace <id|slug>]
                        generate a batch of promo codes, writing the clear list (the only copy) to the file
  codes import --promotion <key|id> <file> [--label <text>] [--workspace <id|slug>]
                        import codes printed elsewhere (code in the first column); stored as hashes
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
    case 'import':
      return importCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'codes':
      return codesCommand(rest);
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
  const { values } = parseArgs({
    args,
    options: {
      'no-worker': { type: 'boolean', default: false },
      processes: { type: 'string' },
      'cluster-child': { type: 'string' },
    },
  });
  const child = clusterChild(values['cluster-child']);
  if (child) return runRoles({ api: true, worker: child.worker }, child.index);
  const config = loadConfig();
  const processes = values.processes === undefined ? config.processes : Number(values.processes);
  if (!Number.isInteger(processes) || processes < 1 || processes > 64) {
    console.error('--processes must be a whole number from 1 to 64.');
    process.exitCode = 2;
    return;
  }
  await ensureConsoleBuilt();
  if (processes === 1) return runRoles({ api: true, worker: !values['no-worker'] });
  return runPrimary(config, { processes, worker: !values['no-worker'] }, async () => {
    // Migrations and the first-start bootstrap once, before the processes start.
    const app = await createApp(config, { api: false, worker: false });
    const { firstStart } = app;
    const kind = app.database.kind;
    await app.close();
    return (address) => printWelcome(publicUrl(config, address), kind, firstStart, processes);
  });
}

function publicUrl(config: ReturnType<typeof loadConfig>, address: string) {
  return config.publicUrl ?? address.replace('://0.0.0.0', '://localhost').replace('://127.0.0.1', '://localhost');
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

/** Runs this process's roles; `clusterIndex` is set in a process forked by `serve --processes`. */
async function runRoles(roles: { api: boolean; worker: boolean }, clusterIndex?: number) {
  const config = loadConfig();
  const app = await createApp(config, roles);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // In a cluster both the primary and a process-group kill may signal: the primary escalates when it must.
      if (clusterIndex !== undefined) return;
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
  // In a cluster the primary turns a terminal's Ctrl-C into one SIGTERM per process (drain, then exit).
  process.on('SIGINT', () => (clusterIndex === undefined ? stop('SIGINT') : undefined));
  process.on('SIGTERM', () => stop('SIGTERM'));

  if (app.server) {
    const address = await app.server.listen({ port: config.port, host: config.host });
    if (clusterIndex !== undefined) reportListening(address);
    else printWelcome(publicUrl(config, address), app.database.kind, app.firstStart);
  } else {
    app.logger.info({ database: app.database.kind }, 'worker started');
  }
}

function printWelcome(
  url: string,
  database: string,
  first: Awaited<ReturnType<typeof createApp>>['firstStart'],
  processes = 1,
) {
  const lines = [
    `Rapport is running on ${database === 'pglite' ? 'the embedded database' : 'PostgreSQL'}` +
      (processes > 1 ? ` in ${processes} processes.` : '.'),
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

async function importCommand(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      workspace: { type: 'string' },
      format: { type: 'string' },
      map: { type: 'string' },
      batch: { type: 'string', default: String(DEFAULT_BATCH) },
      rejects: { type: 'string' },
      'no-resume': { type: 'boolean', default: false },
    },
  });
  const [kind, file] = positionals;
  if ((kind !== 'events' && kind !== 'profiles') || !file) {
    console.error(`Usage: rapport import events|profiles <file> [options]\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (values.format && values.format !== 'csv' && values.format !== 'ndjson') {
    console.error('--format must be csv or ndjson.');
    process.exitCode = 2;
    return;
  }
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    console.error(`--batch must be a whole number of rows from 1 to ${MAX_BATCH}; "${values.batch}" is not.`);
    process.exitCode = 2;
    return;
  }
  const mapping: Record<string, string> = {};
  for (const pair of (values.map ?? '').split(',').filter(Boolean)) {
    const [from, to] = pair.split('=');
    if (!from || !to) {
      console.error(`--map takes Header=field pairs separated by commas; "${pair}" is not one.`);
      process.exitCode = 2;
      return;
    }
    mapping[from.trim()] = to.trim();
  }
  const config = loadConfig(undefined, { logLevel: 'warn' });
  const app = await createApp(config, { api: false, worker: false });
  try {
    const workspace = await app.org.findWorkspace(values.workspace);
    if (!workspace) throw new Error(`No workspace ${values.workspace ?? ''} in this database.`);
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      {
        format: ' {bar} {percentage}% | {rows} rows, {accepted} accepted, {rejected} rejected | {eta_formatted} left',
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      Presets.shades_classic,
    );
    bar.start(100, 0, { rows: 0, accepted: 0, rejected: 0 });
    const summary = await app.events.importFile(workspace.id, {
      kind,
      file,
      format: values.format as 'csv' | 'ndjson' | undefined,
      batchSize,
      mapping,
      rejectsFile: values.rejects,
      resume: !values['no-resume'],
      onProgress: (p) => bar.update(Math.floor((p.bytes / Math.max(1, p.totalBytes)) * 100), p),
    });
    bar.stop();
    console.log(
      `Imported ${summary.accepted} of ${summary.rows} rows into "${workspace.name}"` +
        (summary.skippedByCheckpoint ? ` (${summary.skippedByCheckpoint} done by an earlier run)` : '') +
        (summary.rejected ? `; ${summary.rejected} rejected, see ${summary.rejectsFile}` : '.'),
    );
  } finally {
    await app.close();
  }
}

async function demoCommand(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { customers: { type: 'string', default: '20000' }, workspace: { type: 'string' } },
  });
  const customers = Number(values.customers);
  if (!Number.isInteger(customers) || customers < 1 || customers > 1_000_000) {
    console.error('--customers must be a whole number from 1 to 1,000,000.');
    process.exitCode = 2;
    return;
  }
  const app = await createApp(loadConfig(undefined, { logLevel: 'warn' }), { api: false, worker: false });
  try {
    const workspace = await app.org.findWorkspace(values.workspace);
    if (!workspace) throw new Error(`No workspace ${values.workspace ?? ''} in this database.`);
    const { generateDemo } = await import('./demo.ts');
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      { format: ' {bar} {value}/{total} customers | {eta_formatted} left', noTTYOutput: true, notTTYSchedule: 5000 },
      Presets.shades_classic,
    );
    bar.start(customers, 0);
    await generateDemo(app.events, workspace.id, { customers, onProgress: (done) => bar.update(done) });
    bar.stop();
    console.log(`Demo brand "Samovar" with ${customers} customers is in workspace "${workspace.name}".`);
  } finally {
    await app.close();
  }
}

// ---- rapport codes (the codes module, issue 5)

async function codesCommand(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      promotion: { type: 'string' },
      count: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      label: { type: 'string' },
      workspace: { type: 'string' },
    },
  });
  const [action, file] = positionals;
  const count = Number(values.count);
  const usage = (message: string) => {
    console.error(`${message}\n\n${HELP}`);
    process.exitCode = 2;
  };
  if (action !== 'generate' && action !== 'import') return usage('Usage: rapport codes generate|import …');
  if (!values.promotion) return usage('--promotion names the promotion (its key or id).');
  if (action === 'generate' && (!Number.isInteger(count) || count < 1 || count > 50_000_000))
    return usage('--count must be a whole number from 1 to 50,000,000.');
  if (action === 'generate' && !values.out) return usage('--out names the file for the clear codes.');
  if (action === 'generate' && values.format !== 'csv' && values.format !== 'txt')
    return usage('--format must be csv or txt.');
  if (action === 'import' && !file) return usage('Usage: rapport codes import --promotion <key|id> <file>');
  const { createReadStream, createWriteStream, existsSync: exists, unlinkSync } = await import('node:fs');
  if (action === 'generate' && exists(values.out as string))
    return usage(`${values.out} exists: the codes are written only once, to a new file.`);
  const app = await createApp(loadConfig(undefined, { logLevel: 'warn' }), { api: false, worker: false });
  try {
    const workspace = await app.org.findWorkspace(values.workspace);
    if (!workspace) throw new Error(`No workspace ${values.workspace ?? ''} in this database.`);
    const promotion = await app.codes.admin.findPromotion(workspace.id, values.promotion);
    const { SingleBar, Presets } = await import('cli-progress');
    if (action === 'import') {
      const bar = new SingleBar(
        { format: ' {value} lines read | {duration_formatted}', noTTYOutput: true, notTTYSchedule: 5000 },
        Presets.shades_classic,
      );
      bar.start(0, 0);
      const { batch, outcome } = await app.codes.admin.importBatch(
        workspace.id,
        promotion.id,
        createReadStream(file as string),
        values.label ?? null,
        (lines) => bar.update(lines),
      );
      bar.stop();
      console.log(
        `Imported ${outcome.imported} codes into promotion "${promotion.name}" (batch ${batch.id}); ` +
          `${outcome.duplicates} duplicates and ${outcome.rejected} unreadable lines left out.`,
      );
      return;
    }
    const batch = await app.codes.admin.createBatch(
      workspace.id,
      promotion.id,
      { count, label: values.label },
      'command line',
    );
    const odds = batch.expected_guessable ? Math.round(1 / batch.expected_guessable).toLocaleString('en') : '∞';
    console.log(
      `Batch ${batch.id}: ${count.toLocaleString('en')} codes of ${batch.length} characters for "${promotion.name}"; ` +
        `a bot using every attempt the limits allow over the promotion is expected to guess ${(batch.expected_guessable ?? 0).toPrecision(2)} codes (1 in ${odds}).`,
    );
    const out = createWriteStream(values.out as string, { flags: 'wx' });
    const bar = new SingleBar(
      {
        format: ' {bar} {percentage}% | {value}/{total} codes | {eta_formatted} left',
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      Presets.shades_classic,
    );
    bar.start(count, 0);
    try {
      await app.codes.admin.generateBatch(workspace.id, batch.id, out, values.format as 'csv' | 'txt', (done) =>
        bar.update(done),
      );
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      out.destroy();
      unlinkSync(values.out as string);
      throw error;
    } finally {
      bar.stop();
    }
    console.log(`Wrote ${count.toLocaleString('en')} codes to ${values.out}. Keep it safe: it is the only clear copy.`);
  } finally {
    await app.close();
  }
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
