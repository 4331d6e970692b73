import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCharacter } from '../../platform/codes/alphabet.ts';
import { testDatabaseUrl } from '../../platform/config.ts';
import { randomToken } from '../../platform/ids.ts';
import { freePort, processStorage, spawnRapport, waitHealthy } from '../../testing.ts';

// The limits on code entry live in the database: a phone locked out by one server process stays locked out after
// that process is killed (-9) and started again, and two processes serving the same database count together.
// The embedded database allows one process per data directory, so the two-process half runs on PostgreSQL only.

function randomCode(length = 12) {
  const alphabet = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
  let body = '';
  for (let i = 0; i < length - 1; i++) body += alphabet[Math.floor(Math.random() * 31)];
  return body + checkCharacter(body);
}

async function server(env: Record<string, string>) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const process = spawnRapport(['serve', '--no-worker'], { ...env, PORT: String(port) });
  await waitHealthy(url);
  return { url, ...process };
}

describe('code-entry limits hold across restarts and processes', () => {
  for (const backend of ['pglite', 'postgres'] as const) {
    it(`locks out a phone sending wrong codes, across kill -9 and restart${backend === 'postgres' ? ' and across two processes' : ''} (${backend})`, {
      skip: backend === 'postgres' && !testDatabaseUrl() && 'needs TEST_DATABASE_URL',
      timeout: 120_000,
    }, async () => {
      const writeKey = `wk_${randomToken(32)}`;
      const secretKey = `sk_${randomToken(40)}`;
      const storage = await processStorage(backend);
      const env = {
        ...storage.env,
        RAPPORT_WRITE_KEY: writeKey,
        RAPPORT_SECRET_KEY: secretKey,
        RAPPORT_ADMIN_PASSWORD: 'limits test password',
      };
      const basic = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
      const register = async (url: string, code: string, phone: string) => {
        const r = await fetch(`${url}/v1/codes/register`, {
          method: 'POST',
          headers: { authorization: basic, 'content-type': 'application/json' },
          body: JSON.stringify({ code, phone }),
        });
        return r.status;
      };
      const api = async (url: string, method: string, path: string, body?: unknown) => {
        const r = await fetch(`${url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: r.status, text: await r.text() };
      };

      let first = await server(env);
      try {
        const p = await api(first.url, 'POST', '/codes/promotions', {
          key: 'restart',
          name: 'Restart',
          startsAt: '2020-01-01T00:00',
          endsAt: '2099-01-01T00:00',
          reward: { kind: 'registration_only' },
        });
        assert.equal(p.status, 201, p.text);
        const b = await api(first.url, 'POST', `/codes/promotions/${JSON.parse(p.text).id}/batches`, { count: 10 });
        assert.equal(b.status, 201, b.text);
        const download = await api(first.url, 'GET', JSON.parse(b.text).downloadUrl.replace('/api/v1', ''));
        const codes = download.text.trim().split('\n').slice(1);
        assert.equal(codes.length, 10);

        const phone = '+79161110001';
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) statuses.push(await register(first.url, randomCode(), phone));
        assert.deepEqual(statuses, [422, 422, 422, 422, 422, 429], 'five failures, then locked out');

        first.child.kill('SIGKILL');
        await first.exited;
        first = await server(env);
        assert.equal(
          await register(first.url, codes[0] as string, phone),
          429,
          'still locked out after kill -9 and restart',
        );
        assert.equal(await register(first.url, codes[0] as string, '+79161110002'), 200, 'others are not');

        if (backend === 'postgres') {
          const second = await server(env);
          try {
            const other = '+79161110003';
            const spread: number[] = [];
            for (let i = 0; i < 6; i++)
              spread.push(await register(i % 2 ? second.url : first.url, randomCode(), other));
            assert.deepEqual(spread, [422, 422, 422, 422, 422, 429], 'the two processes count together');
            assert.equal(await register(second.url, codes[1] as string, other), 429);
            assert.equal(await register(first.url, codes[1] as string, other), 429);
          } finally {
            second.child.kill('SIGTERM');
            await second.exited;
          }
        }
      } finally {
        first.child.kill('SIGTERM');
        await first.exited;
        await storage.dispose();
      }
    });
  }
});
