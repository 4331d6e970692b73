import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Download, type Page } from 'playwright-core';
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
  PHONE,
  settled,
  shoot,
  signIn,
  waitUntil,
  watchForTrouble,
} from './browser.ts';

/**
 * Promo codes in the console, in a real browser against a real server and database: a promotion created in the
 * form, a batch generated with its length and guess odds shown before and after, its one download, the owner's
 * audited re-export, an import of codes printed elsewhere, registrations arriving on the live dashboard while it is
 * open, the fraud screen's filters, what other roles may not do, and the screens in Russian and on a phone.
 */

const KEY = 'summer-tea-2026';

/** A wall-clock reading in UTC (the workspace's zone) as a datetime-local input takes it. */
function localInput(daysFromNow: number): string {
  return new Date(Date.now() + daysFromNow * 86_400_000).toISOString().slice(0, 16);
}

async function savedDownload(download: Download): Promise<string> {
  const path = await download.path();
  assert.ok(path, 'the download was saved');
  return readFileSync(path, 'utf8');
}

/** The codes of a downloaded CSV (header "code", one code per line). */
function codesOf(csv: string): string[] {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  assert.equal(header, 'code');
  return lines;
}

async function register(url: string, writeKey: string, code: string, phone: string) {
  const response = await fetch(`${url}/v1/codes/register`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    },
    body: JSON.stringify({ code, phone, promotion: KEY }),
  });
  return response.status;
}

/** A code with its last character changed: the check character catches it as a typo. */
function mistyped(code: string): string {
  const last = code.at(-1) === '2' ? '3' : '2';
  return code.slice(0, -1) + last;
}

async function text(page: Page, testId: string) {
  return (await page.getByTestId(testId).textContent())?.trim();
}

