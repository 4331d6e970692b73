import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { randomToken } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { type Call, loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * Rewards, coupons and clubs: stock is never oversold, a coupon is redeemed once, the till cannot tell unknown from
 * used or expired codes, restrictions hold, the ledger's invariants hold after redemptions, merges move everything.
 * Runs on PGlite, and on PostgreSQL with TEST_DATABASE_URL.
 */

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

const line = (sku: string, amount: number) => ({ sku, quantity: 1, price: amount });
const key = () => `k-${randomToken(12)}`;

/** balance = Σ ledger = Σ lots, nothing negative, for every member of the workspace. */
async function checkInvariants(workspaceId: string) {
  const rows = await sql<{ id: string; balance: number; ledger: number; lots: number; negative: number }>`select m.id,
      coalesce((select sum(balance) from loyalty_wallets w where w.member_id = m.id), 0)::bigint as balance,
      coalesce((select sum(amount) from loyalty_ledger e where e.member_id = m.id), 0)::bigint as ledger,
      coalesce((select sum(remaining) from loyalty_lots l where l.member_id = m.id), 0)::bigint as lots,
      (select count(*) from loyalty_lots l where l.member_id = m.id and l.remaining < 0)::bigint as negative
    from loyalty_members m where m.workspace_id = ${workspaceId}`.execute(app.database.db);
  assert.ok(rows.rows.length > 0);
  for (const r of rows.rows) {
    assert.equal(Number(r.balance), Number(r.ledger), `balance = Σ ledger for ${r.id}`);
    assert.equal(Number(r.balance), Number(r.lots), `balance = Σ lots for ${r.id}`);
    assert.ok(Number(r.balance) >= 0 && Number(r.negative) === 0, `never negative for ${r.id}`);
  }
}

type Env = Awaited<ReturnType<typeof loyaltyWorkspace>>;

const createReward = async (env: Env, body: Record<string, unknown>) => {
  const r = await env.call('POST', '/api/v1/loyalty/programmes/main/rewards', {
    kind: 'product',
    nameEn: 'Mug',
    nameRu: 'Кружка',
    cost: 10,
    ...body,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
};
const redeem = (env: Env, rewardId: string, body: Record<string, unknown>, k = key()) =>
  env.call('POST', `/api/v1/loyalty/programmes/main/rewards/${rewardId}/redeem`, body, { 'idempotency-key': k });

describe('loyalty: rewards', () => {
  it('50 concurrent redemptions of a reward with stock 10: exactly 10 succeed; the ledger holds', async () => {
    const env = await loyaltyWorkspace(app);
    const reward = await createReward(env, { stock: 10, cost: 10 });
    const customers = [];
    for (let i = 0; i < 50; i++) {
      const c = await env.customer();
      const p = await env.purchase({ customer: { card: c.card }, lines: [line('A', 200_000)] });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      customers.push({ ...c, qr: await env.qrOf(c.phone) });
    }
    const results = await Promise.all(customers.map((c) => redeem(env, reward.id, { customer: { qr: c.qr } })));
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    assert.equal(ok.length, 10, JSON.stringify(refused.slice(0, 3).map((r) => r.body)));
    assert.ok(refused.every((r) => r.status === 409 && r.body.code === 'OUT_OF_STOCK'));
    for (const r of ok) assert.equal(r.body.balances[0].total, 10);
    const after = await env.call('GET', `/api/v1/loyalty/programmes/main/rewards/${reward.id}`);
    assert.equal(after.body.stock, 0);
    assert.equal(after.body.redeemed, 10);
    const burns = await sql<{ n: number; sum: number }>`select count(*)::int as n, sum(amount)::bigint as sum
      from loyalty_ledger where workspace_id = ${env.ws.workspaceId} and kind = 'burn'`.execute(app.database.db);
    assert.equal(Number(burns.rows[0]?.n), 10);
    assert.equal(Number(burns.rows[0]?.sum), -100);
    await checkInvariants(env.ws.workspaceId);
  });

  it('needs the customer’s proof, burns through the ledger, issues a coupon shown once; replay changes nothing', async () => {
    const env = await loyaltyWorkspace(app);
    const reward = await createReward(env, {
      kind: 'discount',
      nameEn: '500 ₽ off',
      cost: 30,
      stock: 5,
      couponValueMinor: 50_000,
      couponMinBasketMinor: 100_000,
      couponValidDays: 30,
    });
    const c = await env.customer();
    const qr = await env.qrOf(c.phone);
    await env.purchase({ customer: { card: c.card }, lines: [line('A', 500_000)] });
    const noProof = await redeem(env, reward.id, { customer: { card: c.card } });
    assert.equal(noProof.status, 403);
    assert.equal(noProof.body.code, 'VERIFICATION_REQUIRED');
    const wrong = await redeem(env, reward.id, { customer: { card: c.card }, verification: { qr: 'x'.repeat(20) } });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'VERIFICATION_FAILED');

    // A one-time code sent to the customer's phone proves they are there.
    const sent = await env.call('POST', '/api/v1/loyalty/programmes/main/verifications', {
      customer: { card: c.card },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const otp = /^(\d{6})/.exec((await env.lastMessage(c.phone)) ?? '')?.[1] as string;
    const k = key();
    const body = { customer: { card: c.card }, verification: { id: sent.body.verificationId, code: otp } };
    const first = await redeem(env, reward.id, body, k);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.points, 30);
    assert.equal(first.body.balances[0].total, 20);
    const code = first.body.coupon.code as string;
    assert.match(code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    assert.equal(first.body.coupon.last4, code.replaceAll('-', '').slice(-4));
    assert.equal(first.body.coupon.sentToPhone, true);
    assert.ok((await env.lastMessage(c.phone))?.includes(code), 'the code went to the customer’s phone');

    const replay = await redeem(env, reward.id, body, k);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body.redemptionId, first.body.redemptionId);
    assert.equal(replay.body.coupon.code, null, 'the clear code is shown once');
    const reused = await redeem(env, reward.id, { customer: { qr } }, k);
    assert.equal(reused.status, 409, JSON.stringify(reused.body));
    assert.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal((await env.balance(c.profileId)).total, 20);

    // The stored code is a keyed hash: the clear code appears nowhere in the database.
    const stored = await sql<{ n: number }>`select count(*)::int as n from loyalty_coupons
      where code_hash::text like ${`%${code}%`} or last4 = ${code}`.execute(app.database.db);
    assert.equal(Number(stored.rows[0]?.n), 0);
    const requests = await sql<{ response: unknown }>`select response from loyalty_requests
      where workspace_id = ${env.ws.workspaceId} and key = ${k}`.execute(app.database.db);
    assert.ok(!JSON.stringify(requests.rows[0]?.response).includes(code.replaceAll('-', '')));

    // The ledger names the reward; the member's redemptions list it.
    const ledger = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${c.profileId}/ledger`);
    const burn = ledger.body.items.find((e: { kind: string }) => e.kind === 'burn');
    assert.equal(burn.amount, -30);
    assert.match(burn.reason, /500 ₽ off/);
    const list = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${c.profileId}/redemptions`);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].couponLast4, first.body.coupon.last4);
    const noMoney = await redeem(env, reward.id, { customer: { qr } });
    assert.equal(noMoney.status, 409);
    assert.equal(noMoney.body.code, 'INSUFFICIENT_POINTS');
    await checkInvariants(env.ws.workspaceId);

    // At the till: valid for a big enough basket, not for a small one.
    const valid = await env.call('POST', '/api/v1/loyalty/coupons/validate', {
      code: code.toLowerCase(),
      basketMinor: 200_000,
      currency: 'RUB',
    });
    assert.deepEqual(valid.body, {
      valid: true,
      reason: null,
      valueMinor: 50_000,
      currency: 'RUB',
      minBasketMinor: 100_000,
      last4: first.body.coupon.last4,
    });
    const small = await env.call('POST', '/api/v1/loyalty/coupons/validate', {
      code,
      basketMinor: 10_000,
      currency: 'RUB',
    });
    assert.equal(small.body.reason, 'BASKET_TOO_SMALL');
  });
});

