import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import {
  ARTIFACTS,
  assertNoTrouble,
  CHROMIUM,
  CHROMIUM_ARGS,
  consoleApi,
  dismissNotifications,
  ensureConsoleBuilt,
  LAPTOP,
  PHONE,
  settled,
  shoot,
  signIn,
  waitUntil,
  watchForTrouble,
} from './browser.ts';

/**
 * Referrals and approvals in the console, in a real browser against a real server and database: a member's invite
 * code and the referral it brought show on the member card (the friend came with the code and bought, so both got
 * their points), the Referrals screen lists it, and a manual adjustment above the programme's threshold waits until
 * a second staff user approves it on the Approvals screen — the requester cannot.
 */

const MARKETER = { email: 'mark@example.test', name: 'Mark', password: 'marketer password 2026' };

test('referrals and approvals in the console', { timeout: 300_000 }, async (t) => {
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
    const launched = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    browser = launched;
    const owner = await (await launched.newContext({ viewport: LAPTOP, locale: 'en-US' })).newPage();
    watchForTrouble(owner, problems);
    await signIn(owner, url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const api = await consoleApi(owner, url);
    let anna = '';
    let boris = '';
    let receipt = { transactionId: '' };
    /** A member's points in the club programme. */
    const points = async (profileId: string) =>
      (await api.get<{ balances: { total: number }[] }>(`/api/v1/loyalty/programmes/club/members/${profileId}`))
        .balances[0]?.total;

    await api.post('/api/v1/loyalty/programmes', {
      key: 'club',
      name: 'Samovar Club',
      currency: 'EUR',
      timeZone: 'Europe/Berlin',
      settings: {
        wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 1 }],
        referrals: {
          minPurchaseMinor: 2000,
          referrerPoints: 500,
          inviteePoints: 200,
          landingUrl: 'https://example.com/',
        },
        adjustmentApprovalThreshold: 1000,
      },
    });
    await api.post('/api/v1/loyalty/programmes/club/card-ranges', {
      kind: 'virtual',
      prefix: '7788',
      length: 16,
      firstSerial: 1,
      lastSerial: 99_999_999,
    });
    await api.post('/api/v1/loyalty/programmes/club/rules', {
      name: '1 point per euro',
      trigger: 'purchase',
      formula: { kind: 'per_unit', points: 1, per: 100 },
    });
    await api.post('/api/v1/loyalty/programmes/club/rules', {
      name: 'Invite a friend',
      trigger: 'event',
      eventName: 'Referral Completed',
      formula: { kind: 'from_event', factor: 1 },
    });

    await t.test('a friend comes with Anna’s invite code and buys: both sides show on her member card', async () => {
      const { secret: writeKey } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'Site' });
      const send = async (path: string, body: unknown) => {
        const response = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
          },
          body: JSON.stringify(body),
        });
        assert.equal(response.status, 200, await response.text());
      };
      await send('/v1/identify', { userId: 'anna', traits: { name: 'Anna Petrova', email: 'anna@example.com' } });
      anna =
        (await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=user_id:anna')).items[0]?.id ?? '';
      const invite = await api.post<{ code: string; link: string }>(
        `/api/v1/loyalty/programmes/club/members/${anna}/referral`,
        {},
      );
      await send('/v1/identify', {
        userId: 'boris',
        traits: { name: 'Boris Ivanov', email: 'boris@example.com', referral_code: invite.code },
      });
      boris =
        (await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=user_id:boris')).items[0]?.id ?? '';
      const card = await api.post<{ number: string }>('/api/v1/loyalty/programmes/club/cards', { profileId: boris });
      receipt = await api.post<{ transactionId: string }>('/api/v1/loyalty/programmes/club/purchases', {
        customer: { card: card.number },
        currency: 'EUR',
        lines: [{ sku: 'samovar', price: 4500, quantity: 1 }],
        idempotencyKey: 'receipt-e2e-000001',
      });
      await waitUntil(async () => (await points(anna)) === 500, 'Anna’s 500 points for the referral arrive', 15_000);

      await owner.goto(`${url}/loyalty/members/${anna}?programme=club`);
      const panel = owner.getByTestId('member-referrals');
      await panel.getByTestId('invite-code').waitFor();
      assert.equal(await panel.getByTestId('invite-code').textContent(), invite.code);
      assert.ok((await panel.getByTestId('invite-link').inputValue()).endsWith(invite.link));
      const row = panel.getByTestId('member-referral-row');
      await row.waitFor();
      assert.equal(await row.getAttribute('data-status'), 'completed');
      await row.getByText('Boris Ivanov').waitFor();
      await panel.scrollIntoViewIfNeeded();
      await settled(owner);
      await shoot(owner, '80-member-referrals', true);

      await owner.getByTestId('loyalty-tab-referrals').click();
      await owner.getByTestId('referrals-page').getByTestId('referral-row').waitFor();
      assert.equal(await owner.getByTestId('referral-row').count(), 1);
      await owner.getByTestId('referral-row').getByText('Anna Petrova').waitFor();
      await owner.getByTestId('referral-row').getByText('Boris Ivanov').waitFor();
      await shoot(owner, '81-referrals');

      // The settings below the list change the daily limit and keep the rest.
      await owner.getByTestId('referral-max-per-day').fill('5');
      await owner.getByTestId('referral-settings-save').click();
      await owner.getByText('Settings saved').waitFor();
      const saved = await api.get<{
        settings: { referrals: Record<string, unknown>; adjustmentApprovalThreshold: number };
      }>('/api/v1/loyalty/programmes/club');
      assert.equal(saved.settings.referrals.maxPerDay, 5);
      assert.equal(saved.settings.referrals.referrerPoints, 500);
      assert.equal(saved.settings.adjustmentApprovalThreshold, 1000, 'other settings are kept');
      await dismissNotifications(owner);
      assertNoTrouble(problems);
    });

    await t.test('in Russian on a phone', async () => {
      const phone = await (await browser?.newContext({ viewport: PHONE, locale: 'ru-RU' }))?.newPage();
      assert.ok(phone);
      watchForTrouble(phone, problems);
      await signIn(phone, url, ADMIN_EMAIL, ADMIN_PASSWORD);
      await phone.getByTestId('language-ru').click();
      await phone.goto(`${url}/loyalty?view=referrals`);
      await phone.getByTestId('referral-row').waitFor();
      await phone.getByText('Настройки приглашений').waitFor();
      await shoot(phone, '85-referrals-ru-phone', true);
      await phone.goto(`${url}/loyalty/members/${anna}?programme=club`);
      await phone.getByTestId('member-referrals').getByText('Пригласить друга').waitFor();
      await phone.getByTestId('member-referrals').scrollIntoViewIfNeeded();
      await settled(phone);
      await shoot(phone, '86-member-referrals-ru-phone');
      await phone.getByTestId('language-en').click();
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test('a large adjustment waits for a second user’s approval and is applied once', async () => {
      await owner.goto(`${url}/loyalty/members/${boris}?programme=club`);
      await owner.getByTestId('adjust-open').click();
      await owner.getByTestId('adjust-points').fill('5000');
      await owner.getByTestId('adjust-reason').fill('Complaint #4711: broken samovar');
      await owner.getByTestId('adjust-needs-approval').waitFor();
      await settled(owner);
      await shoot(owner, '82-adjust-needs-approval');
      await owner.getByTestId('adjust-submit').click();
      await owner.getByText('waits for another user’s approval').waitFor();
      assert.equal(await points(boris), 200 + 45, 'nothing applied while pending');
      const pending = await api.get<{ items: { id: string; points: number }[] }>('/api/v1/loyalty/adjustment-requests');
      assert.deepEqual(
        pending.items.map((r) => r.points),
        [5000],
      );
      const own = await api.raw('POST', `/api/v1/loyalty/adjustment-requests/${pending.items[0]?.id}/decision`, {
        decision: 'approve',
      });
      assert.equal(own.status, 403, 'the requester cannot approve');
      assert.equal(JSON.parse(own.body).code, 'APPROVER_IS_REQUESTER');
      await dismissNotifications(owner);

      await api.post('/api/v1/users', { ...MARKETER, role: 'marketer' });
      const second = await (await launched.newContext({ viewport: LAPTOP, locale: 'en-US' })).newPage();
      watchForTrouble(second, problems);
      await signIn(second, url, MARKETER.email, MARKETER.password);
      await second.goto(`${url}/loyalty?view=approvals`);
      const row = second.getByTestId('approval-row');
      await row.waitFor();
      assert.equal(await row.getAttribute('data-status'), 'pending');
      await shoot(second, '83-approvals');
      await row.getByTestId('approval-approve').click();
      await second.getByText('Adjustment approved and applied').waitFor();
      await second.getByTestId('approvals-page').getByText('Nothing waits for approval.').waitFor();
      assert.equal(await points(boris), 200 + 45 + 5000);
      await second.getByTestId('approvals-filter').getByText('Approved').click();
      await second.getByTestId('approval-row').waitFor();
      await dismissNotifications(second);
      await shoot(second, '84-approvals-approved');
      assertNoTrouble(problems);
    });

    await t.test('a voided receipt revokes the referral it completed and takes both rewards back', async () => {
      await api.post(`/api/v1/loyalty/programmes/club/transactions/${receipt.transactionId}/reverse`, {
        reason: 'receipt voided',
        idempotencyKey: 'void-e2e-000001',
      });
      await waitUntil(async () => (await points(anna)) === 0, 'Anna’s referral reward taken back', 15_000);
      await owner.goto(`${url}/loyalty?view=referrals`);
      const row = owner.getByTestId('referrals-page').getByTestId('referral-row');
      await row.waitFor();
      await row.getByText('Revoked').waitFor();
      await settled(owner);
      await shoot(owner, '87-referral-revoked');
      assert.equal(await points(boris), 5000, 'Boris keeps the approved adjustment only');
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await app.close();
  }
});
