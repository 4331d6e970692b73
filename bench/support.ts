// Shared by the benchmarks: a fresh database on DATABASE_URL's server, or on a throwaway cluster started here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
