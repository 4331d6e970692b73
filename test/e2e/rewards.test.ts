import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import {
  ARTIFACTS,
  assertNoTrouble,
  CHROMIUM,
  CHROMIUM_ARGS,
  type ConsoleApi,
  choose,
  consoleApi,
  dismissNotifications,
  ensureConsoleBuilt,
  LAPTOP,
  settled,
  shoot,
  signIn,
  waitUntil,
  watchForTrouble,
} from './browser.ts';

/**
 * Rewards in the console, in a real browser against a real server and database: a marketer adds a discount reward
 * with stock to the catalogue; an operator redeems it on the member card with the proof a till asks for (a code sent
 * to the customer's phone); the balance and the stock drop and the coupon's code is shown once; at the till the
 * coupon is checked and accepted, and is no longer valid afterwards. Clubs are created on their own tab.
 */

/**
 * The member card's referral panel asks for the member's invite code, which is 404 until one is made; Chromium logs
 * that answer as a console error. It is not this test's subject.
 */
function forgiveNoInviteCode(problems: string[]) {
  const rest = problems.filter(
    (p) =>
      !(
        p.includes('status of 404') && /\/api\/v1\/loyalty\/programmes\/[^/]+\/members\/[0-9a-f-]+\/referral\)$/.test(p)
      ),
  );
  problems.splice(0, problems.length, ...rest);
}

interface Member {
  balances: { wallet: string; available: number; total: number }[];
}
interface Reward {
  id: string;
  stock: number | null;
  redeemed: number;
}

