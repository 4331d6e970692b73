import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { loyaltyModelSettings } from '../../platform/config.ts';
import { randomToken } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * Model-based test of the ledger through the HTTP API, on the real database: random sequences of earning
 * purchases, payments with points, partial returns, reversals, time passing, the expiry job, replays of earlier
 * requests with their idempotency keys and reuses of a key with another body. A plain model (arrays of lots,
 * first-in first-out) predicts every answer; after each step the database must agree with it:
 * the balance row equals the sum of the ledger and of the lots' remainders, nothing is negative, the lots hold
 * exactly what the model says (so expiry and spending took the oldest first), and the API's balance matches.
 */

const DAY = 86_400_000;
const PENDING_DAYS = 1;
const LIFETIME_DAYS = 10;
const POINT_VALUE = 100; // minor units per point at the till
const PER = 10_000; // 1 point per 100.00

interface MLot {
  amount: number;
  remaining: number;
  earnedAt: number;
  availableAt: number;
  expiresAt: number;
}
interface MPurchase {
  txId: string;
  amount: number;
  earned: number;
  lot: number | null;
  spent: number;
  burnLots: [number, number][];
  returned: number;
  reversed: boolean;
}
interface MRequest {
  url: string;
  body: Record<string, unknown>;
  key: string;
  status: number;
  response: unknown;
}
interface Model {
  now: number;
  lots: MLot[];
  purchases: MPurchase[];
  requests: MRequest[];
}

const share = (points: number, part: number, whole: number) => Math.floor((points * Math.min(part, whole)) / whole);
const spendable = (m: Model, l: MLot) => l.remaining > 0 && l.availableAt <= m.now && l.expiresAt > m.now;
const available = (m: Model) => m.lots.filter((l) => spendable(m, l)).reduce((s, l) => s + l.remaining, 0);

/** FIFO over spendable lots, after `first` (any state but empty) when given. */
function take(m: Model, points: number, first: number | null): [number, number][] {
  const out: [number, number][] = [];
  let left = points;
  const order =
    first === null ? m.lots.map((_, i) => i) : [first, ...m.lots.map((_, i) => i).filter((i) => i !== first)];
  for (const i of order) {
    if (left === 0) break;
    const l = m.lots[i] as MLot;
    if (!(i === first ? l.remaining > 0 : spendable(m, l))) continue;
    const n = Math.min(left, l.remaining);
    l.remaining -= n;
    left -= n;
    out.push([i, n]);
  }
  return out;
}

/** What a return of money [before, after) of a purchase does in the model: claw back, give back. */
function unwind(m: Model, p: MPurchase, before: number, after: number) {
  const claw = share(p.earned, after, p.amount) - share(p.earned, before, p.amount);
  const taken = take(m, claw, p.lot).reduce((s, [, n]) => s + n, 0);
  const from = share(p.spent, before, p.amount);
  const to = share(p.spent, after, p.amount);
  let position = 0;
  let given = 0;
  for (const [i, took] of p.burnLots) {
    const start = position;
    position += took;
    const n = Math.min(position, to) - Math.max(start, from);
    if (n <= 0) continue;
    const l = m.lots[i] as MLot;
    if (l.expiresAt <= m.now) continue;
    l.remaining += n;
    given += n;
  }
  return { clawedBack: taken, notRecovered: claw - taken, refunded: given };
}

type Cmd =
  | { kind: 'earn'; amount: number }
  | { kind: 'burn'; points: number; extra: number }
  /** Spends everything there is (so that later claw-backs come up short). */
  | { kind: 'burnAll'; extra: number }
  | { kind: 'return'; purchase: number; part: number }
  | { kind: 'reverse'; purchase: number }
  | { kind: 'advance'; hours: number }
  | { kind: 'expire' }
  | { kind: 'replay'; request: number }
  | { kind: 'reuse'; request: number };