describe('loyalty: cancelling a redemption', () => {
  it('gives the points back to their lots, the stock back, voids the coupon; not once the coupon is used', async () => {
    const env = await loyaltyWorkspace(app);
    const reward = await createReward(env, {
      kind: 'discount',
      nameEn: '500 ₽ off',
      cost: 30,
      stock: 2,
      perMemberLimit: 1,
      couponValueMinor: 50_000,
      couponValidDays: 30,
    });
    const c = await env.customer();
    const qr = await env.qrOf(c.phone);
    await env.purchase({ customer: { card: c.card }, lines: [line('A', 500_000)] });
    const first = await redeem(env, reward.id, { customer: { qr } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const firstCode = first.body.coupon.code as string;
    assert.equal((await redeem(env, reward.id, { customer: { qr } })).body.code, 'REWARD_LIMIT');

    const cancel = (id: string, body: Record<string, unknown>, k = key()) =>
      env.call('POST', `/api/v1/loyalty/programmes/main/redemptions/${id}/cancel`, body, { 'idempotency-key': k });
    const k = key();
    const cancelled = await cancel(first.body.redemptionId, { reason: 'changed their mind' }, k);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.pointsReturned, 30);
    assert.equal(cancelled.body.pointsExpired, 0);
    assert.equal(cancelled.body.balances[0].total, 50);
    const replay = await cancel(first.body.redemptionId, { reason: 'changed their mind' }, k);
    assert.equal(replay.status, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.body, cancelled.body);
    const twice = await cancel(first.body.redemptionId, {});
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'REDEMPTION_CANCELLED');
    assert.equal((await env.balance(c.profileId)).total, 50);
    const stock = await env.call('GET', `/api/v1/loyalty/programmes/main/rewards/${reward.id}`);
    assert.equal(stock.body.stock, 2);
    assert.equal(stock.body.redeemed, 0);

    // The points went back to the lot they came from; the ledger says why; the list shows the cancellation.
    const ledger = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${c.profileId}/ledger`);
    const back = ledger.body.items.find((e: { kind: string }) => e.kind === 'reverse');
    assert.equal(back.amount, 30);
    assert.match(back.reason, /Reward cancelled: 500 ₽ off .*changed their mind/);
    const list = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${c.profileId}/redemptions`);
    assert.equal(list.body.items[0].cancelReason, 'changed their mind');
    assert.ok(list.body.items[0].cancelledAt);
    const audit = await sql<{ n: number }>`select count(*)::int as n from audit_log
      where workspace_id = ${env.ws.workspaceId} and action = 'loyalty.redemption_cancelled'
        and target_id = ${c.profileId}`.execute(app.database.db);
    assert.equal(Number(audit.rows[0]?.n), 1);

    // The void coupon answers like any code that cannot be used.
    const basket = { basketMinor: 100_000, currency: 'RUB' };
    const voided = await env.call('POST', '/api/v1/loyalty/coupons/validate', { code: firstCode, ...basket });
    assert.equal(voided.body.valid, false);
    const useVoided = await env.call(
      'POST',
      '/api/v1/loyalty/coupons/redeem',
      { code: firstCode, ...basket },
      { 'idempotency-key': key() },
    );
    assert.equal(useVoided.status, 409);
    assert.equal(useVoided.body.code, 'COUPON_NOT_VALID');

    // A cancelled redemption does not count towards the limit; a used coupon stops the cancellation until its use
    // is reversed.
    const second = await redeem(env, reward.id, { customer: { qr } });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const used = await env.call(
      'POST',
      '/api/v1/loyalty/coupons/redeem',
      { code: second.body.coupon.code, ...basket },
      { 'idempotency-key': key() },
    );
    assert.equal(used.status, 201, JSON.stringify(used.body));
    const refused = await cancel(second.body.redemptionId, {});
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'COUPON_USED');
    // A till key bound to a branch does not see the redemptions of others.
    const north = await env.call('POST', '/api/v1/branches', { name: 'North', code: 'N' });
    const northKey = await env.call('POST', '/api/v1/keys', {
      kind: 'secret',
      name: 'North till',
      role: 'operator',
      branchId: north.body.id,
    });
    const elsewhere = await app.server.inject({
      method: 'POST',
      url: `/api/v1/loyalty/programmes/main/redemptions/${second.body.redemptionId}/cancel`,
      headers: { authorization: `Bearer ${northKey.body.secret}`, 'idempotency-key': key() },
      payload: {},
    });
    assert.equal(elsewhere.statusCode, 404, elsewhere.body);
    assert.equal(elsewhere.json().code, 'REDEMPTION_NOT_FOUND');
    assert.equal((await env.balance(c.profileId)).total, 20);
    const unused = await env.call('POST', `/api/v1/loyalty/coupons/uses/${used.body.useId}/reverse`, {});
    assert.equal(unused.status, 200, JSON.stringify(unused.body));
    assert.equal((await cancel(second.body.redemptionId, {})).status, 200);
    assert.equal((await env.balance(c.profileId)).total, 50);

    const unknown = await cancel('00000000-0000-4000-8000-000000000000', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'REDEMPTION_NOT_FOUND');
    const noKey = await env.call(
      'POST',
      `/api/v1/loyalty/programmes/main/redemptions/${second.body.redemptionId}/cancel`,
      {},
    );
    assert.equal(noKey.status, 400);
    await checkInvariants(env.ws.workspaceId);
  });
});

