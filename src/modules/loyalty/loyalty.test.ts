import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from '../../testing.ts';
import { luhnValid } from './loyalty.cardnumbers.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

const line = (sku: string, price: number, quantity = 1, category = 'tea') => ({ sku, price, quantity, category });

describe('loyalty: cards', () => {
  it('issues virtual cards with a Luhn check digit; the number becomes the profile’s card identifier', async () => {
    const { customer, call } = await loyaltyWorkspace(app);
    const { profileId, card } = await customer();
    assert.equal(card.length, 16);
    assert.ok(card.startsWith('7001'));
    assert.ok(luhnValid(card));
    const found = await call('GET', `/api/v1/profiles?identifier=card:${card}`);
    assert.equal(found.body.items[0]?.id, profileId);
    const looked = await call('GET', `/api/v1/loyalty/cards/${card}`);
    assert.equal(looked.status, 200, JSON.stringify(looked.body));
    assert.equal(looked.body.member.profileId, profileId);
    assert.deepEqual(looked.body.member.balances, [
      { wallet: 'points', total: 0, available: 0, pending: 0, expired: 0 },
    ]);
    const quick = await call('GET', `/api/v1/loyalty/cards/${card}/balance`);
    assert.deepEqual(quick.body, {
      status: 'active',
      programme: 'main',
      memberId: looked.body.member.id,
      profileId,
      balances: [{ wallet: 'points', total: 0, available: 0, pending: 0, expired: 0 }],
    });
    assert.equal((await call('GET', '/api/v1/loyalty/cards/7001999999999999/balance')).body.code, 'CARD_NOT_FOUND');
  });

  it('activates pre-printed physical cards only with a valid number of a range; a card alone makes a profile', async () => {
    const { call } = await loyaltyWorkspace(app);
    const bad = await call('POST', '/api/v1/loyalty/programmes/main/cards', { number: '7002000001231' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'CARD_NUMBER_INVALID');
    // 7002 000012 3 + check digit
    const { luhnDigit } = await import('./loyalty.cardnumbers.ts');
    const number = `700200001234${luhnDigit('700200001234')}`;
    const ok = await call('POST', '/api/v1/loyalty/programmes/main/cards', { number });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.kind, 'physical');
    const again = await call('POST', '/api/v1/loyalty/programmes/main/cards', { number });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'CARD_EXISTS');
  });

  it('blocks and replaces cards: a blocked card neither earns nor spends; the replacement keeps the balance', async () => {
    const { customer, call, purchase, balance } = await loyaltyWorkspace(app);
    const { profileId, card } = await customer();
    assert.equal((await purchase({ customer: { card }, lines: [line('A', 100_000)] })).status, 201);
    assert.equal((await balance(profileId)).available, 10);
    const blocked = await call('POST', `/api/v1/loyalty/cards/${card}/block`, { reason: 'lost' });
    assert.equal(blocked.status, 200, JSON.stringify(blocked.body));
    const refused = await purchase({ customer: { card }, lines: [line('A', 100_000)] });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'CARD_BLOCKED');
    const replaced = await call('POST', `/api/v1/loyalty/cards/${card}/replace`, { reason: 'lost' });
    assert.equal(replaced.status, 201, JSON.stringify(replaced.body));
    const fresh = replaced.body.number as string;
    assert.notEqual(fresh, card);
    assert.equal(replaced.body.profileId, profileId);
    const old = await purchase({ customer: { card }, lines: [line('A', 100_000)] });
    assert.equal(old.body.code, 'CARD_REPLACED');
    const ok = await purchase({ customer: { card: fresh }, lines: [line('A', 100_000)] });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await balance(profileId)).available, 20);
  });
});