const command: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('earn' as const), amount: fc.integer({ min: 1, max: 1_500_000 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('burn' as const),
      points: fc.integer({ min: 1, max: 40 }),
      extra: fc.integer({ min: 0, max: PER - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('burnAll' as const), extra: fc.integer({ min: 0, max: PER - 1 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('return' as const),
      purchase: fc.nat(),
      part: fc.double({ min: 0.01, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reverse' as const), purchase: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), hours: fc.integer({ min: 1, max: 24 * 6 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'expire' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), request: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reuse' as const), request: fc.nat() }) },
);

let app: TestApp;
const clock = { t: Date.parse('2026-01-05T09:00:00Z'), now: () => new Date(clock.t) };
before(async () => {
  app = await createTestApp({ clock });
});
after(async () => app?.close());

describe('loyalty ledger: model-based', () => {
  it('agrees with a FIFO model under random earn, burn, return, reverse, expiry, time and replays', async () => {
    const env = await loyaltyWorkspace(app, {
      settings: {
        wallets: [
          {
            key: 'points',
            name: 'Points',
            pendingDays: PENDING_DAYS,
            lifetimeDays: LIFETIME_DAYS,
            valueMinor: POINT_VALUE,
          },
        ],
        maxPaymentPercent: 100,
      },
      rules: [{ name: 'base', trigger: 'purchase', formula: { kind: 'per_unit', points: 1, per: PER } }],
    });
    const db = app.database.db;
    let runs = 0;
    const stats: Record<string, number> = {};

    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 8, maxLength: 40 }), async (commands) => {
        runs++;
        // Each run: a new customer, far in the future of the last one.
        clock.t += 1000 * DAY;
        const { profileId, card, phone } = await env.customer(`+7916${String(1_000_000 + runs).padStart(7, '0')}`);
        const qr = await env.qrOf(phone);
        const memberId = (await env.member(profileId)).id as string;
        const m: Model = { now: clock.t, lots: [], purchases: [], requests: [] };
        const send = async (url: string, body: Record<string, unknown>, key = `m-${randomToken(16)}`) => {
          const r = await env.call('POST', url, body, { 'idempotency-key': key });
          if (r.status < 300) m.requests.push({ url, body, key, status: r.status, response: r.body });
          return r;
        };
        const log: string[] = [];
        const seen = stats;

        for (const c of commands) {
          log.push(JSON.stringify(c));
          seen[c.kind] = (seen[c.kind] ?? 0) + 1;
          const where = () => `after ${log.join(' → ')}`;
          if (c.kind === 'earn') {
            const r = await send('/api/v1/loyalty/programmes/main/purchases', {
              customer: { card },
              currency: 'RUB',
              lines: [{ sku: 'TEA', price: c.amount, quantity: 1 }],
            });
            assert.equal(r.status, 201, `${JSON.stringify(r.body)} ${where()}`);
            const points = Math.floor(c.amount / PER);
            let lot: number | null = null;
            if (points > 0) {
              m.lots.push({
                amount: points,
                remaining: points,
                earnedAt: m.now,
                availableAt: m.now + PENDING_DAYS * DAY,
                expiresAt: m.now + (PENDING_DAYS + LIFETIME_DAYS) * DAY,
              });
              lot = m.lots.length - 1;
            }
            assert.equal(
              r.body.earned.reduce((s: number, e: { points: number }) => s + e.points, 0),
              points,
            );
            m.purchases.push({
              txId: r.body.transactionId,
              amount: c.amount,
              earned: points,
              lot,
              spent: 0,
              burnLots: [],
              returned: 0,
              reversed: false,
            });
          } else if (c.kind === 'burn' || c.kind === 'burnAll') {
            const points = c.kind === 'burn' ? c.points : Math.max(1, available(m));
            const amount = points * POINT_VALUE + c.extra;
            const r = await send('/api/v1/loyalty/programmes/main/purchases', {
              customer: { card },
              currency: 'RUB',
              lines: [{ sku: 'CUP', price: amount, quantity: 1 }],
              pointsToSpend: points,
              verification: { qr },
            });
            if (available(m) < points) {
              assert.equal(r.status, 409, where());
              assert.equal(r.body.code, 'INSUFFICIENT_POINTS');
              seen.refusedBurns = (seen.refusedBurns ?? 0) + 1;
            } else {
              assert.equal(r.status, 201, `${JSON.stringify(r.body)} ${where()}`);
              const burnLots = take(m, points, null);
              seen.burned = (seen.burned ?? 0) + 1;
              m.purchases.push({
                txId: r.body.transactionId,
                amount,
                earned: 0,
                lot: null,
                spent: points,
                burnLots,
                returned: 0,
                reversed: false,
              });
            }
          } else if (c.kind === 'return' || c.kind === 'reverse') {
            if (m.purchases.length === 0) continue;
            const p = m.purchases[c.purchase % m.purchases.length] as MPurchase;
            const url = `/api/v1/loyalty/programmes/main/transactions/${p.txId}/${c.kind === 'return' ? 'returns' : 'reverse'}`;
            const amount = c.kind === 'return' ? Math.max(1, Math.floor((p.amount - p.returned) * c.part)) : 0;
            const r = await send(url, c.kind === 'return' ? { amount } : {});
            if (p.reversed) {
              assert.equal(r.status, 409, where());
              assert.equal(r.body.code, c.kind === 'return' ? 'TRANSACTION_REVERSED' : 'ALREADY_REVERSED');
              continue;
            }
            if (c.kind === 'return' && p.returned + amount > p.amount) {
              assert.equal(r.status, 409, where());
              assert.equal(r.body.code, 'RETURN_EXCEEDS_PURCHASE');
              continue;
            }
            assert.equal(r.status, 201, `${JSON.stringify(r.body)} ${where()}`);
            const after = c.kind === 'return' ? p.returned + amount : p.amount;
            const expected = unwind(m, p, p.returned, after);
            if (c.kind === 'return') p.returned += amount;
            else p.reversed = true;
            if (expected.notRecovered > 0) seen.notRecovered = (seen.notRecovered ?? 0) + 1;
            if (expected.refunded > 0) seen.refunded = (seen.refunded ?? 0) + 1;
            assert.deepEqual(
              { clawedBack: r.body.clawedBack, notRecovered: r.body.notRecovered, refunded: r.body.refunded },
              expected,
              where(),
            );
          } else if (c.kind === 'advance') {
            clock.t += c.hours * 3_600_000;
            m.now = clock.t;
          } else if (c.kind === 'expire') {
            await app.loyalty.expireDue();
            for (const l of m.lots) if (l.remaining > 0 && l.expiresAt <= m.now) l.remaining = 0;
          } else if (c.kind === 'replay' || c.kind === 'reuse') {
            if (m.requests.length === 0) continue;
            const q = m.requests[c.request % m.requests.length] as MRequest;
            const body = c.kind === 'replay' ? q.body : { ...q.body, cashier: 'someone else' };
            const r = await env.call('POST', q.url, body, { 'idempotency-key': q.key });
            if (c.kind === 'replay') {
              assert.equal(r.status, q.status, where());
              assert.deepEqual(r.body, q.response, `a replay answers what the first call answered ${where()}`);
              assert.equal(r.headers['idempotent-replayed'], 'true');
            } else {
              assert.equal(r.status, 409, where());
              assert.equal(r.body.code, 'IDEMPOTENCY_KEY_REUSED');
            }
          }

          // The database agrees with itself and with the model.
          const [wallet] = (
            await sql<{
              balance: number;
            }>`select balance from loyalty_wallets where member_id = ${memberId} and wallet = 'points'`.execute(db)
          ).rows;
          const [ledger] = (
            await sql<{
              sum: number;
            }>`select coalesce(sum(amount), 0)::bigint as sum from loyalty_ledger where member_id = ${memberId}`.execute(
              db,
            )
          ).rows;
          const lots = (
            await sql<{
              remaining: number;
            }>`select remaining from loyalty_lots where member_id = ${memberId} order by earned_at, id`.execute(db)
          ).rows.map((l) => Number(l.remaining));
          const balance = Number(wallet?.balance);
          assert.equal(balance, Number(ledger?.sum), `balance = sum of the ledger ${where()}`);
          assert.equal(
            balance,
            lots.reduce((s, n) => s + n, 0),
            `balance = sum of the lots ${where()}`,
          );
          assert.ok(balance >= 0 && lots.every((n) => n >= 0), `never negative ${where()}`);
          assert.deepEqual(
            lots,
            m.lots.map((l) => l.remaining),
            `lots as the FIFO model says ${where()}`,
          );
          const api = await env.balance(profileId);
          const pending = m.lots.filter((l) => l.availableAt > m.now).reduce((s, l) => s + l.remaining, 0);
          const expired = m.lots
            .filter((l) => l.availableAt <= m.now && l.expiresAt <= m.now)
            .reduce((s, l) => s + l.remaining, 0);
          assert.deepEqual(
            api,
            { wallet: 'points', total: balance, available: available(m), pending, expired },
            `the API's balance ${where()}`,
          );
        }
      }),
      {
        numRuns: loyaltyModelSettings().runs,
        endOnFailure: true,
        // One sequence that surely reaches the rare branches: a claw-back with nothing left to take, give-backs.
        examples: [
          [
            [
              { kind: 'earn', amount: 1_000_000 },
              { kind: 'advance', hours: 30 },
              { kind: 'burnAll', extra: 0 },
              { kind: 'return', purchase: 0, part: 1 },
              { kind: 'return', purchase: 1, part: 0.5 },
              { kind: 'replay', request: 0 },
              { kind: 'reuse', request: 1 },
              { kind: 'reverse', purchase: 1 },
              { kind: 'expire' },
            ],
          ],
        ],
      },
    );
    // The generator reaches every branch: spending and refused spending, claw-backs short of points, give-backs.
    if (loyaltyModelSettings().stats) console.log(stats);
    for (const branch of ['burned', 'refusedBurns', 'notRecovered', 'refunded', 'replay', 'reuse'])
      assert.ok((stats[branch] ?? 0) > 0, `the runs reached ${branch}`);
  });
});