describe('loyalty: coupons at the till', () => {
  it('50 concurrent redemptions of one coupon: exactly one wins; unknown, used and expired answer alike', async () => {
    const env = await loyaltyWorkspace(app);
    const batch = await env.call('POST', '/api/v1/loyalty/programmes/main/coupons/batches', {
      label: 'Spring',
      count: 3,
      valueMinor: 20_000,
    });
    assert.equal(batch.status, 201, JSON.stringify(batch.body));
    const csv = await app.server.inject({ method: 'GET', url: batch.body.downloadUrl, headers: env.ws.bearer });
    assert.equal(csv.statusCode, 200, csv.body);
    const codes = csv.body
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[0] as string);
    assert.equal(codes.length, 3);
    assert.equal(new Set(codes).size, 3);
    const again = await app.server.inject({ method: 'GET', url: batch.body.downloadUrl, headers: env.ws.bearer });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'ALREADY_DOWNLOADED');

    const code = codes[0] as string;
    const basket = { basketMinor: 100_000, currency: 'RUB', branch: 'S1' };
    const keys = Array.from({ length: 50 }, key);
    const results = await Promise.all(
      keys.map((k, i) =>
        env.call(
          'POST',
          '/api/v1/loyalty/coupons/redeem',
          // Each till its own branch: a used code counts as a wrong one against the till's limit, like any other.
          { code, ...basket, branch: `S${i}`, cashier: `c${i}` },
          { 'idempotency-key': k },
        ),
      ),
    );
    const won = results.filter((r) => r.status === 201);
    assert.equal(won.length, 1, JSON.stringify(results.filter((r) => r.status !== 409).map((r) => r.body)));
    assert.ok(results.every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'COUPON_NOT_VALID')));
    const winner = won[0] as Call;
    const winnerKey = keys[results.indexOf(winner)] as string;
    assert.equal(winner.body.branch, `S${results.indexOf(winner)}`);
    const replay = await env.call(
      'POST',
      '/api/v1/loyalty/coupons/redeem',
      { code, ...basket, branch: winner.body.branch, cashier: winner.body.cashier },
      { 'idempotency-key': winnerKey },
    );
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body.useId, winner.body.useId);
    const uses = await sql<{ n: number }>`select count(*)::int as n from loyalty_coupon_uses
      where workspace_id = ${env.ws.workspaceId}`.execute(app.database.db);
    assert.equal(Number(uses.rows[0]?.n), 1);

    // An expired coupon (a batch whose validity ended).
    const old = await env.call('POST', '/api/v1/loyalty/programmes/main/coupons/batches', {
      count: 1,
      valueMinor: 20_000,
      validFrom: '2020-01-01T00:00:00Z',
      validUntil: '2020-02-01T00:00:00Z',
    });
    const expired = (await app.server.inject({ method: 'GET', url: old.body.downloadUrl, headers: env.ws.bearer })).body
      .split('\n')[1]
      ?.split(',')[0] as string;
    const unknown = 'ABCD-EFGH-JKMN';
    const answers = [];
    for (const c of [unknown, code, expired]) {
      answers.push(await env.call('POST', '/api/v1/loyalty/coupons/validate', { code: c, ...basket }));
      answers.push(
        await env.call('POST', '/api/v1/loyalty/coupons/redeem', { code: c, ...basket }, { 'idempotency-key': key() }),
      );
    }
    const validates = answers.filter((_, i) => i % 2 === 0);
    const redeems = answers.filter((_, i) => i % 2 === 1);
    for (const a of validates)
      assert.deepEqual({ s: a.status, b: a.body }, { s: validates[0]?.status, b: validates[0]?.body });
    assert.equal(validates[0]?.body.valid, false);
    for (const r of redeems) {
      assert.equal(r.status, 409);
      assert.deepEqual(
        { code: r.body.code, detail: r.body.detail, title: r.body.title },
        { code: redeems[0]?.body.code, detail: redeems[0]?.body.detail, title: redeems[0]?.body.title },
      );
    }

    // A cancelled sale gives the coupon back.
    const reversed = await env.call('POST', `/api/v1/loyalty/coupons/uses/${winner.body.useId}/reverse`, {});
    assert.equal(reversed.status, 200, JSON.stringify(reversed.body));
    assert.ok(reversed.body.reversedAt);
    const validAgain = await env.call('POST', '/api/v1/loyalty/coupons/validate', { code, ...basket });
    assert.equal(validAgain.body.valid, true);

    // Wrong codes are limited per key and branch (in the database).
    let limited: Call | undefined;
    for (let i = 0; i < 25 && !limited; i++) {
      const r = await env.call('POST', '/api/v1/loyalty/coupons/validate', { code: `WRONG${i}`, ...basket });
      if (r.status === 429) limited = r;
    }
    assert.equal(limited?.body.code, 'RATE_LIMITED');
    const otherBranch = await env.call('POST', '/api/v1/loyalty/coupons/validate', { code, ...basket, branch: 'S2' });
    assert.equal(otherBranch.body.valid, true);
  });
});