describe('loyalty: purchases, returns, reversals', () => {
  it('earns by the rules; a replay with the same key answers the same and changes nothing; another body is 409', async () => {
    const { customer, purchase, balance } = await loyaltyWorkspace(app);
    const { profileId, card } = await customer();
    const body = { customer: { card }, externalId: 'R-1', lines: [line('A', 25_000, 2), line('B', 9_999)] };
    const first = await purchase(body, 'receipt-0001');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.earned[0].points, 5); // 59,999 kopecks → 5 points per 100 roubles
    const replay = await purchase(body, 'receipt-0001');
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.body, first.body);
    assert.equal((await balance(profileId)).total, 5);
    const other = await purchase({ ...body, externalId: 'R-2' }, 'receipt-0001');
    assert.equal(other.status, 409);
    assert.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');
    const missing = await purchase(body, '');
    assert.equal(missing.status, 400);
  });

  it('keeps points pending through the return window and claws back proportionally on partial returns', async () => {
    const { customer, purchase, call, balance } = await loyaltyWorkspace(app, {
      settings: {
        wallets: [{ key: 'points', name: 'Points', pendingDays: 14, lifetimeDays: 365, valueMinor: 100 }],
      },
    });
    const { profileId, card } = await customer();
    const bought = await purchase({ customer: { card }, lines: [line('A', 30_000), line('B', 70_000)] });
    assert.equal(bought.status, 201, JSON.stringify(bought.body));
    assert.deepEqual(bought.body.balances[0], { wallet: 'points', total: 10, available: 0, pending: 10, expired: 0 });
    const tx = bought.body.transactionId;
    const partial = await call(
      'POST',
      `/api/v1/loyalty/programmes/main/transactions/${tx}/returns`,
      { lines: [{ sku: 'A', quantity: 1 }] },
      { 'idempotency-key': 'return-0001' },
    );
    assert.equal(partial.status, 201, JSON.stringify(partial.body));
    assert.equal(partial.body.clawedBack, 3);
    const rest = await call(
      'POST',
      `/api/v1/loyalty/programmes/main/transactions/${tx}/returns`,
      { amount: 70_000 },
      { 'idempotency-key': 'return-0002' },
    );
    assert.equal(rest.body.clawedBack, 7);
    assert.equal((await balance(profileId)).total, 0);
    const tooMuch = await call(
      'POST',
      `/api/v1/loyalty/programmes/main/transactions/${tx}/returns`,
      { amount: 1 },
      { 'idempotency-key': 'return-0003' },
    );
    assert.equal(tooMuch.status, 409);
    assert.equal(tooMuch.body.code, 'RETURN_EXCEEDS_PURCHASE');
  });

  it('pays with points only with the customer’s proof: a one-time code to the phone, or the card’s QR token', async () => {
    const { customer, purchase, call, lastMessage, qrOf, balance } = await loyaltyWorkspace(app);
    const { profileId, card, phone } = await customer();
    const qr = await qrOf(phone);
    assert.ok(qr, 'the QR token went to the customer’s phone');
    await purchase({ customer: { card }, lines: [line('A', 1_000_000)] }); // 100 points
    const staffAlone = await purchase({ customer: { card }, lines: [line('B', 10_000)], pointsToSpend: 50 });
    assert.equal(staffAlone.status, 403);
    assert.equal(staffAlone.body.code, 'VERIFICATION_REQUIRED');
    const sent = await call('POST', '/api/v1/loyalty/programmes/main/verifications', { customer: { card } });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.sentTo, `+7 *** *** ** ${phone.slice(-2)}`);
    const code = /^(\d{6})/.exec((await lastMessage(phone)) ?? '')?.[1] as string;
    const wrong = await purchase({
      customer: { card },
      lines: [line('B', 10_000)],
      pointsToSpend: 50,
      verification: { id: sent.body.verificationId, code: code === '000000' ? '111111' : '000000' },
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'VERIFICATION_FAILED');
    const paid = await purchase({
      customer: { card },
      lines: [line('B', 10_000)],
      pointsToSpend: 50,
      verification: { id: sent.body.verificationId, code },
    });
    assert.equal(paid.status, 201, JSON.stringify(paid.body));
    assert.equal(paid.body.spent, 50);
    assert.equal(paid.body.earned.length, 0, '100 roubles paid 50 with points: 50 roubles of money earn nothing');
    const reused = await purchase({
      customer: { card },
      lines: [line('B', 10_000)],
      pointsToSpend: 10,
      verification: { id: sent.body.verificationId, code },
    });
    assert.equal(reused.body.code, 'VERIFICATION_USED');
    const byQr = await purchase({ customer: { qr }, lines: [line('C', 100_000)], pointsToSpend: 20 });
    assert.equal(byQr.status, 201, JSON.stringify(byQr.body));
    assert.equal((await balance(profileId)).total, 100 - 50 - 20 + 9, '980 roubles paid in money earn 9');
    const reversed = await call(
      'POST',
      `/api/v1/loyalty/programmes/main/transactions/${byQr.body.transactionId}/reverse`,
      {},
      { 'idempotency-key': 'reverse-0001' },
    );
    assert.equal(reversed.status, 201, JSON.stringify(reversed.body));
    assert.equal(reversed.body.refunded, 20);
    assert.equal(reversed.body.clawedBack, 9);
    assert.equal((await balance(profileId)).total, 50);
    // At most 3 codes per customer in 10 minutes.
    const again = async () =>
      (await call('POST', '/api/v1/loyalty/programmes/main/verifications', { customer: { card } })).status;
    assert.deepEqual([await again(), await again(), await again()], [201, 201, 429]);
  });

  it('answers bad input with 4xx and a code, never 500', async () => {
    const { customer, call, purchase } = await loyaltyWorkspace(app);
    const { card } = await customer();
    const cases: [string, string, unknown][] = [
      ['POST', '/api/v1/loyalty/programmes/main/purchases', { customer: { card }, lines: [] }],
      ['POST', '/api/v1/loyalty/programmes/main/purchases', { customer: { card: 'abc' }, lines: [line('A', 1)] }],
      ['POST', '/api/v1/loyalty/programmes/main/purchases', { customer: {}, lines: [line('A', 1)] }],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/purchases',
        { customer: { card }, lines: [{ sku: 'A', price: -1, quantity: 1 }] },
      ],
      [
        'POST',
        '/api/v1/loyalty/programmes/nope/purchases',
        { customer: { card }, currency: 'RUB', lines: [line('A', 1)] },
      ],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/rules',
        { name: 'x', trigger: 'purchase', formula: { kind: 'per_unit' } },
      ],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/rules',
        {
          name: 'x',
          trigger: 'purchase',
          formula: { kind: 'fixed', points: 1 },
          condition: { field: 'password', op: 'eq', value: 1 },
        },
      ],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/rules',
        {
          name: 'x',
          trigger: 'purchase',
          formula: { kind: 'fixed', points: 1 },
          condition: { field: 'amount', op: 'contains', value: 'x' },
        },
      ],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/card-ranges',
        { kind: 'virtual', prefix: '7001', length: 16, firstSerial: 5, lastSerial: 1 },
      ],
      ['POST', '/api/v1/loyalty/programmes/main/transactions/not-a-uuid/returns', { amount: 1 }],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/transactions/01a20000-0000-7000-8000-000000000000/returns',
        { amount: 1 },
      ],
      ['GET', '/api/v1/loyalty/cards/123', undefined],
      ['GET', '/api/v1/loyalty/cards/7001000000000000', undefined],
      ['POST', '/api/v1/loyalty/programmes/main/adjustments', { customer: { card }, points: 0, reason: 'nothing' }],
      [
        'POST',
        '/api/v1/loyalty/programmes/main/adjustments',
        { customer: { card }, points: -5, reason: 'more than there is' },
      ],
      ['POST', '/api/v1/loyalty/programmes/main/rules/simulate', { rule: { name: 'x' } }],
      ['POST', '/api/v1/loyalty/programmes', { key: 'Main!', name: '', currency: 'rub' }],
    ];
    for (const [method, url, body] of cases) {
      const r = await call(method as 'POST', url, body, { 'idempotency-key': `bad-${Math.random()}` });
      assert.ok(
        r.status >= 400 && r.status < 500,
        `${method} ${url} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`,
      );
      assert.ok(r.body?.code, `${url}: a code`);
    }
    const currency = await purchase({ customer: { card }, currency: 'EUR', lines: [line('A', 1)] });
    assert.equal(currency.body.code, 'CURRENCY_MISMATCH');
  });
});

