import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import type { Db } from './db.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every module keeps its migrations in `src/modules/<name>/migrations/`, named `<YYYYMMDDHHMM>_<what>.ts`;
 * the platform's own live in `src/platform/migrations/`. They run in timestamp order across modules.
 * A migration is frozen in time: it uses Kysely<any> and never imports application code.
 */
export function migrationFiles(): { name: string; path: string }[] {
  const dirs = [join(SRC, 'platform', 'migrations')];
  for (const mod of readdirSync(join(SRC, 'modules'), { withFileTypes: true })) {
    if (mod.isDirectory()) dirs.push(join(SRC, 'modules', mod.name, 'migrations'));
  }
  const files: { name: string; path: string }[] = [];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    const owner = dir.split('/').at(-2);
    for (const file of entries) {
      if (!/^\d{12}_[a-z0-9_]+\.ts$/.test(file)) continue;
      const [stamp, ...rest] = file.replace(/\.ts$/, '').split('_');
      files.push({ name: `${stamp}_${owner}_${rest.join('_')}`, path: join(dir, file) });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

class ModuleMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const file of migrationFiles()) {
      out[file.name] = (await import(pathToFileURL(file.path).href)) as Migration;
    }
    return out;
  }
}

export interface MigrationOutcome {
  applied: string[];
}

export async function migrateToLatest(db: Db): Promise<MigrationOutcome> {
  const migrator = new Migrator({ db, provider: new ModuleMigrationProvider(), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, {
      cause: error,
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
