import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import {
  ARTIFACTS,
  assertNoTrouble,
  CHROMIUM,
  CHROMIUM_ARGS,
  choose,
  consoleApi,
  dismissNotifications,
  ensureConsoleBuilt,
  LAPTOP,
  PHONE,
  settled,
  shoot,
  signIn,
  watchForTrouble,
} from './browser.ts';

/**
 * Forms in a real browser against a real server and database: a marketer builds a sign-up form with an e-mail
 * field, a field mapped to a trait and a consent box chosen from the workspace's wordings, publishes it, a person
 * opens the hosted page on a phone, sends it once with a mistake and then right, and the marketer sees the
 * submission and the trait on the person's profile.
 */
test('forms in the console and on a phone', { timeout: 300_000 }, async (t) => {
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
    const api = await consoleApi(page, url);
    await api.post('/api/v1/consent/wordings', {
      purpose: 'marketing',
      version: 'news-v1',
      locale: 'en',
      text: 'Send me news and offers by e-mail',
    });
    await api.post('/api/v1/consent/wordings', {
      purpose: 'marketing',
      version: 'news-v1',
      locale: 'ru',
      text: 'Присылайте мне новости и предложения по e-mail',
    });
    let hostedUrl = '';

    await t.test('a marketer builds a form and publishes it', async () => {
      await page.getByTestId('nav-forms').click();
      await page.getByTestId('forms-empty').waitFor();
      await page.getByTestId('form-create').click();
      await page.getByTestId('form-key').fill('tea-club');
      await page.getByTestId('form-name').fill('Tea club sign-up');
      await page.getByTestId('form-title-en').fill('Join the tea club');
      await page.getByTestId('form-title-ru').fill('Вступайте в чайный клуб');
      await page.getByTestId('field-add').click();
      const second = page.locator('[data-testid="field-editor"][data-index="1"]');
      await second.getByTestId('field-key').fill('first_name');
      await second.getByTestId('field-label-en').fill('First name');
      await second.getByTestId('field-label-ru').fill('Имя');
      await choose(page, second.getByTestId('field-maps'), 'A profile trait');
      await second.getByTestId('field-trait').fill('first_name');
      await choose(page, page.getByTestId('consent-add'), 'marketing · news-v1');
      await page.getByTestId('consent-editor').waitFor();
      await page.getByTestId('form-preview').getByText('Send me news and offers by e-mail').waitFor();
      await settled(page);
      await shoot(page, '70-form-builder', true);
      await page.getByTestId('form-save').click();
      await page.getByTestId('form-publish').click();
      await page.locator('[data-testid="form-status"][data-status="live"]').waitFor();
      hostedUrl = ((await page.getByTestId('hosted-url').textContent()) ?? '').trim();
      assert.match(hostedUrl, /\/p\/main\/f\/tea-club$/);
      assert.match((await page.getByTestId('snippet').textContent()) ?? '', /embed\.js" data-write-key=/);
      await dismissNotifications(page);
      await shoot(page, '71-form-published', true);
      assertNoTrouble(problems);
    });

    await t.test('a person sends it on a phone, first with a mistake, then right', async () => {
      const phone = await browser?.newContext({ viewport: PHONE, locale: 'ru-RU', isMobile: true, hasTouch: true });
      assert.ok(phone);
      const visitor = await phone.newPage();
      const visitorProblems: string[] = [];
      watchForTrouble(visitor, visitorProblems);
      const address = new URL(hostedUrl);
      await visitor.goto(`${url}${address.pathname}?m=POSTER-7&utm_source=store`);
      await visitor.getByRole('heading', { name: 'Вступайте в чайный клуб' }).waitFor();
      await visitor.getByRole('textbox', { name: /^E-mail/ }).fill('anna@');
      await visitor.getByRole('textbox', { name: /^Имя/ }).fill('Анна');
      await visitor.getByRole('checkbox', { name: 'Присылайте мне новости и предложения по e-mail' }).check();
      await visitor.getByRole('button', { name: 'Отправить' }).click();
      await visitor.getByRole('alert').waitFor();
      assert.equal(await visitor.getByRole('textbox', { name: /^E-mail/ }).getAttribute('aria-invalid'), 'true');
      assert.equal(await visitor.getByRole('textbox', { name: /^Имя/ }).inputValue(), 'Анна', 'what was typed stays');
      await shoot(visitor, '72-form-phone-error', true);
      await visitor.getByRole('textbox', { name: /^E-mail/ }).fill('anna@example.test');
      await visitor.getByRole('button', { name: 'Отправить' }).click();
      await visitor.getByTestId('message').getByText('Спасибо! Ваши ответы сохранены.').waitFor();
      await shoot(visitor, '73-form-phone-thanks', true);
      assertNoTrouble(visitorProblems);
      await phone.close();
    });

    await t.test("the embed snippet works on the brand's own site, under its strict CSP", async () => {
      const { secret: writeKey } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'site' });
      const embedUrl = `${url}${new URL(hostedUrl).pathname}/embed.js`;
      // The brand's page: another origin, scripts only from itself and Rapport, no inline anything.
      const site = createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': `default-src 'self'; script-src ${url}; connect-src ${url}; style-src 'self'`,
        });
        res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tea shop</title></head><body>
<h1>Tea shop</h1><div id="signup"></div>
<script src="${embedUrl}" data-write-key="${writeKey}" data-target="#signup" data-lang="en"></script></body></html>`);
      });
      await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
      const sitePort = (site.address() as { port: number }).port;
      const visitor = await laptop.newPage();
      const visitorProblems: string[] = [];
      watchForTrouble(visitor, visitorProblems);
      try {
        await visitor.goto(`http://127.0.0.1:${sitePort}/?utm_source=site&m=SHOP-BANNER`);
        await visitor.getByRole('heading', { name: 'Join the tea club' }).waitFor();
        await visitor.getByRole('textbox', { name: /^E-mail/ }).fill('boris@example');
        await visitor.getByRole('button', { name: 'Send' }).click();
        await visitor
          .getByText('Enter a valid e-mail address.')
          .waitFor({ timeout: 10_000 })
          .catch((error: unknown) => assert.fail(`${String(error)}\n${visitorProblems.join('\n')}`));
        await shoot(visitor, '76-form-embedded-error');
        await visitor.getByRole('textbox', { name: /^E-mail/ }).fill('boris@example.test');
        await visitor.getByRole('textbox', { name: /^First name/ }).fill('Boris');
        await visitor.getByRole('button', { name: 'Send' }).click();
        await visitor.getByText('Thank you! Your answers are saved.').waitFor();
        await shoot(visitor, '77-form-embedded-thanks');
        // The first answer was refused by the server (an invalid address): a 400, the only one expected.
        assert.deepEqual(
          visitorProblems.filter((p) => !p.includes('400')),
          [],
          'no CSP violation, CORS refusal or script error on the host page',
        );
      } finally {
        await visitor.close();
        site.close();
      }
    });

    await t.test('the marketer sees the submission and the trait on the profile', async () => {
      await page.reload();
      await page.getByTestId('submission-row').first().waitFor();
      const rows = page.getByTestId('submission-row');
      assert.equal(await rows.count(), 2);
      assert.match((await rows.nth(0).textContent()) ?? '', /boris@example\.test.*m=SHOP-BANNER/);
      const row = rows.nth(1);
      assert.match((await row.textContent()) ?? '', /anna@example\.test/);
      assert.match((await row.textContent()) ?? '', /m=POSTER-7/);
      await shoot(page, '74-form-submissions', true);
      await row.getByTestId('submission-profile').click();
      await page.getByText('Анна').first().waitFor();
      await page.getByText('first_name').first().waitFor();
      await shoot(page, '75-form-profile-trait', true);
      assertNoTrouble(problems);
    });
    await t.test('survey results, in Russian', async () => {
      const survey = await api.post<{ id: string }>('/api/v1/forms', {
        key: 'taste-survey',
        definition: {
          name: 'Taste survey',
          kind: 'survey',
          texts: { title: { en: 'How was the tea?', ru: 'Как вам чай?' } },
          fields: [
            {
              key: 'score',
              type: 'rating',
              scale: 5,
              required: true,
              label: { en: 'Your score', ru: 'Ваша оценка' },
              maps: { to: 'trait', trait: 'tea_score' },
            },
            {
              key: 'flavour',
              type: 'select',
              label: { en: 'Favourite flavour', ru: 'Любимый вкус' },
              options: [
                { value: 'green', label: { en: 'Green', ru: 'Зелёный' } },
                { value: 'black', label: { en: 'Black', ru: 'Чёрный' } },
              ],
            },
          ],
        },
      });
      await api.post(`/api/v1/forms/${survey.id}/publish`, {});
      const { secret } = await api.post<{ secret: string }>('/api/v1/keys', { kind: 'write', name: 'survey' });
      for (const [score, flavour] of [
        [5, 'green'],
        [4, 'green'],
        [2, 'black'],
      ] as const) {
        const response = await fetch(`${url}/v1/forms/taste-survey/submit`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${secret}:`).toString('base64')}`,
          },
          body: JSON.stringify({ answers: { score, flavour }, anonymousId: `visitor-${score}` }),
        });
        assert.equal(response.status, 200, await response.text());
      }
      await page.getByTestId('language-ru').click();
      await page.getByTestId('nav-forms').click();
      await page.locator('[data-testid="form-row"][data-key="taste-survey"]').click();
      await page.getByTestId('tab-results').click();
      const score = page.locator('[data-testid="result-question"][data-key="score"]');
      await score.getByText('Среднее 3.7').waitFor();
      await page.locator('[data-testid="result-question"][data-key="flavour"]').getByText('Зелёный').waitFor();
      await settled(page);
      await shoot(page, '78-survey-results-ru', true);
      await page.getByTestId('form-edit').click();
      await page.getByTestId('form-preview').waitFor();
      await settled(page);
      await shoot(page, '79-survey-builder-ru', true);
      await page.getByTestId('language-en').click();
      assertNoTrouble(problems);
    });
  } finally {
    await browser?.close();
    await server.close();
  }
});