describe('loyalty: rules', () => {
  it('evaluates in priority order with stop-after, line conditions, multipliers, caps per person and day', async () => {
    const { customer, purchase } = await loyaltyWorkspace(app, {
      rules: [
        { name: 'base', trigger: 'purchase', priority: 10, formula: { kind: 'per_unit', points: 1, per: 10_000 } },
        {
          name: 'double coffee',
          trigger: 'purchase',
          scope: 'line',
          priority: 20,
          condition: { field: 'line.category', op: 'eq', value: 'coffee' },
          formula: { kind: 'multiplier', factor: 2 },
        },
        {
          name: 'big basket bonus, once a day',
          trigger: 'purchase',
          priority: 30,
          condition: { field: 'amount', op: 'gte', value: 500_000 },
          formula: { kind: 'fixed', points: 50 },
          caps: [{ period: 'day', maxTimes: 1 }],
          stopAfter: true,
        },
        {
          name: 'never reached after the bonus',
          trigger: 'purchase',
          priority: 40,
          formula: { kind: 'fixed', points: 1000 },
        },
      ],
    });
    const { card } = await customer();
    const small = await purchase({ customer: { card }, lines: [line('T', 100_000), line('C', 100_000, 1, 'coffee')] });
    assert.deepEqual(
      small.body.earned.map((e: { points: number }) => e.points),
      [20, 10, 1000],
    );
    const big = await purchase({ customer: { card }, lines: [line('T', 600_000)] });
    assert.deepEqual(
      big.body.earned.map((e: { points: number }) => e.points),
      [60, 50],
    );
    const again = await purchase({ customer: { card }, lines: [line('T', 600_000)] });
    assert.deepEqual(
      again.body.earned.map((e: { points: number }) => e.points),
      [60],
      'the bonus is capped at once a day; its rule still matched, so the evaluation stopped',
    );
  });

  it('simulates a rule over past transactions', async () => {
    const { customer, purchase, call } = await loyaltyWorkspace(app);
    const { card } = await customer();
    for (const amount of [100_000, 300_000, 700_000])
      await purchase({ customer: { card }, lines: [line('T', amount)] });
    const sim = await call('POST', '/api/v1/loyalty/programmes/main/rules/simulate', {
      rule: {
        name: 'bonus over 2,000',
        trigger: 'purchase',
        condition: { field: 'amount', op: 'gt', value: 200_000 },
        formula: { kind: 'fixed', points: 25 },
        caps: [{ period: 'ever', maxPoints: 40 }],
      },
    });
    assert.equal(sim.status, 200, JSON.stringify(sim.body));
    assert.equal(sim.body.scanned, 2);
    assert.equal(sim.body.matched, 2);
    assert.equal(sim.body.points, 40);
    assert.equal(sim.body.members, 1);

    // A line rule: the SQL prefilter looks into the lines, the evaluation gives what the till would.
    await purchase({ customer: { card }, lines: [line('C', 200_000, 2, 'coffee'), line('T', 100_000)] });
    const lines = await call('POST', '/api/v1/loyalty/programmes/main/rules/simulate', {
      rule: {
        name: '3 points per coffee item',
        trigger: 'purchase',
        scope: 'line',
        condition: { field: 'line.category', op: 'eq', value: 'coffee' },
        formula: { kind: 'fixed', points: 3, perItem: true },
      },
    });
    assert.equal(lines.status, 200, JSON.stringify(lines.body));
    assert.deepEqual([lines.body.scanned, lines.body.matched, lines.body.points], [1, 1, 6]);
    const none = await call('POST', '/api/v1/loyalty/programmes/main/rules/simulate', {
      rule: {
        name: 'registrations',
        trigger: 'event',
        eventName: 'Code Registered',
        formula: { kind: 'fixed', points: 5 },
      },
      from: '2020-01-01T00:00:00Z',
      to: '2020-02-01T00:00:00Z',
    });
    assert.deepEqual([none.status, none.body.scanned, none.body.points], [200, 0, 0]);
  });
});

