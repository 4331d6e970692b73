import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { testDatabaseUrl } from '../../platform/config.ts';
import { openPostgres } from '../../platform/db.ts';
import { randomToken } from '../../platform/ids.ts';
import {
  backendUnderTest,
  createTestApp,
  freePort,
  processStorage,
  spawnRapport,
  type TestApp,
  waitHealthy,
} from '../../testing.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * 100 concurrent payments, each with the customer's whole balance: at most one may succeed, whatever the
 * interleaving — in one process, and across two server processes on one PostgreSQL.
 */

const BURNS = 100;
const BALANCE = 500;

async function checkLedger(db: TestApp['database']['db'], profileId: string) {
  const rows = await sql<{ balance: number; ledger: number; lots: number }>`select w.balance,
      (select coalesce(sum(amount), 0) from loyalty_ledger e where e.member_id = m.id)::bigint as ledger,
      (select coalesce(sum(remaining), 0) from loyalty_lots l where l.member_id = m.id)::bigint as lots
    from loyalty_members m join loyalty_wallets w on w.member_id = m.id
    where m.profile_id = ${profileId} and m.status = 'active'`.execute(db);
  const r = rows.rows[0];
  return { balance: Number(r?.balance), ledger: Number(r?.ledger), lots: Number(r?.lots) };
}