describe('loyalty: restrictions and clubs', () => {
  it('tier, club and per-member limits; a club’s multiplier earns through the rules', async () => {
    const env = await loyaltyWorkspace(app, {
      settings: {
        wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 }],
        tiers: {
          metric: 'spend',
          windowDays: 90,
          graceDays: 30,
          levels: [
            { key: 'member', name: 'Member', threshold: 0 },
            { key: 'gold', name: 'Gold', threshold: 10_000_000 },
          ],
        },
      },
    });
    const club = await env.call('POST', '/api/v1/loyalty/programmes/main/clubs', {
      key: 'parents',
      nameEn: 'Parents’ club',
      nameRu: 'Клуб родителей',
      earnMultiplier: 2,
    });
    assert.equal(club.status, 201, JSON.stringify(club.body));
    assert.ok(club.body.earnRuleId);
    const fields = await env.call('GET', '/api/v1/loyalty/rule-fields');
    assert.ok(JSON.stringify(fields.body).includes('member.clubs'));

    const gold = await createReward(env, { nameEn: 'Gold lounge', cost: 1, tier: 'gold' });
    const clubOnly = await createReward(env, { nameEn: 'Stroller', cost: 1, clubId: club.body.id, perMemberLimit: 1 });
    const c = await env.customer();
    const qr = await env.qrOf(c.phone);
    await env.purchase({ customer: { card: c.card }, lines: [line('A', 100_000)] });
    assert.equal((await env.balance(c.profileId)).total, 10, 'no multiplier before joining');

    const tier = await redeem(env, gold.id, { customer: { qr } });
    assert.equal(tier.status, 403);
    assert.equal(tier.body.code, 'TIER_REQUIRED');
    const notMember = await redeem(env, clubOnly.id, { customer: { qr } });
    assert.equal(notMember.status, 403);
    assert.equal(notMember.body.code, 'CLUB_REQUIRED');

    const joined = await env.call('POST', `/api/v1/loyalty/programmes/main/clubs/${club.body.id}/join`, {
      customer: { card: c.card },
    });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.equal(joined.body.clubs[0].key, 'parents');
    await env.purchase({ customer: { card: c.card }, lines: [line('A', 100_000)] });
    assert.equal((await env.balance(c.profileId)).total, 30, 'club members earn double');

    const ok = await redeem(env, clubOnly.id, { customer: { qr } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.coupon, null);
    const limit = await redeem(env, clubOnly.id, { customer: { qr } });
    assert.equal(limit.status, 409);
    assert.equal(limit.body.code, 'REWARD_LIMIT');

    const left = await env.call('POST', `/api/v1/loyalty/programmes/main/clubs/${club.body.id}/leave`, {
      customer: { card: c.card },
    });
    assert.equal(left.body.clubs.length, 0);
    await env.purchase({ customer: { card: c.card }, lines: [line('A', 100_000)] });
    assert.equal((await env.balance(c.profileId)).total, 39, 'no multiplier after leaving');
    await checkInvariants(env.ws.workspaceId);
  });

  it('redemptions, coupons and club memberships follow the survivor of a merge and appear in the export', async () => {
    const env = await loyaltyWorkspace(app);
    const club = (
      await env.call('POST', '/api/v1/loyalty/programmes/main/clubs', { key: 'runners', nameEn: 'Runners' })
    ).body;
    const reward = await createReward(env, { kind: 'coupon', nameEn: 'Coffee', cost: 5, couponValueMinor: 15_000 });
    // A person known by user id and phone, a member by profile, redeems with a one-time code.
    const userId = `u-${randomToken(8)}`;
    const phone = `+7916${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...env.writeAuth, 'content-type': 'application/json' },
      payload: { userId, traits: { phone } },
    });
    const personId = (await env.call('GET', `/api/v1/profiles?identifier=user_id:${userId}`)).body.items[0].id;
    await env.purchase({ customer: { profileId: personId }, lines: [line('A', 100_000)] });
    const sent = await env.call('POST', '/api/v1/loyalty/programmes/main/verifications', {
      customer: { profileId: personId },
    });
    const otp = /^(\d{6})/.exec((await env.lastMessage(phone)) ?? '')?.[1] as string;
    const redeemed = await redeem(env, reward.id, {
      customer: { profileId: personId },
      verification: { id: sent.body.verificationId, code: otp },
    });
    assert.equal(redeemed.status, 201, JSON.stringify(redeemed.body));
    // A pre-printed card used anonymously joins a club.
    const { luhnDigit } = await import('./loyalty.cardnumbers.ts');
    const number = `700200004444${luhnDigit('700200004444')}`;
    assert.equal((await env.call('POST', '/api/v1/loyalty/programmes/main/cards', { number })).status, 201);
    await env.purchase({ customer: { card: number }, lines: [line('A', 200_000)] });
    const join = await env.call('POST', `/api/v1/loyalty/programmes/main/clubs/${club.id}/join`, {
      customer: { card: number },
    });
    assert.equal(join.status, 200, JSON.stringify(join.body));

    // The person registers the card: the two profiles merge.
    await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...env.writeAuth, 'content-type': 'application/json' },
      payload: { userId, traits: { card: number } },
    });
    const survivor = (await env.call('GET', `/api/v1/profiles?identifier=card:${number}`)).body.items[0].id;
    assert.equal((await env.call('GET', `/api/v1/profiles?identifier=user_id:${userId}`)).body.items[0].id, survivor);
    const member = await env.member(survivor);
    assert.equal(member.balances[0].total, 10 - 5 + 20);
    const list = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${survivor}/redemptions`);
    assert.equal(list.body.items.length, 1);
    const clubs = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${survivor}/clubs`);
    assert.deepEqual(
      clubs.body.clubs.map((c: { key: string }) => c.key),
      ['runners'],
    );
    const owned = await sql<{ n: number }>`select count(*)::int as n from loyalty_coupons
      where member_id = ${member.id}`.execute(app.database.db);
    assert.equal(Number(owned.rows[0]?.n), 1);
    await checkInvariants(env.ws.workspaceId);

    const { loyaltyContributor } = await import('./loyalty.subject.ts');
    const exported = await loyaltyContributor().export(app.database.db, env.ws.workspaceId, survivor, {
      profileIds: new Set([survivor]),
    } as never);
    const records = new Set(exported.map((r) => (r as { record: string }).record));
    for (const r of ['reward redemption', 'coupon', 'club membership']) assert.ok(records.has(r), r);
  });
});

describe('loyalty: rewards input', () => {
  it('answers bad input with 4xx problems and stable codes', async () => {
    const env = await loyaltyWorkspace(app);
    const base = { kind: 'product', nameEn: 'Mug', cost: 10 };
    const cases: [Record<string, unknown>, number, string?][] = [
      [{ ...base, imageUrl: 'http://example.com/a.png' }, 400],
      [{ ...base, imageUrl: 'javascript:alert(1)' }, 400],
      [{ ...base, cost: 0 }, 400],
      [{ ...base, stock: -1 }, 400],
      [{ ...base, kind: 'discount' }, 400],
      [{ ...base, kind: 'car' }, 400],
      [{ ...base, startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' }, 400],
      [{ ...base, tier: 'gold' }, 400, 'UNKNOWN_TIER'],
      [{ ...base, wallet: 'miles' }, 400, 'UNKNOWN_WALLET'],
      [{ ...base, clubId: '00000000-0000-7000-8000-000000000000' }, 400, 'UNKNOWN_CLUB'],
      [{ ...base, extra: 1 }, 400],
    ];
    for (const [body, status, code] of cases) {
      const r = await env.call('POST', '/api/v1/loyalty/programmes/main/rewards', body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
      assert.match(String(r.headers['content-type']), /problem\+json/);
      if (code) assert.equal(r.body.code, code);
    }
    const reward = await createReward(env, {
      imageUrl: 'https://cdn.example.com/mug.png',
      startsAt: '2020-01-01T00:00:00Z',
      endsAt: '2021-01-01T00:00:00Z',
    });
    const c = await env.customer();
    const qr = await env.qrOf(c.phone);
    const noKey = await env.call('POST', `/api/v1/loyalty/programmes/main/rewards/${reward.id}/redeem`, {
      customer: { qr },
    });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.code, 'IDEMPOTENCY_KEY_REQUIRED');
    const ended = await redeem(env, reward.id, { customer: { qr } });
    assert.equal(ended.status, 409);
    assert.equal(ended.body.code, 'REWARD_NOT_AVAILABLE');
    const missing = await redeem(env, '00000000-0000-7000-8000-000000000000', { customer: { qr } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'REWARD_NOT_FOUND');
    const badId = await env.call('GET', '/api/v1/loyalty/programmes/main/rewards/not-a-uuid');
    assert.equal(badId.status, 400);
    const archived = await app.server.inject({
      method: 'DELETE',
      url: `/api/v1/loyalty/programmes/main/rewards/${reward.id}`,
      headers: env.ws.bearer,
    });
    assert.equal(archived.statusCode, 200, archived.body);
    assert.equal(archived.json().status, 'archived');
    const patched = await env.call('PATCH', `/api/v1/loyalty/programmes/main/rewards/${reward.id}`, { stock: -5 });
    assert.equal(patched.status, 400);
    for (const body of [
      {},
      { code: 'X', basketMinor: -1, currency: 'RUB' },
      { code: 'X', basketMinor: 1, currency: 'rub' },
    ]) {
      const r = await env.call('POST', '/api/v1/loyalty/coupons/validate', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
    }
    for (const body of [
      { count: 0, valueMinor: 1 },
      { count: 1, valueMinor: 0 },
      { count: 100_001, valueMinor: 1 },
    ]) {
      const r = await env.call('POST', '/api/v1/loyalty/programmes/main/coupons/batches', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
    }
    const club = await env.call('POST', '/api/v1/loyalty/programmes/main/clubs', { key: 'Bad Key', nameEn: 'x' });
    assert.equal(club.status, 400);
    const dup = { key: 'vip', nameEn: 'VIP' };
    assert.equal((await env.call('POST', '/api/v1/loyalty/programmes/main/clubs', dup)).status, 201);
    const taken = await env.call('POST', '/api/v1/loyalty/programmes/main/clubs', dup);
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'CLUB_KEY_TAKEN');
  });
});