test('promo codes in the console', { timeout: 300_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test`);
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureConsoleBuilt();

  const { startTestServer } = await import('../../src/testing.ts');
  const server = await startTestServer({ worker: true });
  const url = server.url;
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
    await signIn(page, url, server.adminEmail, server.adminPassword);
    const api: ConsoleApi = await consoleApi(page, url);
    let promotionId = '';
    let codes: string[] = [];

    await t.test('an owner creates a promotion in the form', async () => {
      await page.getByTestId('nav-promoCodes').click();
      await page.getByTestId('promotions-empty').waitFor();
      assert.equal(await page.getByTestId('coming-soon').count(), 0, 'no longer a "coming soon" page');
      await shoot(page, '40-promo-codes-empty');
      await page.getByTestId('promotion-create').click();
      await page.getByTestId('promotion-name').fill('Summer tea 2026');
      assert.equal(await page.getByTestId('promotion-key').inputValue(), KEY, 'the key follows the name');
      assert.equal(await page.getByTestId('promotion-time-zone').inputValue(), 'UTC', "the workspace's zone");
      const [startsAt, endsAt] = [localInput(-1), localInput(60)];
      await page.getByTestId('promotion-starts').fill(startsAt);
      await page.getByTestId('promotion-ends').fill(endsAt);
      await page.getByTestId('promotion-points').fill('50');
      await page.getByTestId('promotion-budget').fill('1000');
      await shoot(page, '41-promotion-form', true);
      await page.getByTestId('promotion-submit').click();
      await page.getByTestId('promotion-title').getByText('Summer tea 2026').waitFor();
      assert.equal(await page.getByTestId('promotion-phase').getAttribute('data-phase'), 'running');
      assert.match(
        (await page.getByTestId('promotion-page-link').getAttribute('href')) ?? '',
        new RegExp(`/p/main/${KEY}$`),
        'the hosted page of the promotion',
      );
      const { items } = await api.get<{ items: Record<string, unknown>[] }>('/api/v1/codes/promotions');
      const promotion = items[0] as Record<string, unknown>;
      promotionId = promotion.id as string;
      assert.deepEqual(
        [promotion.startsAt, promotion.endsAt, promotion.timeZone, promotion.perPersonPerDay, promotion.budget],
        [startsAt, endsAt, 'UTC', 3, 1000],
      );
      assert.deepEqual(promotion.reward, { kind: 'points', points: 50 });
      assertNoTrouble(problems);
    });

    await t.test('the promotion is changed in the same form, paused and resumed', async () => {
      await dismissNotifications(page);
      await page.getByTestId('promotion-edit').click();
      assert.equal(await page.getByTestId('promotion-key').isDisabled(), true, 'the key is part of the page address');
      await page.getByTestId('promotion-per-promotion').fill('10');
      await page.getByTestId('promotion-submit').click();
      await page.getByTestId('promotion-facts').getByText('Per person in all: 10').waitFor();
      await page.getByTestId('promotion-pause').click();
      await page.locator('[data-testid="promotion-phase"][data-phase="paused"]').waitFor();
      await page.getByTestId('promotion-pause').click();
      await page.locator('[data-testid="promotion-phase"][data-phase="running"]').waitFor();
      const { promotion } = await api.get<{ promotion: { perPersonTotal: number; status: string; budget: number } }>(
        `/api/v1/codes/promotions/${promotionId}`,
      );
      assert.deepEqual([promotion.perPersonTotal, promotion.status, promotion.budget], [10, 'active', 1000]);
      assertNoTrouble(problems);
    });

    await t.test('a batch: length and odds before and after creating it, then its one download', async () => {
      await dismissNotifications(page);
      await page.getByTestId('batch-generate').click();
      await page.getByTestId('batch-count').fill('1000');
      await page.getByTestId('batch-label').fill('250 g packs, June print run');
      const estimate = page.getByTestId('batch-estimate');
      await estimate.waitFor();
      const estimatedLength = await estimate.getAttribute('data-length');
      assert.match((await estimate.textContent()) ?? '', /1 in [\d,]+/);
      await settled(page);
      await shoot(page, '43-batch-estimate');
      await page.getByTestId('batch-submit').click();
      const created = page.getByTestId('batch-created-length');
      await created.waitFor();
      assert.equal(await created.getAttribute('data-length'), estimatedLength, 'the estimate is what the server chose');
      assert.ok(Number(await page.getByTestId('batch-created-odds').getAttribute('data-one-in')) > 1000);
      await shoot(page, '44-batch-created');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('batch-created-download').click(),
      ]);
      codes = codesOf(await savedDownload(download));
      assert.equal(codes.length, 1000);
      assert.equal(new Set(codes).size, 1000, 'no code twice');
      assert.ok(
        codes.every((code) => code.replaceAll('-', '').length === Number(estimatedLength)),
        'every code has the length shown',
      );
      await page.getByTestId('batch-downloaded').waitFor();
      await page.getByTestId('batch-close').click();
      await page.locator('[data-testid="batch-row"][data-status="active"]').waitFor();
      const batch = (await api.get<{ batches: { id: string }[] }>(`/api/v1/codes/promotions/${promotionId}`))
        .batches[0];
      const again = await api.raw('GET', `/api/v1/codes/batches/${batch?.id}/download`);
      assert.equal(again.status, 409, 'the clear list is handed out once');
      assert.match(again.body, /BATCH_ALREADY_GENERATED/);
      assertNoTrouble(problems);
    });

    await t.test('the owner exports the batch again, warned that it is audited', async () => {
      await dismissNotifications(page);
      await page.getByTestId('batch-menu').first().click();
      await page.getByTestId('batch-export').click();
      await page.getByTestId('batch-export-modal').getByText('This export is audited').waitFor();
      await settled(page);
      await shoot(page, '45-batch-export-warning');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('batch-export-confirm').click(),
      ]);
      assert.deepEqual(new Set(codesOf(await savedDownload(download))), new Set(codes), 'the same codes again');
      const audit = await api.get<{ items: { action: string }[] }>('/api/v1/audit?action=codes.batch_export');
      assert.equal(audit.items.length, 1, 'the re-export is in the audit log');
      assertNoTrouble(problems);
    });

    await t.test('registrations arrive on the live dashboard while it is open', async () => {
      const { secret: writeKey } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'Site' });
      for (let i = 0; i < 5; i++)
        assert.equal(await register(url, writeKey, codes[i] as string, `+7916000000${i}`), 200);
      assert.equal(await register(url, writeKey, mistyped(codes[5] as string), '+79160000009'), 422, 'a typo');
      assert.equal(await register(url, writeKey, codes[0] as string, '+79160000008'), 422, 'a used code');

      await page.getByTestId('promotion-tab-live').click();
      await page.getByTestId('live-dashboard').waitFor();
      await waitUntil(async () => (await text(page, 'live-accepted')) === '5', 'five accepted');
      assert.equal(await text(page, 'live-rejected'), '2');
      assert.equal(await page.locator('[data-testid="live-channel-row"][data-channel="api"]').count(), 1, 'by channel');
      // Two more while the dashboard is open: it polls, nobody reloads.
      for (let i = 6; i < 8; i++)
        assert.equal(await register(url, writeKey, codes[i] as string, `+7916000001${i}`), 200);
      await waitUntil(async () => (await text(page, 'live-accepted')) === '7', 'the new registrations appear', 15_000);
      await shoot(page, '46-live-dashboard', true);
      assertNoTrouble(problems);
    });

    await t.test('the fraud screen filters attempts by outcome, network and person', async () => {
      await page.goto(`${url}/promo-codes`);
      await page.getByTestId('codes-fraud-link').click();
      await page.getByTestId('attempt-table').waitFor();
      await waitUntil(async () => (await page.getByTestId('attempt-row').count()) === 9, 'nine attempts');
      await choose(page, page.getByTestId('attempt-filter-outcome'), 'Refused');
      await page.waitForURL(/outcome=refused/);
      await waitUntil(
        async () => (await page.locator('[data-testid="attempt-row"]:not([data-outcome="refused"])').count()) === 0,
        'only refused attempts',
      );
      assert.equal(await page.getByTestId('attempt-row').count(), 1);
      await page.getByTestId('attempt-row').getByText('already used').waitFor();
      await page.getByTestId('attempt-filter-reset').click();
      await waitUntil(async () => (await page.getByTestId('attempt-row').count()) === 9, 'all attempts again');
      // A person's identifier is a hash: clicking it shows everything that person tried.
      await page
        .locator('[data-testid="attempt-row"][data-outcome="typo"]')
        .getByTestId('attempt-filter-link')
        .first()
        .click();
      await page.waitForURL(/identifier=/);
      await waitUntil(
        async () => (await page.getByTestId('attempt-row').count()) === 1,
        "the typing person's attempts",
      );
      await page.getByTestId('attempt-filter-reset').click();
      await page.getByTestId('fraud-top').waitFor();
      await shoot(page, '47-fraud-screen', true);
      assertNoTrouble(problems);
    });

    // After the registrations: a promotion holding imported codes (which have no check character) looks a mistyped
    // code up instead of answering "typo", which would change what the steps above see.
    await t.test('codes printed elsewhere are imported from a file', async () => {
      await page.goto(`${url}/promo-codes/${promotionId}`);
      await page.getByTestId('batch-import').click();
      await page
        .getByTestId('batch-import-form')
        .locator('input[type="file"]')
        .setInputFiles({
          name: 'printer-codes.txt',
          mimeType: 'text/plain',
          buffer: Buffer.from('code\nPRINTED0001\nPRINTED0002\nPRINTED0002\nnot a code!\n'),
        });
      await page.getByTestId('batch-import-submit').click();
      const result = page.getByTestId('batch-import-result');
      await result.waitFor();
      const summary = (await result.textContent()) ?? '';
      assert.match(summary, /2 codes imported/);
      assert.match(summary, /Rejected \(not a code\): 1/);
      assert.match(summary, /Duplicates skipped: 1/);
      await page.getByTestId('batch-import-close').click();
      await page.locator('[data-testid="batch-row"][data-source="imported"]').waitFor();
      await dismissNotifications(page);
      await shoot(page, '42-promotion', true);
      assertNoTrouble(problems);
    });

    await t.test('marketers cannot export again; analysts only read', async () => {
      const password = 'colleague password 2026';
      await api.post('/api/v1/users', { email: 'maria@example.test', name: 'Maria', role: 'marketer', password });
      await api.post('/api/v1/users', { email: 'alex@example.test', name: 'Alex', role: 'analyst', password });
      for (const email of ['maria@example.test', 'alex@example.test']) {
        const context = await launched.newContext({ viewport: LAPTOP, locale: 'en-US' });
        const rolePage = await context.newPage();
        watchForTrouble(rolePage, problems);
        await signIn(rolePage, url, email, password);
        await rolePage.goto(`${url}/promo-codes/${promotionId}`);
        await rolePage.getByTestId('batch-table').waitFor();
        if (email.startsWith('maria')) {
          await rolePage.getByTestId('batch-generate').waitFor();
          await rolePage
            .locator('[data-testid="batch-row"][data-source="generated"]')
            .getByTestId('batch-menu')
            .click();
          await rolePage.getByTestId('batch-revoke').waitFor();
          assert.equal(await rolePage.getByTestId('batch-export').count(), 0, 'no re-export for a marketer');
        } else {
          assert.equal(await rolePage.getByTestId('batch-generate').count(), 0, 'an analyst generates nothing');
          assert.equal(await rolePage.getByTestId('batch-menu').count(), 0);
          assert.equal(await rolePage.getByTestId('promotion-edit').count(), 0);
        }
        await context.close();
      }
      assertNoTrouble(problems);
    });

    await t.test('in Russian, on a laptop and a phone', async () => {
      await page.goto(`${url}/promo-codes/${promotionId}`);
      await page.getByTestId('language-ru').click();
      await page.getByText('Партии').first().waitFor();
      await shoot(page, '48-promotion-ru', true);
      const phone = await launched.newContext({
        viewport: PHONE,
        locale: 'ru-RU',
        storageState: await laptop.storageState(),
      });
      const phonePage = await phone.newPage();
      watchForTrouble(phonePage, problems);
      await phonePage.goto(`${url}/promo-codes/${promotionId}?tab=live`);
      await phonePage.getByTestId('live-chart').waitFor();
      await shoot(phonePage, '49-live-phone-ru', true);
      await phonePage.goto(`${url}/promo-codes/attempts`);
      await phonePage.getByTestId('attempt-row').first().waitFor();
      await shoot(phonePage, '49-fraud-phone-ru', true);
      await phonePage.goto(`${url}/promo-codes/new`);
      await phonePage.getByTestId('promotion-form').waitFor();
      await shoot(phonePage, '49-promotion-form-phone-ru', true);
      await phone.close();
      await page.getByTestId('language-en').click();
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await server.close();
  }
});
