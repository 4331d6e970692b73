import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import {
  ARTIFACTS,
  assertNoTrouble,
  CHROMIUM,
  CHROMIUM_ARGS,
  ensureConsoleBuilt,
  LAPTOP,
  PHONE,
  shoot,
  waitUntil,
  watchForTrouble,
} from './browser.ts';

/**
 * Consent and personal data in the console, in a real browser against a real server: the Consent page's counts
 * and confirmation outbox, a customer's data exported as JSON and as a zip of CSV files, the proof of consent opened
 * in a new tab, the person erased for good, the audit log that shows all of it (filtered by customer, actor and
 * action, with IP and user agent), and what a marketer and an analyst may not see.
 */

const WORDING = 'I agree to receive news and offers from Samovar by e-mail and SMS. I can unsubscribe at any time.';

interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

/** The management API as the signed-in console user (session cookie, CSRF token and workspace header). */
async function apiAs(page: Page, baseUrl: string): Promise<Api> {
  const session = await (await page.request.get(`${baseUrl}/api/v1/session`)).json();
  const headers = { 'x-csrf-token': session.csrfToken, 'rapport-workspace': session.memberships[0].workspace.id };
  const check = async <T>(response: Awaited<ReturnType<Page['request']['get']>>, what: string): Promise<T> => {
    assert.ok(response.ok(), `${what}: ${response.status()} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    get: async <T>(path: string) => check<T>(await page.request.get(`${baseUrl}${path}`, { headers }), `GET ${path}`),
    post: async <T>(path: string, body: unknown) =>
      check<T>(await page.request.post(`${baseUrl}${path}`, { headers, data: body }), `POST ${path}`),
  };
}

/** Menus and modals fade in: a screenshot taken at once catches them half-transparent. */
async function settled(page: Page) {
  await page.waitForTimeout(400);
}

/** Toasts of earlier steps would cover what the next screenshot is about. */
async function dismissNotifications(page: Page) {
  for (const close of await page.locator('.mantine-Notification-root button').all()) await close.click();
  await waitUntil(async () => (await page.locator('.mantine-Notification-root').count()) === 0, 'the toasts close');
}

async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(url);
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(password);
  await page.getByTestId('sign-in-submit').click();
  await page.getByTestId('nav-overview').waitFor();
}

/** The customers and their consents, sent the way a web form would: identify calls with `context.consent`. */
async function seedCustomers(url: string, writeKey: string) {
  const form = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Windows NT 10.0) Samovar sign-up form' };
  const grant = (channel: string, purpose: string) => ({
    channel,
    purpose,
    action: 'grant',
    source: 'form',
    wordingVersion: '2026-01',
  });
  const identify = (userId: string, traits: Record<string, string>, consent: unknown[]) => ({
    type: 'identify',
    userId,
    traits,
    context: { ...form, consent },
  });
  const batch = [
    identify('u1', { name: 'Anna Petrova', email: 'anna@example.com', phone: '+79161234567' }, [
      grant('email', 'marketing'),
      grant('sms', 'marketing'),
      { channel: 'any', purpose: 'processing', action: 'grant', source: 'form' },
    ]),
    identify('u2', { name: 'Boris Ivanov', email: 'boris@example.com' }, [grant('email', 'marketing')]),
    identify('u3', { name: 'Clara Sidorova', email: 'clara@example.com' }, [grant('email', 'marketing')]),
    identify('u4', { name: 'Dmitri Orlov', phone: '+79031112233' }, [grant('sms', 'marketing')]),
  ];
  const send = async (messages: unknown[]) => {
    const response = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({ batch: messages }),
    });
    const body = await response.text();
    assert.equal(response.status, 200, `the batch is accepted (${body})`);
    assert.doesNotMatch(body, /"rejected":\[\{/, 'no message is refused');
  };
  await send(batch);
  // Boris changes his mind a day later.
  await send([
    {
      type: 'identify',
      userId: 'u2',
      context: { ...form, consent: { channel: 'email', purpose: 'marketing', action: 'revoke', source: 'form' } },
    },
  ]);
}

test('consent and personal data in the console', { timeout: 240_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test`);
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureConsoleBuilt();

  const { startTestServer } = await import('../../src/testing.ts');
  const server = await startTestServer({ worker: true });
  let browser: Browser | undefined;
  const problems: string[] = [];
  try {
    const launched = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    browser = launched;
    const laptop: BrowserContext = await launched.newContext({
      viewport: LAPTOP,
      locale: 'en-US',
      acceptDownloads: true,
    });
    const page = await laptop.newPage();
    watchForTrouble(page, problems);
    await signIn(page, server.url, server.adminEmail, server.adminPassword);
    const api = await apiAs(page, server.url);
    const phoneContext = async () =>
      launched.newContext({ viewport: PHONE, locale: 'en-US', storageState: await laptop.storageState() });
    let anna = '';

    await t.test('the Consent page says plainly that nothing is recorded yet', async () => {
      await page.getByTestId('nav-consent').click();
      await page.waitForURL(/\/consent$/);
      await page.getByTestId('consent-summary-empty').waitFor();
      await page.getByTestId('consent-outbox-empty').waitFor();
      assert.equal(await page.getByTestId('coming-soon').count(), 0, 'no longer a "coming soon" page');
      await shoot(page, '21-consent-overview-empty');
      await page.getByTestId('language-ru').click();
      await page.getByTestId('consent-summary-empty').getByText('Согласий пока нет').waitFor();
      await shoot(page, '21-consent-overview-empty-ru');
      await page.getByTestId('language-en').click();
      assertNoTrouble(problems);
    });

    await t.test('counts consents per purpose and channel, and lists the confirmation outbox', async () => {
      await api.post('/api/v1/consent/wordings', {
        purpose: 'marketing',
        version: '2026-01',
        locale: 'en',
        text: WORDING,
      });
      const { secret: writeKey } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'Site' });
      await seedCustomers(server.url, writeKey);
      const found = await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=email:anna@example.com');
      anna = found.items[0]?.id ?? '';
      assert.ok(anna, 'Anna has a profile');
      const clara = (await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=email:clara@example.com'))
        .items[0]?.id;
      // Clara is asked to confirm personalised offers: pending, with a message in the outbox.
      await api.post(`/api/v1/profiles/${clara}/consents`, {
        statements: [{ channel: 'email', purpose: 'profiling', action: 'grant', source: 'staff', doubleOptIn: true }],
      });

      await page.reload();
      const count = (purpose: string, channel: string, status: string) =>
        page
          .locator(`[data-testid="consent-summary-row"][data-purpose="${purpose}"][data-channel="${channel}"]`)
          .locator(`[data-testid="consent-summary-count"][data-status="${status}"]`)
          .textContent();
      await page.getByTestId('consent-summary-table').waitFor();
      assert.equal(await count('marketing', 'email', 'granted'), '2', 'Anna and Clara granted e-mail marketing');
      assert.equal(await count('marketing', 'email', 'revoked'), '1', 'Boris revoked it');
      assert.equal(await count('marketing', 'sms', 'granted'), '2', 'Anna and Dmitri granted SMS marketing');
      assert.equal(await count('profiling', 'email', 'pending'), '1', "Clara's confirmation is pending");
      assert.equal(await count('processing', 'any', 'granted'), '1');
      // Every configured purpose has its block, even without anything recorded.
      await page.locator('[data-testid="consent-summary-purpose"][data-purpose="third_party"]').waitFor();
      const outbox = page.getByTestId('consent-outbox-row').filter({ hasText: 'clara@example.com' });
      await outbox.waitFor();
      await shoot(page, '22-consent-overview', true);

      await outbox.getByTestId('consent-outbox-profile').click();
      await page.getByTestId('profile-name').getByText('Clara Sidorova').waitFor();
      await page.goBack();
      await page.getByTestId('consent-summary-table').waitFor();

      await page.getByTestId('language-ru').click();
      await page.getByTestId('consent-summary').getByText('Текущее состояние').waitFor();
      await shoot(page, '22-consent-overview-ru', true);
      await page.getByTestId('language-en').click();

      const phone = await phoneContext();
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(`${server.url}/consent`);
      await phonePage.getByTestId('consent-summary-table').waitFor();
      await phonePage.getByTestId('consent-outbox-row').first().waitFor();
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the Consent page fits the phone's width (overflow ${overflow}px)`);
      await shoot(phonePage, '23-consent-overview-phone', true);
      await phonePage.getByTestId('language-ru').click();
      await phonePage.getByTestId('consent-summary').getByText('Текущее состояние').waitFor();
      await shoot(phonePage, '23-consent-overview-phone-ru', true);
      await phonePage.getByTestId('language-en').click();
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test("exports a customer's data as JSON and as a zip of CSV files", async () => {
      await page.goto(`${server.url}/customers/${anna}`);
      await page.getByTestId('profile-name').getByText('Anna Petrova').waitFor();

      await page.getByTestId('profile-export').click();
      await page.getByTestId('profile-export-json').waitFor();
      await settled(page);
      await shoot(page, '24-profile-export-menu');
      let downloading = page.waitForEvent('download');
      await page.getByTestId('profile-export-json').click();
      let download = await downloading;
      assert.equal(download.suggestedFilename(), `profile-${anna}.json`);
      const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
      assert.equal(exported.profileId, anna);
      assert.match(JSON.stringify(exported.sections), /anna@example\.com/, 'the export holds her e-mail');

      await page.getByTestId('profile-export').click();
      downloading = page.waitForEvent('download');
      await page.getByTestId('profile-export-csv').click();
      download = await downloading;
      assert.equal(download.suggestedFilename(), `profile-${anna}.zip`);
      assert.equal(
        readFileSync(await download.path())
          .subarray(0, 2)
          .toString('latin1'),
        'PK',
        'a zip file',
      );
      assertNoTrouble(problems);
    });

    await t.test('opens the proof of consent in a new tab, for the whole profile and for one address', async () => {
      const panel = page.getByTestId('profile-consent');
      const openProof = async (item: () => Promise<void>) => {
        const opened = laptop.waitForEvent('page');
        await item();
        const tab = await opened;
        watchForTrouble(tab, problems);
        await tab.waitForURL(/^blob:/);
        await tab.getByRole('heading', { name: 'Proof of consent' }).waitFor();
        return tab;
      };

      await dismissNotifications(page);
      await panel.scrollIntoViewIfNeeded();
      await panel.getByTestId('consent-proof').click();
      await page.getByTestId('consent-proof-all').waitFor();
      await settled(page);
      await shoot(page, '25-consent-proof-menu');
      const all = await openProof(() => page.getByTestId('consent-proof-all').click());
      const allText = (await all.textContent('body')) ?? '';
      assert.match(allText, /all addresses/);
      assert.match(allText, /anna@example\.com/);
      assert.match(allText, /\+79161234567/);
      assert.ok(allText.includes(WORDING), 'the report quotes the wording she was shown');
      assert.match(allText, /203\.0\.113\.7/, 'and the IP address of her sign-up');
      await all.setViewportSize(LAPTOP);
      await all.screenshot({ path: join(ARTIFACTS, '26-consent-proof.png'), fullPage: true });
      await all.close();

      await panel.getByTestId('consent-proof').click();
      const one = await openProof(() =>
        page.locator('[data-testid="consent-proof-address"][data-address="+79161234567"]').click(),
      );
      const oneText = (await one.textContent('body')) ?? '';
      assert.match(oneText, /\+79161234567/);
      assert.doesNotMatch(oneText, /anna@example\.com/, 'only the statements given for her phone');
      await one.close();

      // The report comes in the console's language.
      await page.getByTestId('language-ru').click();
      await panel.getByTestId('consent-proof').click();
      const opened = laptop.waitForEvent('page');
      await page.getByTestId('consent-proof-all').click();
      const russian = await opened;
      watchForTrouble(russian, problems);
      await russian.waitForURL(/^blob:/);
      await russian.getByRole('heading', { name: 'Подтверждение согласия' }).waitFor();
      await russian.close();
      await page.getByTestId('language-en').click();
      assertNoTrouble(problems);
    });

    await t.test('erases the customer after a confirmation, and shows what is left', async () => {
      const phone = await phoneContext();
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(page.url());
      await phonePage.getByTestId('profile-name').getByText('Anna Petrova').waitFor();
      await shoot(phonePage, '27-profile-actions-phone');
      await phonePage.getByTestId('profile-erase').click();
      await phonePage.getByTestId('erase-form').waitFor();
      await settled(phonePage);
      await shoot(phonePage, '27-erase-modal-phone');
      await phone.close();

      await page.getByTestId('language-ru').click();
      await page.getByTestId('profile-erase').click();
      await page.getByTestId('erase-form').waitFor();
      await dismissNotifications(page);
      await settled(page);
      await shoot(page, '27-erase-modal-ru');
      await page.getByTestId('erase-form').getByRole('button', { name: 'Отмена' }).click();
      await page.getByTestId('erase-form').waitFor({ state: 'detached' });
      await page.getByTestId('language-en').click();

      await page.getByTestId('profile-erase').click();
      const submit = page.getByTestId('erase-submit');
      assert.equal(await submit.isDisabled(), true, 'nothing can be erased before the form is complete');
      await page.getByTestId('erase-reason').click();
      await page.getByRole('option', { name: 'The person asked to be erased' }).click();
      await page.getByTestId('erase-ticket').fill('?who');
      await page.getByTestId('erase-form').getByText('Letters, digits and # . _ / -').waitFor();
      await page.getByTestId('erase-ticket').fill('REQ-2026/0142');
      await page.getByTestId('erase-confirm-word').fill('erase');
      await waitUntil(() => submit.isEnabled(), 'the typed word enables the button');
      await dismissNotifications(page);
      await shoot(page, '27-erase-modal');
      await submit.click();
      await page.getByTestId('erase-form').waitFor({ state: 'detached' });
      await page.getByText('Personal data erased', { exact: true }).waitFor();

      await page.getByTestId('profile-erased').waitFor();
      await page.getByTestId('profile-name').getByText('Erased customer').waitFor();
      assert.equal(await page.getByTestId('profile-identity').count(), 0, 'no identifiers are left');
      assert.equal(await page.getByTestId('profile-erase').count(), 0, 'an erased person cannot be erased again');
      assert.equal(await page.getByTestId('consent-record').count(), 0, 'nothing new is recorded for them');
      // Her decisions stay on record as proof, without her addresses.
      await page
        .locator('[data-testid="consent-cell"][data-channel="email"][data-purpose="marketing"][data-status="granted"]')
        .waitFor();
      assert.doesNotMatch((await page.getByTestId('profile-consent').textContent()) ?? '', /anna@example\.com/);
      await dismissNotifications(page);
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '28-profile-erased', true);

      const after = await phoneContext();
      const afterPage = await after.newPage();
      watchForTrouble(afterPage, problems);
      await afterPage.goto(page.url());
      await afterPage.getByTestId('profile-erased').waitFor();
      const overflow = await afterPage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the erased profile fits the phone's width (overflow ${overflow}px)`);
      await shoot(afterPage, '28-profile-erased-phone');
      await after.close();
      assertNoTrouble(problems);
    });

    await t.test("the customer's audit trail: who did what, from where, filtered by actor and action", async () => {
      await page.getByTestId('profile-audit').click();
      await page.waitForURL(new RegExp(`/settings/audit\\?targetId=${anna}$`));
      assert.equal(await page.getByTestId('audit-target-id').inputValue(), anna, 'the filter shows the customer');
      const rows = page.getByTestId('audit-row');
      const erased = rows.and(page.locator('[data-action="profile.erased"]'));
      await erased.waitFor();
      for (const action of ['profile.exported', 'consent.proof', 'profile.read', 'profile.listed']) {
        assert.ok((await rows.and(page.locator(`[data-action="${action}"]`)).count()) > 0, `the trail has ${action}`);
      }
      assert.equal(await rows.and(page.locator('[data-action="profile.exported"]')).count(), 2, 'JSON and CSV');
      assert.match((await erased.getByTestId('audit-actor').textContent()) ?? '', /\S/);
      assert.match((await erased.textContent()) ?? '', new RegExp(server.adminEmail.replace('.', '\\.')));

      await erased.getByTestId('audit-toggle').click();
      const details = page.getByTestId('audit-details');
      await details.waitFor();
      const detailsText = (await details.textContent()) ?? '';
      assert.match(detailsText, /127\.0\.0\.1/, 'the IP address');
      assert.match(detailsText, /Chrome/, 'the user agent');
      assert.match(detailsText, /subject_request/, 'the reason');
      assert.match(detailsText, /REQ-2026\/0142/, 'the ticket');
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '29-audit-profile', true);
      assert.equal(await details.count(), 1, 'the details stay open');

      // Only the exports: by action, keeping the customer.
      await page.getByTestId('audit-action').click();
      await page.getByRole('option', { name: /Customer data exported/ }).click();
      await page.getByTestId('audit-apply').click();
      await page.waitForURL(/action=profile\.exported/);
      await waitUntil(async () => (await rows.count()) === 2, 'only the two exports are listed');
      // By actor, from the entry itself: everything the owner did.
      await rows.first().getByTestId('audit-toggle').click();
      await page.getByTestId('audit-filter-actor').click();
      await page.waitForURL(/actorId=/);
      await page.getByTestId('audit-reset').click();
      await page.waitForURL(/\/settings\/audit$/);
      await page.getByTestId('audit-actor-filter').click();
      await page.getByRole('option', { name: new RegExp(server.adminEmail.replace('.', '\\.')) }).click();
      await page.getByTestId('audit-target-kind').click();
      await page.getByRole('option', { name: 'API key' }).click();
      await page.getByTestId('audit-apply').click();
      await waitUntil(
        async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-action')) === 'key.created',
        'the one key the owner created',
      );
      await page.getByTestId('audit-reset').click();
      await page.waitForURL(/\/settings\/audit$/);

      // The profile link in a row leads to the customer.
      await page.goto(`${server.url}/settings/audit?targetId=${anna}&action=profile.erased`);
      await erased.getByTestId('audit-profile-link').click();
      await page.waitForURL(new RegExp(`/customers/${anna}$`));
      await page.getByTestId('profile-erased').waitFor();

      await page.goto(`${server.url}/settings/audit?targetId=${anna}`);
      await erased.waitFor();
      await page.getByTestId('language-ru').click();
      await page.getByText('Удалены персональные данные клиента').first().waitFor();
      await erased.getByTestId('audit-toggle').click();
      await page.getByTestId('audit-details').getByText('Браузер или клиент').waitFor();
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '29-audit-profile-ru', true);
      await page.getByTestId('language-en').click();

      const phone = await phoneContext();
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(`${server.url}/settings/audit?targetId=${anna}`);
      const phoneErased = phonePage.getByTestId('audit-row').and(phonePage.locator('[data-action="profile.erased"]'));
      await phoneErased.getByTestId('audit-toggle').click();
      await phonePage.getByTestId('audit-details').waitFor();
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the audit log fits the phone's width (overflow ${overflow}px)`);
      await phonePage.getByTestId('audit-details').scrollIntoViewIfNeeded();
      await shoot(phonePage, '30-audit-phone');
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test('a marketer sees the proof but cannot export or erase; an analyst sees neither', async () => {
      const boris = (await api.get<{ items: { id: string }[] }>('/api/v1/profiles?identifier=email:boris@example.com'))
        .items[0]?.id;
      const password = 'marketer password 2026';
      await api.post('/api/v1/users', { email: 'maria@example.test', name: 'Maria', role: 'marketer', password });
      await api.post('/api/v1/users', { email: 'alex@example.test', name: 'Alex', role: 'analyst', password });

      const asRole = async (email: string) => {
        const context = await launched.newContext({ viewport: LAPTOP, locale: 'en-US' });
        const rolePage = await context.newPage();
        watchForTrouble(rolePage, problems);
        await signIn(rolePage, server.url, email, password);
        await rolePage.goto(`${server.url}/customers/${boris}`);
        await rolePage.getByTestId('profile-name').getByText('Boris Ivanov').waitFor();
        await rolePage.locator('[data-testid="consent-cell"][data-status="revoked"]').first().waitFor();
        return { context, rolePage };
      };

      const marketer = await asRole('maria@example.test');
      assert.equal(await marketer.rolePage.getByTestId('profile-export').count(), 0, 'no export for a marketer');
      assert.equal(await marketer.rolePage.getByTestId('profile-erase').count(), 0, 'no erasure for a marketer');
      assert.equal(await marketer.rolePage.getByTestId('profile-audit').count(), 0, 'no audit log for a marketer');
      await marketer.rolePage.getByTestId('consent-proof').waitFor();
      await marketer.rolePage.getByTestId('nav-consent').click();
      await marketer.rolePage.getByTestId('consent-summary-table').waitFor();
      assert.equal(await marketer.rolePage.getByTestId('consent-outbox').count(), 0, 'the outbox is for owners');
      await marketer.context.close();

      const analyst = await asRole('alex@example.test');
      assert.equal(await analyst.rolePage.getByTestId('consent-proof').count(), 0, 'no proof without read_pii');
      assert.equal(await analyst.rolePage.getByTestId('profile-actions').count(), 0, 'no data-subject actions');
      await analyst.context.close();
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await server.close();
  }
});