describe('loyalty: concurrent spending', () => {
  let app: TestApp;
  before(async () => {
    app = await createTestApp();
  });
  after(async () => app?.close());

  it(`${BURNS} concurrent payments of the whole balance: exactly one succeeds (one process)`, async () => {
    const env = await loyaltyWorkspace(app);
    const { profileId, card, phone } = await env.customer();
    const qr = await env.qrOf(phone);
    const credit = await env.call(
      'POST',
      '/api/v1/loyalty/programmes/main/adjustments',
      { customer: { card }, points: BALANCE, reason: 'welcome gift' },
      { 'idempotency-key': `gift-${randomToken(8)}` },
    );
    assert.equal(credit.status, 201, JSON.stringify(credit.body));
    const results = await Promise.all(
      Array.from({ length: BURNS }, (_, i) =>
        env.call(
          'POST',
          '/api/v1/loyalty/programmes/main/purchases',
          {
            customer: { card },
            currency: 'RUB',
            lines: [{ sku: 'KETTLE', price: BALANCE * 100, quantity: 1 }],
            pointsToSpend: BALANCE,
            verification: { qr },
          },
          { 'idempotency-key': `burn-${i}-${randomToken(8)}` },
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409 && r.body.code === 'INSUFFICIENT_POINTS');
    assert.equal(
      ok.length,
      1,
      JSON.stringify(
        results
          .filter((r) => r.status !== 409)
          .map((r) => r.body)
          .slice(0, 3),
      ),
    );
    assert.equal(refused.length, BURNS - 1);
    assert.deepEqual(await checkLedger(app.database.db, profileId), { balance: 0, ledger: 0, lots: 0 });
  });
});

describe('loyalty: concurrent retries of one request', () => {
  let app: TestApp;
  before(async () => {
    app = await createTestApp();
  });
  after(async () => app?.close());

  it('20 concurrent sends of one purchase with one key: one transaction, the same answer to all', async () => {
    const env = await loyaltyWorkspace(app);
    const { profileId, card } = await env.customer();
    const body = { customer: { card }, currency: 'RUB', lines: [{ sku: 'TEA', price: 500_000, quantity: 1 }] };
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        env.call('POST', '/api/v1/loyalty/programmes/main/purchases', body, { 'idempotency-key': 'till-7-receipt-42' }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 201),
    );
    assert.equal(new Set(results.map((r) => r.body.transactionId)).size, 1);
    assert.equal(results.filter((r) => r.headers['idempotent-replayed'] !== 'true').length, 1);
    const count = await sql<{ n: number }>`select count(*)::int as n from loyalty_transactions t
      join loyalty_members m on m.id = t.member_id where m.profile_id = ${profileId}`.execute(app.database.db);
    assert.equal(count.rows[0]?.n, 1);
    assert.deepEqual(await checkLedger(app.database.db, profileId), { balance: 50, ledger: 50, lots: 50 });
  });
});

describe('loyalty: concurrent spending across two processes', () => {
  const postgres = backendUnderTest() === 'postgres' && Boolean(testDatabaseUrl());
  it(`${BURNS} concurrent payments of the whole balance through two servers: exactly one succeeds`, {
    skip: postgres ? false : 'two processes need PostgreSQL (TEST_DATABASE_URL): the embedded database is one process',
  }, async (t) => {
    const storage = await processStorage('postgres');
    const secret = `sk_${randomToken(40)}`;
    const writeKey = `wk_${randomToken(30)}`;
    const ports = [await freePort(), await freePort()];
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const servers: ReturnType<typeof spawnRapport>[] = [];
    try {
      for (const port of ports) {
        const server = spawnRapport(['serve', '--no-worker'], {
          ...storage.env,
          PORT: String(port),
          RAPPORT_SECRET_KEY: secret,
          RAPPORT_WRITE_KEY: writeKey,
          RAPPORT_ADMIN_PASSWORD: 'two processes password',
        });
        servers.push(server);
        await waitHealthy(`http://127.0.0.1:${port}`);
      }
      const call = async (url: string, method: string, path: string, body?: unknown, key?: string) => {
        const r = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${secret}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
            ...(key ? { 'idempotency-key': key } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : null };
      };
      const [a, b] = urls as [string, string];
      assert.equal(
        (await call(a, 'POST', '/api/v1/loyalty/programmes', { key: 'main', name: 'Club', currency: 'RUB' })).status,
        201,
      );
      const range = { kind: 'virtual', prefix: '7001', length: 16, firstSerial: 1, lastSerial: 999_999 };
      assert.equal((await call(b, 'POST', '/api/v1/loyalty/programmes/main/card-ranges', range)).status, 201);
      const phone = '+79161112233';
      const identified = await fetch(`${a}/v1/identify`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ userId: 'two-processes', traits: { phone } }),
      });
      assert.equal(identified.status, 200);
      const profileId = (await call(b, 'GET', '/api/v1/profiles?identifier=user_id:two-processes')).body.items[0].id;
      const card = (await call(a, 'POST', '/api/v1/loyalty/programmes/main/cards', { profileId })).body.number;
      const outbox = (await call(b, 'GET', '/api/v1/loyalty/outbox')).body.items;
      const qr = /QR code: (\S+)/.exec(outbox.find((m: { address: string }) => m.address === phone).body)?.[1];
      const credit = await call(
        b,
        'POST',
        '/api/v1/loyalty/programmes/main/adjustments',
        { customer: { card }, points: BALANCE, reason: 'welcome gift' },
        'gift-two-processes',
      );
      assert.equal(credit.status, 201, JSON.stringify(credit.body));

      const results = await Promise.all(
        Array.from({ length: BURNS }, (_, i) =>
          call(
            urls[i % 2] as string,
            'POST',
            '/api/v1/loyalty/programmes/main/purchases',
            {
              customer: { card },
              currency: 'RUB',
              lines: [{ sku: 'KETTLE', price: BALANCE * 100, quantity: 1 }],
              pointsToSpend: BALANCE,
              verification: { qr },
            },
            `two-processes-burn-${i}`,
          ),
        ),
      );
      const ok = results.filter((r) => r.status === 201);
      assert.equal(
        ok.length,
        1,
        JSON.stringify(
          results
            .filter((r) => r.status !== 409)
            .map((r) => r.body)
            .slice(0, 3),
        ),
      );
      assert.equal(results.filter((r) => r.body?.code === 'INSUFFICIENT_POINTS').length, BURNS - 1);
      t.diagnostic(`one of ${BURNS} payments succeeded, split over two processes`);

      const database = await openPostgres(storage.env.DATABASE_URL as string);
      try {
        assert.deepEqual(await checkLedger(database.db, profileId), { balance: 0, ledger: 0, lots: 0 });
      } finally {
        await database.close();
      }
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
      await storage.dispose();
    }
  });
});