describe('loyalty: merges, timeline, expiry', () => {
  it('writes each till transaction to the timeline, and moves balances to the survivor of a merge', async () => {
    const { customer, purchase, call, writeAuth, balance } = await loyaltyWorkspace(app);
    const a = await customer();
    await purchase({ customer: { card: a.card }, lines: [line('A', 100_000)] });
    await app.loyalty.drainTimeline();
    const timeline = await call('GET', `/api/v1/profiles/${a.profileId}/events?name=Loyalty%20Purchase`);
    assert.equal(timeline.body.items.length, 1, JSON.stringify(timeline.body));
    assert.equal(timeline.body.items[0].properties.pointsEarned, 10);

    // A pre-printed card used anonymously (a profile of its own), then the person registers it in the app.
    const { luhnDigit } = await import('./loyalty.cardnumbers.ts');
    const number = `700200005555${luhnDigit('700200005555')}`;
    const anonymous = await call('POST', '/api/v1/loyalty/programmes/main/cards', { number });
    assert.equal(anonymous.status, 201, JSON.stringify(anonymous.body));
    await purchase({ customer: { card: number }, lines: [line('A', 500_000)] });
    const person = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...writeAuth, 'content-type': 'application/json' },
      payload: { userId: 'registered-later', traits: { email: 'later@example.test' } },
    });
    assert.equal(person.statusCode, 200);
    const personId = (await call('GET', '/api/v1/profiles?identifier=user_id:registered-later')).body.items[0].id;
    await purchase({ customer: { profileId: personId }, lines: [line('A', 200_000)] });
    const registered = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...writeAuth, 'content-type': 'application/json' },
      payload: { userId: 'registered-later', traits: { card: number } },
    });
    assert.equal(registered.statusCode, 200);
    const survivor = (await call('GET', `/api/v1/profiles?identifier=card:${number}`)).body.items[0].id;
    assert.equal(
      (await call('GET', `/api/v1/profiles?identifier=user_id:registered-later`)).body.items[0].id,
      survivor,
    );
    assert.equal((await balance(survivor)).total, 50 + 20, 'both balances on the survivor');
    const looked = await call('GET', `/api/v1/loyalty/cards/${number}`);
    assert.equal(looked.body.member.profileId, survivor);
    const sums = await sql<{ sum: number }>`select coalesce(sum(amount), 0)::bigint as sum from loyalty_ledger
      where member_id = ${looked.body.member.id}`.execute(app.database.db);
    assert.equal(Number(sums.rows[0]?.sum), 70);
  });

  it('links a card sold at the till to the person who registers it: balance and history follow', async () => {
    const { customer, purchase, call, writeAuth, balance } = await loyaltyWorkspace(app);
    const { luhnDigit } = await import('./loyalty.cardnumbers.ts');
    const number = `700200007777${luhnDigit('700200007777')}`;
    assert.equal((await call('POST', '/api/v1/loyalty/programmes/main/cards', { number })).status, 201);
    await purchase({ customer: { card: number }, lines: [line('A', 300_000)] });
    const identified = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...writeAuth, 'content-type': 'application/json' },
      payload: { userId: 'links-later', traits: { email: 'links@example.test' } },
    });
    assert.equal(identified.statusCode, 200);
    const person = (await call('GET', '/api/v1/profiles?identifier=user_id:links-later')).body.items[0].id;
    const linked = await call('POST', `/api/v1/loyalty/cards/${number}/link`, { profileId: person });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.profileId, person);
    assert.equal((await balance(person)).total, 30);
    assert.equal((await call('GET', `/api/v1/profiles?identifier=card:${number}`)).body.items[0].id, person);
    // Someone who holds a card already cannot take another one this way.
    const other = await customer();
    const refused = await call('POST', `/api/v1/loyalty/cards/${number}/link`, { profileId: other.profileId });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'CARD_LINK_CONFLICT');
  });

  it('expires the oldest lots first', async () => {
    const { customer, purchase, balance } = await loyaltyWorkspace(app);
    const { profileId, card } = await customer();
    await purchase({ customer: { card }, lines: [line('A', 100_000)] });
    const before = await balance(profileId);
    assert.equal(before.available, 10);
    await sql`update loyalty_lots set expires_at = now() - interval '1 second' where member_id in
      (select id from loyalty_members where profile_id = ${profileId})`.execute(app.database.db);
    const stale = await balance(profileId);
    assert.deepEqual(stale, { wallet: 'points', total: 10, available: 0, pending: 0, expired: 10 });
    const expired = await app.loyalty.expireDue();
    assert.ok(expired >= 10);
    assert.deepEqual(await balance(profileId), { wallet: 'points', total: 0, available: 0, pending: 0, expired: 0 });
  });
});
