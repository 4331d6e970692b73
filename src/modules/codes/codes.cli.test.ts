import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createApp } from '../../app.ts';
import { isWellFormed, normalizeCode } from '../../platform/codes/alphabet.ts';
import { childEnvironment, loadConfig } from '../../platform/config.ts';

const run = promisify(execFile);
const BIN = new URL('../../../bin/rapport.js', import.meta.url).pathname;

// `rapport codes generate` and `rapport codes import` from the terminal, on the embedded database.
describe('rapport codes', () => {
  it('generates a batch into a new file (once), and imports codes printed elsewhere', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rapport-codes-cli-'));
    const env = childEnvironment({
      RAPPORT_DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'error',
      RAPPORT_ADMIN_PASSWORD: 'cli test pw',
    });
    try {
      const app = await createApp(loadConfig(env, {}), { api: false, worker: false });
      const workspace = await app.org.findWorkspace();
      await app.codes.admin.createPromotion(workspace?.id as string, {
        key: 'winter',
        name: 'Winter tea',
        startsAt: '2026-01-01T00:00',
        endsAt: '2026-03-01T00:00',
        reward: { kind: 'draw_entry', draw: 'Sochi trip', entries: 1 },
        guessesPerMinute: 300,
      });
      await app.close();

      const out = join(dir, 'winter.csv');
      const generated = await run(
        process.execPath,
        [BIN, 'codes', 'generate', '--promotion', 'winter', '--count', '5000', '--out', out],
        {
          env,
        },
      );
      assert.match(generated.stdout, /5,000 codes of \d+ characters/);
      assert.match(generated.stdout, /1 in [\d,]+/);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'code');
      const codes = lines.slice(1);
      assert.equal(codes.length, 5000);
      assert.equal(new Set(codes).size, 5000);
      for (const c of codes) assert.ok(isWellFormed(normalizeCode(c)), c);

      // The clear list is written once: never over an existing file.
      await assert.rejects(
        run(process.execPath, [BIN, 'codes', 'generate', '--promotion', 'winter', '--count', '10', '--out', out], {
          env,
        }),
      );

      const printed = join(dir, 'printed.csv');
      writeFileSync(printed, 'Code;Batch\nPRINT-0001;A\nPRINT-0002;A\nPRINT-0002;A\n');
      const imported = await run(process.execPath, [BIN, 'codes', 'import', '--promotion', 'winter', printed], { env });
      assert.match(imported.stdout, /Imported 2 codes .* 1 duplicates and 0 unreadable lines/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