test('rewards in the console', { timeout: 300_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test`);
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureConsoleBuilt();

  const { createTestApp, ADMIN_EMAIL, ADMIN_PASSWORD } = await import('../../src/testing.ts');
  const app = await createTestApp({ worker: true });
  const url = await app.server.listen({ port: 0, host: '127.0.0.1' });
  let browser: Browser | undefined;
  const problems: string[] = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: LAPTOP, locale: 'en-US' });
    const page = await context.newPage();
    watchForTrouble(page, problems);
    await signIn(page, url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const api: ConsoleApi = await consoleApi(page, url);

    // A programme with a card range and one earn rule, and a customer with a phone and 500 points.
    await api.post('/api/v1/loyalty/programmes', {
      key: 'club',
      name: 'Samovar Club',
      currency: 'RUB',
      timeZone: 'Europe/Moscow',
      settings: { wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 }] },
    });
    await api.post('/api/v1/loyalty/programmes/club/card-ranges', {
      kind: 'virtual',
      prefix: '7788',
      length: 16,
      firstSerial: 1,
      lastSerial: 99_999_999,
    });
    await api.post('/api/v1/loyalty/programmes/club/rules', {
      name: '1 point per rouble',
      trigger: 'purchase',
      formula: { kind: 'per_unit', points: 1, per: 100 },
    });
    const { secret: writeKey } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'Site' });
    const phone = '+79161234567';
    const identified = await fetch(`${url}/v1/identify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({ userId: 'vera', traits: { name: 'Vera Ivanova', phone } }),
    });
    assert.equal(identified.status, 200);
    const vera =
      (await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=user_id:vera')).items[0]?.id ?? '';
    const card = await api.post<{ number: string }>('/api/v1/loyalty/programmes/club/cards', { profileId: vera });
    await api.post('/api/v1/loyalty/programmes/club/purchases', {
      customer: { card: card.number },
      currency: 'RUB',
      lines: [{ sku: 'TEA', quantity: 1, price: 50_000 }],
      idempotencyKey: 'e2e-purchase-1',
    });
    let rewardId = '';
    let couponCode = '';

    await t.test('a marketer adds a discount reward with stock to the catalogue', async () => {
      await page.goto(`${url}/loyalty?view=catalogue`);
      await page.getByTestId('catalogue').waitFor();
      await page.getByTestId('reward-add').click();
      const form = page.getByTestId('reward-form');
      await form.waitFor();
      await choose(page, form.getByTestId('reward-kind'), 'Discount');
      await form.getByTestId('reward-name-en').fill('Tea set discount');
      await form.getByTestId('reward-name-ru').fill('Скидка на чайный набор');
      await form.getByTestId('reward-cost').fill('100');
      await form.getByTestId('reward-stock-input').fill('3');
      await form.getByTestId('reward-coupon-value').fill('150.00');
      await settled(page);
      await shoot(page, '80-reward-form');
      await form.getByTestId('reward-save').click();
      await page.getByTestId('reward-row').waitFor();
      const { items } = await api.get<{ items: (Reward & { couponValueMinor: number })[] }>(
        '/api/v1/loyalty/programmes/club/rewards',
      );
      assert.equal(items.length, 1);
      assert.equal(items[0]?.stock, 3);
      assert.equal(items[0]?.couponValueMinor, 15_000);
      rewardId = items[0]?.id ?? '';
      assert.equal(await page.getByTestId('reward-stock').getAttribute('data-stock'), '3');
      await dismissNotifications(page);
      await shoot(page, '81-catalogue');
      assertNoTrouble(problems);
    });

    await t.test('an operator redeems it on the member card with a code sent to the customer’s phone', async () => {
      await page.goto(`${url}/loyalty/members/${vera}`);
      const panel = page.getByTestId('member-rewards');
      await panel.waitFor();
      assert.equal(await page.getByTestId('balance-card').first().getAttribute('data-available'), '500');
      await choose(page, panel.getByTestId('redeem-reward'), 'Tea set discount — 100 (3 left)');
      assert.ok(await panel.getByTestId('redeem-submit').isDisabled(), 'no redemption without the customer’s proof');
      await panel.getByTestId('redeem-send-code').click();
      await panel.getByTestId('redeem-code').waitFor();
      const outbox = await api.get<{ items: { address: string; body: string }[] }>('/api/v1/loyalty/outbox?limit=50');
      const otp = /^(\d{6})/.exec(outbox.items.find((m) => m.address === phone)?.body ?? '')?.[1] ?? '';
      assert.match(otp, /^\d{6}$/, 'the code went to the customer’s phone');
      await panel.getByTestId('redeem-code').fill(otp);
      await panel.getByTestId('redeem-submit').click();
      const done = panel.getByTestId('redeem-done');
      await done.waitFor();
      couponCode = ((await done.getByTestId('redeem-coupon-code').textContent()) ?? '').trim();
      assert.match(couponCode, /^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/);
      await waitUntil(
        async () => (await page.getByTestId('balance-card').first().getAttribute('data-available')) === '400',
        'the balance drops by the reward’s cost',
      );
      const member = await api.get<Member>(`/api/v1/loyalty/programmes/club/members/${vera}`);
      assert.equal(member.balances[0]?.total, 400);
      const reward = await api.get<Reward>(`/api/v1/loyalty/programmes/club/rewards/${rewardId}`);
      assert.equal(reward.stock, 2);
      assert.equal(reward.redeemed, 1);
      await panel.getByTestId('redemptions').getByText('Tea set discount').waitFor();
      await settled(page);
      await shoot(page, '82-member-redeemed', true);

      // The code is shown once: after a reload only its last four characters remain.
      await page.reload();
      await page.getByTestId('member-rewards').getByTestId('redemptions').getByText('Tea set discount').waitFor();
      assert.equal(await page.getByTestId('redeem-coupon-code').count(), 0);
      assert.equal(await page.getByText(couponCode).count(), 0, 'the clear code is gone from the page');
      assert.ok(await page.getByText(`••••${couponCode.slice(-4)}`).isVisible());
      await page.goto(`${url}/loyalty?view=catalogue`);
      await waitUntil(
        async () => (await page.getByTestId('reward-stock').getAttribute('data-stock')) === '2',
        'the catalogue shows the stock left',
      );
      forgiveNoInviteCode(problems);
      assertNoTrouble(problems);
    });

    await t.test('at the till the coupon is checked, accepted once, and refused afterwards', async () => {
      await page.goto(`${url}/loyalty`);
      const till = page.getByTestId('coupon-till');
      await till.waitFor();
      await till.getByTestId('coupon-code').fill(couponCode.toLowerCase());
      await till.getByTestId('coupon-basket').fill('800');
      await till.getByTestId('coupon-validate').click();
      await till.getByTestId('coupon-valid').waitFor();
      await till.getByTestId('coupon-redeem').click();
      await till.getByTestId('coupon-used').waitFor();
      await settled(page);
      await shoot(page, '83-till-coupon');
      await till.getByTestId('coupon-code').fill(couponCode);
      await till.getByTestId('coupon-validate').click();
      await till.getByTestId('coupon-invalid').waitFor();
      assert.match((await till.getByTestId('coupon-invalid').textContent()) ?? '', /cannot be used/);
      assertNoTrouble(problems);
    });

    await t.test('an operator cancels a redemption on the member card: points and stock come back', async () => {
      const sent = await api.post<{ verificationId: string }>('/api/v1/loyalty/programmes/club/verifications', {
        customer: { profileId: vera },
      });
      const outbox = await api.get<{ items: { address: string; body: string }[] }>('/api/v1/loyalty/outbox?limit=50');
      const otp = /^(\d{6})/.exec(outbox.items.find((m) => m.address === phone)?.body ?? '')?.[1] ?? '';
      const second = await api.post<{ redemptionId: string }>(
        `/api/v1/loyalty/programmes/club/rewards/${rewardId}/redeem`,
        {
          customer: { card: card.number },
          verification: { id: sent.verificationId, code: otp },
          idempotencyKey: 'e2e-redeem-2',
        },
      );
      await page.goto(`${url}/loyalty/members/${vera}`);
      const row = page.getByTestId(`redemption-${second.redemptionId}`);
      await row.waitFor();
      assert.equal(await page.getByTestId('balance-card').first().getAttribute('data-available'), '300');
      // The first redemption's coupon was used at the till: it cannot be cancelled.
      await page.getByTestId('redemptions').getByText('Coupon used').waitFor();
      await row.getByTestId('redemption-cancel').click();
      const form = page.getByTestId('redemption-cancel-form');
      await form.getByLabel('Reason (optional)').fill('The set was damaged');
      await form.getByRole('button', { name: 'Cancel the redemption' }).click();
      await waitUntil(
        async () => (await page.getByTestId('balance-card').first().getAttribute('data-available')) === '400',
        'the points come back',
      );
      await row.getByText(/^Cancelled /).waitFor();
      const reward = await api.get<Reward>(`/api/v1/loyalty/programmes/club/rewards/${rewardId}`);
      assert.equal(reward.stock, 2, 'the unit of stock is back');
      await page.getByTestId('member-rewards').scrollIntoViewIfNeeded();
      await settled(page);
      await shoot(page, '86-member-redemption-cancelled', true);
      forgiveNoInviteCode(problems);
      assertNoTrouble(problems);
    });

    await t.test('clubs are created on their tab; the Russian console shows the catalogue in Russian', async () => {
      await page.getByTestId('loyalty-tab-clubs').click();
      await page.getByTestId('clubs').waitFor();
      await page.getByTestId('club-add').click();
      await page.getByTestId('club-name-en').fill('Parents');
      await page.getByTestId('club-multiplier').fill('2');
      await page.getByTestId('club-save').click();
      await page.getByTestId('club-row').waitFor();
      const clubs = await api.get<{ items: { key: string; earnMultiplier: number; earnRuleId: string }[] }>(
        '/api/v1/loyalty/programmes/club/clubs',
      );
      assert.equal(clubs.items[0]?.key, 'parents');
      assert.equal(clubs.items[0]?.earnMultiplier, 2);
      assert.ok(clubs.items[0]?.earnRuleId, 'the multiplier is an earn rule');
      await dismissNotifications(page);
      await shoot(page, '84-clubs');

      // An operator adds the member to the club from her card; the card shows it and the API agrees.
      await page.goto(`${url}/loyalty/members/${vera}`);
      await page.getByTestId('member-clubs').waitFor();
      await choose(page, page.getByTestId('member-club-choice'), 'Parents');
      await page.getByTestId('member-club-join').click();
      await page.getByTestId('member-club').waitFor();
      assert.match((await page.getByTestId('member-club').textContent()) ?? '', /Parents/);
      const hers = await api.get<{ clubs: { key: string }[] }>(`/api/v1/loyalty/programmes/club/members/${vera}/clubs`);
      assert.deepEqual(
        hers.clubs.map((c) => c.key),
        ['parents'],
      );
      await page.getByTestId('member-clubs').scrollIntoViewIfNeeded();
      await shoot(page, '87-member-club');

      const ru = await browser?.newContext({ viewport: LAPTOP, locale: 'ru-RU' });
      const russian = await ru?.newPage();
      if (ru && russian) {
        watchForTrouble(russian, problems);
        await signIn(russian, url, ADMIN_EMAIL, ADMIN_PASSWORD);
        await russian.goto(`${url}/loyalty?view=catalogue`);
        await russian.getByTestId('reward-row').waitFor();
        await russian.getByText('Скидка на чайный набор').waitFor();
        await russian.getByText('Каталог наград').waitFor();
        await shoot(russian, '85-catalogue-ru');
        await ru.close();
      }
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await app.close();
  }
});
