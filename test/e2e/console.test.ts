import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import {
  ARTIFACTS,
  assertNoTrouble,
  CHROMIUM,
  CHROMIUM_ARGS,
  ensureConsoleBuilt,
  LAPTOP,
  onScreen,
  PHONE,
  shoot,
  waitUntil,
  watchForTrouble,
} from './browser.ts';

/**
 * The console in a real browser against a real Rapport server (in-memory database): sign-in, language switch,
 * a branch, a secret key whose value must be shown once and then vanish from the page, and customers sent through
 * the tracking API with a write key, found by search and shown with their timeline, and a CSV file imported from
 * the Import screen by the background worker.
 */

test('web console', { timeout: 240_000 }, async (t) => {
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
    // An English browser, so the console's default language is known.
    const laptop: BrowserContext = await launched.newContext({ viewport: LAPTOP, locale: 'en-US' });
    const page = await laptop.newPage();
    watchForTrouble(page, problems);

    await t.test('signs in as the owner', async () => {
      await page.goto(server.url);
      await page.getByTestId('sign-in-email').waitFor();
      await shoot(page, '01-sign-in');
      await page.getByTestId('sign-in-email').fill(server.adminEmail);
      await page.getByTestId('sign-in-password').fill(server.adminPassword);
      await page.getByTestId('sign-in-submit').click();
      await page.getByTestId('welcome-card').waitFor();
      await page
        .getByTestId('overview-database')
        .getByText(/PGlite|PostgreSQL/)
        .waitFor();
      assert.equal(await page.getByTestId('nav-overview').textContent(), 'Overview');
      await shoot(page, '02-overview-en');
      assertNoTrouble(problems);
    });

    await t.test('switches to Russian and back', async () => {
      await page.getByTestId('language-ru').click();
      await page.getByTestId('nav-overview').getByText('Обзор').waitFor();
      await page.getByRole('heading', { name: 'Настройки' }).waitFor();
      assert.equal(await page.getByTestId('nav-branches').textContent(), 'Филиалы');
      assert.equal(await page.evaluate('document.documentElement.lang'), 'ru');
      await shoot(page, '03-overview-ru');

      await page.getByTestId('language-en').click();
      await page.getByTestId('nav-overview').getByText('Overview').waitFor();
      assert.equal(await page.evaluate(() => localStorage.getItem('rapport.language')), 'en');
      assertNoTrouble(problems);
    });

    await t.test('creates a branch and a child branch, shown as a tree', async () => {
      await page.getByTestId('nav-branches').click();
      await page.getByTestId('create-branch').click();
      await page.getByTestId('branch-name').fill('Moscow flagship');
      await page.getByTestId('branch-code').fill('MSK-01');
      await page.getByTestId('branch-submit').click();
      await page.getByTestId('branch-form').waitFor({ state: 'detached' });
      await page.getByTestId('branch-row').filter({ hasText: 'Moscow flagship' }).waitFor();

      await page.getByTestId('create-branch').click();
      await page.getByTestId('branch-name').fill('Tverskaya 12');
      await page.getByTestId('branch-code').fill('MSK-01-T12');
      await page.getByTestId('branch-parent').click();
      await page.getByRole('option', { name: /Moscow flagship/ }).click();
      await page.getByTestId('branch-submit').click();
      await page.getByTestId('branch-form').waitFor({ state: 'detached' });
      await page.getByTestId('branch-row').filter({ hasText: 'Tverskaya 12' }).waitFor();

      const codes = await page
        .getByTestId('branch-row')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-branch-code')));
      assert.deepEqual(codes, ['MSK-01', 'MSK-01-T12'], 'the child branch is listed under its parent');
      await shoot(page, '04-branches');
      assertNoTrouble(problems);
    });

    await t.test('creates a secret key, reveals it once, then lists only its prefix', async () => {
      await page.getByTestId('nav-apiKeys').click();
      await page.getByTestId('create-key').click();
      await page.getByTestId('key-kind-secret').click();
      await page.getByTestId('key-name').fill('Online shop back end');
      await page.getByTestId('key-role').click();
      await page.getByRole('option', { name: 'Marketer' }).click();
      await page.getByTestId('key-branch').click();
      await page.getByRole('option', { name: /Moscow flagship/ }).click();
      await page.getByTestId('key-submit').click();

      const revealed = page.getByTestId('revealed-secret');
      await revealed.waitFor();
      const secret = ((await revealed.textContent()) ?? '').trim();
      assert.match(secret, /^sk_/, 'a secret key starts with sk_');
      await page.getByText('you will not see it again').waitFor();
      await shoot(page, '05-key-revealed');

      await page.getByTestId('reveal-close').click();
      await revealed.waitFor({ state: 'detached' });
      const row = page.getByTestId('key-row').filter({ hasText: 'Online shop back end' });
      await row.waitFor();
      const prefix = ((await row.getByTestId('key-prefix').textContent()) ?? '').replace('…', '').trim();
      assert.ok(prefix.length >= 4 && secret.startsWith(prefix), `the row shows the key's prefix (${prefix})`);
      assert.ok(prefix.length < secret.length, 'the row does not show the whole secret');
      await row.getByText('Marketer').waitFor();

      const html = await page.content();
      assert.ok(!html.includes(secret), 'the secret is gone from the page after closing the reveal dialog');
      const stored = await page.evaluate(
        () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
      );
      assert.ok(!stored.includes(secret), 'the secret is not kept in browser storage');
      await shoot(page, '06-keys-list');
      assertNoTrouble(problems);
    });

    await t.test('fits a phone: the navbar hides behind a burger', async () => {
      // Same session cookie, phone-sized window.
      const phone = await launched.newContext({
        viewport: PHONE,
        locale: 'en-US',
        storageState: await laptop.storageState(),
      });
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(server.url);
      await phonePage.getByTestId('welcome-card').waitFor();
      await phonePage
        .getByTestId('overview-database')
        .getByText(/PGlite|PostgreSQL/)
        .waitFor();
      assert.equal(await onScreen(phonePage.getByTestId('nav-branches')), false, 'the navbar starts collapsed');
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `nothing is wider than the screen (overflow ${overflow}px)`);
      await shoot(phonePage, '07-overview-phone');

      await phonePage.getByTestId('nav-burger').click();
      await waitUntil(() => onScreen(phonePage.getByTestId('nav-branches')), 'the burger opens the navbar');
      // The navbar slides in; photograph it once it has come to rest at the left edge.
      await waitUntil(
        async () => ((await phonePage.getByTestId('nav-branches').boundingBox())?.x ?? -1) >= 0,
        'the navbar finishes sliding in',
      );
      await shoot(phonePage, '08-phone-menu');
      await phonePage.getByTestId('nav-branches').click();
      await phonePage.getByTestId('branch-row').first().waitFor();
      await waitUntil(async () => !(await onScreen(phonePage.getByTestId('nav-branches'))), 'the navbar folds away');
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test('shows customers sent through the tracking API, and a profile with its timeline', async () => {
      // A write key from the API keys screen, as a marketer would hand it to the web team.
      await page.getByTestId('nav-apiKeys').click();
      await page.getByTestId('create-key').click();
      await page.getByTestId('key-kind-write').click();
      await page.getByTestId('key-name').fill('Website tracker');
      await page.getByTestId('key-submit').click();
      const revealed = page.getByTestId('revealed-secret');
      await revealed.waitFor();
      const writeKey = ((await revealed.textContent()) ?? '').trim();
      assert.ok(writeKey.length > 8, 'a write key is shown');
      await page.getByTestId('reveal-close').click();
      await revealed.waitFor({ state: 'detached' });

      const ingest = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({
          batch: [
            {
              type: 'identify',
              userId: 'u1',
              traits: { email: 'anna@example.com', name: 'Anna Petrova', phone: '+79161234567' },
            },
            {
              type: 'track',
              userId: 'u1',
              event: 'Order Completed',
              properties: { total: 1250, currency: 'RUB' },
              context: { channel: 'pos' },
            },
            { type: 'page', userId: 'u1', name: 'Catalogue', properties: { path: '/tea' } },
            // Someone else, whom the search must leave out.
            { type: 'identify', userId: 'u2', traits: { email: 'boris@example.com', name: 'Boris Ivanov' } },
          ],
        }),
      });
      assert.equal(ingest.status, 200, `the batch is accepted (${await ingest.clone().text()})`);

      await page.getByTestId('nav-customers').click();
      await page.getByTestId('customer-row').filter({ hasText: 'Boris Ivanov' }).waitFor();
      assert.equal(await page.getByTestId('customer-row').count(), 2, 'both customers are listed before searching');
      await page.getByTestId('customers-search').fill('anna');
      await page.locator('[data-testid="customer-table"][data-search="anna"]:not([data-stale])').waitFor();
      const row = page.getByTestId('customer-row').filter({ hasText: 'Anna Petrova' });
      await row.getByText('anna@example.com').waitFor();
      assert.equal(await page.getByTestId('customer-row').count(), 1, 'the search leaves only Anna');
      await shoot(page, '09-customers');

      await row.click();
      await page.waitForURL(/\/customers\/[0-9a-f-]{36}$/);
      await page.getByTestId('profile-name').getByText('Anna Petrova').waitFor();
      await page.getByTestId('profile-identity').filter({ hasText: 'anna@example.com' }).waitFor();
      const events = page.getByTestId('timeline-event');
      await waitUntil(async () => (await events.count()) === 3, 'the timeline shows the three events');
      await events.filter({ hasText: 'Order Completed' }).waitFor();
      await events.filter({ hasText: 'Viewed page Catalogue' }).waitFor();
      await events.filter({ hasText: 'Updated profile' }).waitFor();
      // The purchase's details open in place.
      const order = events.filter({ hasText: 'Order Completed' });
      await order.getByTestId('timeline-event-toggle').click();
      await order.getByText('1250').waitFor();
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '10-profile');
      await shoot(page, '10-profile-full', true);

      await page.getByTestId('language-ru').click();
      await page.getByTestId('profile-timeline').getByText('Обновлён профиль').waitFor();
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '10-profile-ru', true);
      await page.getByTestId('language-en').click();
      await page.getByTestId('profile-timeline').getByText('Updated profile').waitFor();

      const phone = await launched.newContext({
        viewport: PHONE,
        locale: 'en-US',
        storageState: await laptop.storageState(),
      });
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(page.url());
      await phonePage.getByTestId('profile-name').getByText('Anna Petrova').waitFor();
      await waitUntil(async () => (await phonePage.getByTestId('timeline-event').count()) === 3, 'phone timeline');
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the profile fits the phone's width (overflow ${overflow}px)`);
      await shoot(phonePage, '11-profile-phone');
      await shoot(phonePage, '11-profile-phone-full', true);
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test("records and revokes a consent on the customer's profile", async () => {
      // Still on Anna's profile from the previous step.
      const panel = page.getByTestId('profile-consent');
      const cell = panel.locator('[data-testid="consent-cell"][data-channel="email"][data-purpose="marketing"]');
      await cell.and(page.locator('[data-status="none"]')).waitFor();
      await panel.getByTestId('consent-history-empty').waitFor();

      await panel.getByTestId('consent-record').click();
      const form = page.getByTestId('consent-form');
      await form.waitFor();
      // E-mail, the first purpose (News and offers), grant and staff are the defaults.
      assert.equal(await page.getByTestId('consent-form-channel').inputValue(), 'E-mail');
      assert.equal(await page.getByTestId('consent-form-purpose').inputValue(), 'News and offers');
      await page.getByTestId('consent-form-source').click();
      await page.getByRole('option', { name: 'Call centre' }).click();
      await page.getByTestId('consent-form-wording').fill('2026-01');
      await shoot(page, '15-consent-form');
      await page.getByTestId('consent-form-submit').click();
      await form.waitFor({ state: 'detached' });
      await cell.and(page.locator('[data-status="granted"]')).waitFor();
      await cell.getByText('anna@example.com').waitFor();
      const grant = panel.locator('[data-testid="consent-history-row"][data-action="grant"]');
      await grant.waitFor();
      await grant.getByText('Call centre').waitFor();
      await grant.getByText('2026-01').waitFor();
      await panel.scrollIntoViewIfNeeded();
      await shoot(page, '16-consent-granted');

      await cell.getByTestId('consent-revoke').click();
      await page.getByTestId('confirm-button').click();
      await cell.and(page.locator('[data-status="revoked"]')).waitFor();
      const revoke = panel.locator('[data-testid="consent-history-row"][data-action="revoke"]');
      await revoke.waitFor();
      await revoke.getByText('Staff').waitFor();
      assert.equal(await panel.getByTestId('consent-history-row').count(), 2, 'the grant and the revocation');
      // Newest first: the revocation heads the history.
      assert.equal(await panel.getByTestId('consent-history-row').first().getAttribute('data-action'), 'revoke');
      await panel.scrollIntoViewIfNeeded();
      await shoot(page, '17-consent-revoked');
      await panel.screenshot({ path: join(ARTIFACTS, '17-consent-panel.png') });

      await page.getByTestId('language-ru').click();
      await panel.getByText('Отозвано').first().waitFor();
      await panel.screenshot({ path: join(ARTIFACTS, '17-consent-panel-ru.png') });
      await page.getByTestId('language-en').click();
      await panel.getByText('Revoked').first().waitFor();

      // Granted again, this time asking Anna to confirm: pending until she does, with a message in the outbox.
      await panel.getByTestId('consent-record').click();
      await page.getByTestId('consent-form-double-opt-in').check();
      await page.getByTestId('consent-form-submit').click();
      await page.getByTestId('consent-form').waitFor({ state: 'detached' });
      await cell.and(page.locator('[data-status="pending"]')).waitFor();
      await panel.locator('[data-testid="consent-history-row"][data-action="pending"]').waitFor();

      const phone = await launched.newContext({
        viewport: PHONE,
        locale: 'en-US',
        storageState: await laptop.storageState(),
      });
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(page.url());
      const phonePanel = phonePage.getByTestId('profile-consent');
      await phonePanel
        .locator('[data-testid="consent-cell"][data-channel="email"][data-purpose="marketing"][data-status="pending"]')
        .waitFor();
      await waitUntil(async () => (await phonePanel.getByTestId('consent-history-row').count()) === 3, 'phone history');
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the consent panel fits the phone's width (overflow ${overflow}px)`);
      await phonePanel.screenshot({ path: join(ARTIFACTS, '18-consent-phone.png') });
      await phone.close();
      assertNoTrouble(problems);
    });

    await t.test(
      'edits consent settings: a purpose, an opt-out keyword, a wording version; shows the outbox',
      async () => {
        await page.getByTestId('nav-consentSettings').click();
        await page.waitForURL(/\/settings\/consent$/);
        await page.locator('[data-testid="consent-purpose-row"][data-key="marketing"]').waitFor();
        // The double opt-in request from the profile step is waiting in the outbox.
        await page.getByTestId('consent-outbox-row').filter({ hasText: 'anna@example.com' }).first().waitFor();

        await page.getByTestId('consent-purpose-add').click();
        await page.getByTestId('consent-purpose-key').fill('birthday');
        await page.getByTestId('consent-purpose-name-en').fill('Birthday greetings');
        await page.getByTestId('consent-purpose-name-ru').fill('Поздравления с днём рождения');
        await page.getByTestId('consent-purpose-submit').click();
        await page.getByTestId('consent-purpose-form').waitFor({ state: 'detached' });
        await page.locator('[data-testid="consent-purpose-row"][data-key="birthday"]').waitFor();
        await page.getByTestId('consent-keywords').fill('ХВАТИТ');
        await page.getByTestId('consent-keywords').press('Enter');
        await page.getByTestId('consent-pending-hours').fill('48');
        await page.getByTestId('consent-settings-save').click();
        await waitUntil(() => page.getByTestId('consent-settings-save').isDisabled(), 'the settings are saved');

        await page.reload();
        await page.locator('[data-testid="consent-purpose-row"][data-key="birthday"]').waitFor();
        await page.getByTestId('consent-keywords-card').getByText('ХВАТИТ').waitFor();
        assert.equal(await page.getByTestId('consent-pending-hours').inputValue(), '48');

        const addWording = async () => {
          await page.getByTestId('consent-wording-add').click();
          await page.getByTestId('consent-wording-version').fill('2026-01');
          await page
            .getByTestId('consent-wording-text')
            .fill('I agree to receive news and offers by e-mail and SMS. I can unsubscribe at any time.');
          await page.getByTestId('consent-wording-submit').click();
        };
        await addWording();
        await page.getByTestId('consent-wording-form').waitFor({ state: 'detached' });
        await page.getByTestId('consent-wording-row').filter({ hasText: '2026-01' }).waitFor();
        // Versions are never changed: the same version again is refused, inline.
        await addWording();
        await page.getByTestId('consent-wording-form').getByText('WORDING_EXISTS').waitFor();
        // Chromium logs the refusal as a failed resource; that one is expected, anything else still fails the step.
        const refusal = problems.findIndex((problem) => /status of 409 .*\/api\/v1\/consent\/wordings/.test(problem));
        assert.ok(refusal >= 0, 'the duplicate version was refused with 409');
        problems.splice(refusal, 1);
        await page.getByTestId('consent-wording-form').getByRole('button', { name: 'Cancel' }).click();
        await page.getByTestId('consent-wording-form').waitFor({ state: 'detached' });
        await page.evaluate('window.scrollTo(0, 0)');
        await shoot(page, '19-consent-settings', true);

        const phone = await launched.newContext({
          viewport: PHONE,
          locale: 'en-US',
          storageState: await laptop.storageState(),
        });
        const phonePage = await phone.newPage();
        watchForTrouble(phonePage, problems);
        await phonePage.goto(page.url());
        await phonePage.locator('[data-testid="consent-purpose-row"][data-key="birthday"]').waitFor();
        await phonePage.getByTestId('consent-outbox-row').first().waitFor();
        const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
        assert.ok(overflow <= 0, `the consent settings fit the phone's width (overflow ${overflow}px)`);
        await shoot(phonePage, '20-consent-settings-phone', true);
        await phone.close();
        assertNoTrouble(problems);
      },
    );

    await t.test('imports a CSV file from the Import screen, with progress, counts and its rejects', async () => {
      await page.getByTestId('nav-customers').click();
      await page.getByTestId('customers-import').click();
      await page.waitForURL(/\/customers\/import$/);
      await page.getByTestId('import-form').waitFor();
      const csv = [
        'E-mail,Full name,Mobile,City',
        'olga@example.com,Olga Smirnova,+7 903 555-12-34,Tula',
        'not an e-mail,Nobody,,',
        'pavel@example.com,Pavel Volkov,,Kazan',
      ].join('\n');
      await page
        .getByTestId('import-panel')
        .locator('input[type=file]')
        .setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.getByTestId('import-file-summary').getByText(/CSV/).waitFor();
      // The columns are read from the file and their usual names recognised.
      const fields = page.getByTestId('import-mapping-field');
      await waitUntil(async () => (await fields.count()) === 4, 'the four columns are offered for mapping');
      assert.deepEqual(
        await fields.evaluateAll((inputs) => inputs.map((input) => (input as unknown as { value: string }).value)),
        ['email', 'name', 'phone', 'city'],
      );
      await shoot(page, '12-import-form', true);

      await page.getByTestId('import-submit').click();
      await page.locator('[data-testid="import-result"][data-status="done"]').waitFor({ timeout: 60_000 });
      assert.equal(await page.getByTestId('import-counts').textContent(), '3 rows: 2 imported, 1 rejected');
      const downloading = page.waitForEvent('download');
      await page.getByTestId('import-result').getByTestId('import-rejects').click();
      const download = await downloading;
      assert.equal(download.suggestedFilename(), 'customers.rejects.csv');
      assert.match(readFileSync(await download.path(), 'utf8'), /^line,code,message\n3,MISSING_IDENTITY,/);
      await page.locator('[data-testid="import-row"][data-status="done"]').first().waitFor();
      await page.evaluate('window.scrollTo(0, 0)');
      await shoot(page, '13-import-done', true);

      await page.getByTestId('language-ru').click();
      await page.getByTestId('import-done').getByText('Импорт завершён').waitFor();
      await shoot(page, '13-import-done-ru', true);
      await page.getByTestId('language-en').click();
      await page.getByTestId('import-done').getByText('Import finished').waitFor();

      const phone = await launched.newContext({
        viewport: PHONE,
        locale: 'en-US',
        storageState: await laptop.storageState(),
      });
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(`${server.url}/customers/import`);
      await phonePage.getByTestId('import-form').waitFor();
      await phonePage.locator('[data-testid="import-row"][data-status="done"]').first().waitFor();
      const overflow = await phonePage.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 0, `the import screen fits the phone's width (overflow ${overflow}px)`);
      await shoot(phonePage, '14-import-phone', true);
      await phone.close();

      await page.getByTestId('nav-customers').click();
      await page.getByTestId('customer-row').filter({ hasText: 'Olga Smirnova' }).waitFor();
      assertNoTrouble(problems);
    });

    await t.test('signs out back to the sign-in page', async () => {
      await page.getByTestId('user-menu').click();
      await page.getByTestId('sign-out').click();
      await page.getByTestId('sign-in-email').waitFor();
      await page.reload();
      await page.getByTestId('sign-in-email').waitFor();
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await server.close();
  }
});
