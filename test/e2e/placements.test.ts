import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
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
 * Response codes per medium in the console, in a real browser against a real server and database: a placement is
 * created in the form (keyword, medium, details, cost, the promotion it leads to), an SMS with its keyword arrives
 * through the gateways' API, and the report shows the contact, the new person and the cost per lead — in English,
 * in Russian and on a phone.
 */

async function cell(page: Page, table: string, key: string, testId: string) {
  return (await page.getByTestId(table).locator(`[data-key="${key}"]`).getByTestId(testId).textContent())?.trim();
}

test('placements and their report in the console', { timeout: 300_000 }, async (t) => {
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
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const laptop = await browser.newContext({ viewport: LAPTOP, locale: 'en-US', acceptDownloads: true });
    const page = await laptop.newPage();
    watchForTrouble(page, problems);
    await signIn(page, url, server.adminEmail, server.adminPassword);
    const api: ConsoleApi = await consoleApi(page, url);
    const promotion = await api.post<{ id: string }>('/api/v1/codes/promotions', {
      key: 'winter-tea',
      name: 'Winter tea',
      startsAt: '2020-01-01T00:00',
      endsAt: '2099-01-01T00:00',
      reward: { kind: 'points', points: 20 },
    });

    await t.test('a placement is created in the form', async () => {
      await page.goto(`${url}/promo-codes`);
      await page.getByTestId('codes-view-placements').click();
      await page.getByTestId('placements-view').waitFor();
      await page.getByTestId('placement-create').click();
      await page.getByTestId('placement-name').fill('Channel One, 20:00 news break');
      await choose(page, page.getByTestId('placement-medium'), 'TV');
      await page.getByTestId('placement-keyword-input').fill('tv1');
      assert.equal(await page.getByTestId('placement-keyword-input').inputValue(), 'TV1', 'typed in capitals');
      const detailValues = page.getByPlaceholder('Value');
      await detailValues.nth(0).fill('Channel One');
      await detailValues.nth(1).fill('20:00 news break, 15 s');
      await choose(page, page.getByTestId('placement-promotion'), 'Winter tea');
      await page.getByTestId('placement-cost').fill('1500');
      await settled(page);
      await shoot(page, '70-placement-form');
      await page.getByTestId('placement-save').click();
      await page.locator('[data-testid="placement-row"][data-keyword="TV1"]').waitFor();
      const trackingUrl = await page.getByTestId('placement-url').textContent();
      assert.match(trackingUrl ?? '', /\/r\/main\/TV1$/);
      const { items } = await api.get<{ items: Record<string, unknown>[] }>('/api/v1/codes/placements');
      assert.equal(items.length, 1);
      assert.deepEqual(
        [items[0]?.keyword, items[0]?.medium, items[0]?.costMinor, items[0]?.currency],
        ['TV1', 'tv', 150_000, 'EUR'],
      );
      assert.deepEqual(items[0]?.details, { channel: 'Channel One', slot: '20:00 news break, 15 s' });
      await dismissNotifications(page);
      await shoot(page, '71-placements');
      assertNoTrouble(problems);
    });

    await t.test('an SMS with the keyword arrives through the API and shows in the report', async () => {
      const answer = await api.post<{ action: string; reply: string | null }>('/api/v1/codes/inbound', {
        channel: 'sms',
        from: '+79161230099',
        text: 'tv1',
      });
      assert.equal(answer.action, 'contact');
      // A second person, and the first one again: two people, three contacts.
      await api.post('/api/v1/codes/inbound', { channel: 'sms', from: '+79161230098', text: 'TV1' });
      await api.post('/api/v1/codes/inbound', { channel: 'sms', from: '+79161230099', text: 'TV1' });
      await page.getByTestId('codes-view-report').click();
      await page.getByTestId('placement-report').waitFor();
      await waitUntil(
        async () => (await cell(page, 'report-placements', 'TV1', 'report-contacts')) === '3',
        'the report counts the contacts',
      );
      assert.equal(await cell(page, 'report-placements', 'TV1', 'report-new'), '2');
      assert.equal(await cell(page, 'report-placements', 'TV1', 'report-cpl'), '€750.00', '1,500 ÷ 2 new people');
      assert.equal(await cell(page, 'report-media', 'tv', 'report-contacts'), '3');
      assert.equal(await cell(page, 'report-media', 'tv', 'report-cpl'), '€750.00');
      await shoot(page, '72-placement-report', true);
      assertNoTrouble(problems);
    });

    await t.test(
      'a code texted after the keyword counts as a registration, and the live dashboard shows the medium',
      async () => {
        const { downloadUrl } = await api.post<{ downloadUrl: string }>(
          `/api/v1/codes/promotions/${promotion.id}/batches`,
          { count: 2 },
        );
        const csv = await api.raw('GET', downloadUrl);
        const [code] = csv.body.trim().split('\n').slice(1);
        const answer = await api.post<{ action: string }>('/api/v1/codes/inbound', {
          channel: 'sms',
          from: '+79161230097',
          text: `TV1 ${code}`,
        });
        assert.equal(answer.action, 'registered');
        await page.goto(`${url}/promo-codes/${promotion.id}?tab=live`);
        const row = page.locator('[data-testid="live-medium-row"][data-medium="tv"]');
        await row.waitFor({ timeout: 15_000 });
        assert.equal((await row.locator('td').nth(1).textContent())?.trim(), '1', 'one accepted from TV');
        await page.getByTestId('live-media').scrollIntoViewIfNeeded();
        await shoot(page, '75-live-by-medium');
        // The registration's contact comes with its `Code Registered` event, which a job writes.
        await waitUntil(
          async () => {
            const report = await api.get<{ placements: { keyword: string; registrations: number }[] }>(
              '/api/v1/codes/placements/report',
            );
            return report.placements.find((p) => p.keyword === 'TV1')?.registrations === 1;
          },
          'the registration is counted',
          15_000,
        );
        await page.goto(`${url}/promo-codes?view=report`);
        await page.getByTestId('placement-report').waitFor();
        await waitUntil(
          async () => (await cell(page, 'report-placements', 'TV1', 'report-contacts')) === '4',
          'the report shows the registration',
        );
        assertNoTrouble(problems);
      },
    );

    await t.test('the report in Russian and on a phone', async () => {
      const phone = await browser?.newContext({ viewport: PHONE, locale: 'ru-RU' });
      assert.ok(phone);
      const small = await phone.newPage();
      watchForTrouble(small, problems);
      await signIn(small, url, server.adminEmail, server.adminPassword);
      await small.goto(`${url}/promo-codes?view=report`);
      await small.getByTestId('placement-report').waitFor();
      await waitUntil(
        async () => (await cell(small, 'report-placements', 'TV1', 'report-contacts')) === '4',
        'the report is shown',
      );
      assert.equal(await small.getByTestId('codes-view-report').textContent(), 'Отчёт по медиа');
      await shoot(small, '73-placement-report-ru-phone', true);
      await small.goto(`${url}/promo-codes?view=placements`);
      await small.locator('[data-testid="placement-row"][data-keyword="TV1"]').waitFor();
      await shoot(small, '74-placements-ru-phone', true);
      await phone.close();
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await server.close();
  }
});
