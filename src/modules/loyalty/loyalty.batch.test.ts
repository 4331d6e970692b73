import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { newId } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { LedgerDraft } from './loyalty.ledger.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * Group commit: a group's state reads answer what single reads answer, and a group's changes written as sets keep
 * the rules one change at a time keeps — one change per member version, an idempotency key claimed once, and a
 * change the database refuses fails alone.
 */

const WALLET = { key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 };

describe('loyalty: group commit', () => {
  let app: TestApp;
  before(async () => {
    app = await createTestApp();
  });
  after(async () => app?.close());

  async function setUp() {
    const env = await loyaltyWorkspace(app);
    const ws = env.ws.workspaceId;
    const db = app.database.db;
    const programme = await sql<{ id: string }>`select id from loyalty_programmes
      where workspace_id = ${ws} and key = 'main'`.execute(db);
    const programmeId = programme.rows[0]?.id as string;
    const people = [await env.customer(), await env.customer(), await env.customer(), await env.customer()];
    const bought = await env.purchase(
      { customer: { card: people[0]?.card }, lines: [{ sku: 'TEA', price: 300_000, quantity: 1 }] },
      'earlier-receipt',
    );
    assert.equal(bought.status, 201, JSON.stringify(bought.body));
    const read = { periods: [] as string[] };
    const stateOf = async (card: string) => {
      const s = await ledgerRepo.readMember(db, ws, programmeId, { card }, read);
      assert.ok(s);
      return s;
    };
    /** A change that credits `points` to the member, drafted on the state given. */
    const credit = (member: ledgerRepo.MemberState, points: number, key: string | null, version = member.version) => {
      const changes = ledgerRepo.emptyChanges();
      const now = new Date();
      new LedgerDraft(member, changes, now, 'test').credit({
        kind: 'adjust',
        wallet: WALLET,
        points,
        transactionId: null,
        ruleId: null,
        reason: 'group commit test',
        from: now,
        pending: false,
      });
      return ledgerRepo.applyItem(ws, {
        memberId: member.memberId,
        version,
        request: key ? { key, hash: `h-${key}`, status: 200, response: { points }, at: now } : null,
        verification: null,
        changes,
        existingWallets: new Set([...member.wallets.keys()].map((w) => `${member.memberId}\u0001${w}`)),
      });
    };
    const ledger = async (card: string) => {
      const r = await sql<{ balance: string; ledger: string; lots: string }>`select w.balance,
          (select coalesce(sum(amount), 0) from loyalty_ledger e where e.member_id = m.id) as ledger,
          (select coalesce(sum(remaining), 0) from loyalty_lots l where l.member_id = m.id) as lots
        from loyalty_cards c join loyalty_members m on m.id = c.member_id
          join loyalty_wallets w on w.member_id = m.id and w.wallet = 'points'
        where c.workspace_id = ${ws} and c.number = ${card}`.execute(db);
      const row = r.rows[0];
      return { balance: Number(row?.balance), ledger: Number(row?.ledger), lots: Number(row?.lots) };
    };
    return { env, ws, db, programmeId, people, stateOf, credit, ledger };
  }

  it('reads a group of states as single reads do, in the order asked, null for unknown cards', async () => {
    const { ws, db, programmeId, people, stateOf } = await setUp();
    const a = people[0] as { card: string };
    const b = people[1] as { card: string };
    const single = [await stateOf(a.card), await stateOf(b.card)];
    const asked: ledgerRepo.StateItem[] = [
      ledgerRepo.stateItem(ws, programmeId, { card: b.card }, { periods: ['2020-01-01'] }),
      ledgerRepo.stateItem(ws, programmeId, { card: '7001000000000000' }, { periods: [] }),
      ledgerRepo.stateItem(ws, programmeId, { memberId: single[0]?.memberId as string }, { periods: [] }),
      ledgerRepo.stateItem(ws, programmeId, { card: a.card }, { periods: [], idempotencyKey: 'earlier-receipt' }),
      ledgerRepo.stateItem(newId(), programmeId, { card: a.card }, { periods: [] }),
    ];
    const group = await ledgerRepo.readStates(db, asked);
    assert.equal(group.length, 5);
    assert.deepEqual(group[0], single[1]);
    assert.equal(group[1], undefined);
    // By member id there is no card in the answer; the rest is the same.
    assert.deepEqual(group[2], { ...single[0], cardId: null, cardStatus: null, cardIdentifier: null });
    assert.equal(group[3]?.request?.status, 201);
    assert.deepEqual({ ...group[3], request: null }, single[0]);
    assert.equal(group[4], undefined, 'a card is found only in its own workspace');
    assert.ok((single[0]?.wallets.get('points') ?? 0) > 0 && (single[0]?.lots.length ?? 0) > 0);
  });

  it('writes a group as sets: one change per member version, a key claimed once, stale versions refused', async () => {
    const { db, people, stateOf, credit, ledger } = await setUp();
    const [a, b, c, d] = people.map((p) => p.card) as [string, string, string, string];
    const [sa, sb, sc, sd] = [await stateOf(a), await stateOf(b), await stateOf(c), await stateOf(d)];
    const before = { a: await ledger(a), b: await ledger(b), c: await ledger(c), d: await ledger(d) };
    const items = [
      credit(sa, 10, 'k-1'),
      credit(sa, 20, 'k-2'), // the same member on the same version: only the first of the two
      credit(sb, 5, 'k-1'), // the key an earlier change of the group claims
      credit(sc, 7, null, sc.version - 1), // a stale version
      credit(sd, 3, 'earlier-receipt'), // a key stored before
    ];
    const r = await db.executeQuery<{ r: ledgerRepo.ApplyOutcome[] }>(
      CompiledQuery.raw('select loyalty_apply_set($1::jsonb) as r', [JSON.stringify(items)]),
    );
    const outcomes = r.rows[0]?.r ?? [];
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : `${o.code} ${o.constraint ?? ''}`.trim())),
      ['ok', '40001', '23505 loyalty_requests_pkey', '40001', '23505 loyalty_requests_pkey'],
    );
    assert.deepEqual(await ledger(a), {
      balance: before.a.balance + 10,
      ledger: before.a.ledger + 10,
      lots: before.a.lots + 10,
    });
    assert.deepEqual(await ledger(b), before.b);
    assert.deepEqual(await ledger(c), before.c);
    assert.deepEqual(await ledger(d), before.d);
    const after = await stateOf(a);
    assert.equal(after.version, sa.version + 1);
    const stored = await ledgerRepo.storedRequest(db, items[0]?.ws as string, 'k-1');
    assert.deepEqual(stored, { hash: 'h-k-1', status: 200, response: { points: 10 } });
  });

  it('writes a refused change alone: the others of its group are written', async () => {
    const { db, people, stateOf, credit, ledger } = await setUp();
    const [a, b] = people.map((p) => p.card) as [string, string];
    const [sa, sb] = [await stateOf(a), await stateOf(b)];
    const before = { a: await ledger(a), b: await ledger(b) };
    const overdraw = credit(sa, 1, 'k-over');
    // A wallet taken below zero: the CHECK refuses it, as it would a planning error.
    (overdraw.change.walletDeltas as [string, string, number][])[0] = [sa.memberId, 'points', -1_000_000];
    const outcomes = await ledgerRepo.applyMany(db, [overdraw, credit(sb, 4, 'k-fine')]);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : o.code)),
      ['23514', 'ok'],
    );
    assert.deepEqual(await ledger(a), before.a);
    assert.deepEqual(await ledger(b), {
      balance: before.b.balance + 4,
      ledger: before.b.ledger + 4,
      lots: before.b.lots + 4,
    });
    assert.equal(await ledgerRepo.storedRequest(db, overdraw.ws, 'k-over'), undefined);
  });
});
