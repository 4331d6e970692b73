import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../../src/testing.ts';
import { ARTIFACTS, assertNoTrouble, CHROMIUM, CHROMIUM_ARGS, PHONE, shoot, watchForTrouble } from './browser.ts';

/**
 * The hosted code-entry page on a phone, in a real browser against a real server: a code typed with a mistake gets
 * the typo message (and keeps what was typed, marked invalid), the corrected code is accepted; in Russian and in
 * English; no script at all on the page.
 */

/** A promotion and a batch of codes through the management API, as the owner. */
async function promotionWithCodes(url: string) {
  const signIn = await fetch(`${url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.equal(signIn.status, 200);
  const session = (await signIn.json()) as { csrfToken: string; memberships: { workspace: { id: string } }[] };
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const headers = {
    cookie,
    'x-csrf-token': session.csrfToken,
    'rapport-workspace': session.memberships[0]?.workspace.id as string,
    'content-type': 'application/json',
  };
  const promotion = (await (
    await fetch(`${url}/api/v1/codes/promotions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        key: 'summer-tea',
        name: 'Samovar summer tea',
        startsAt: '2026-01-01T00:00',
        endsAt: '2099-12-31T00:00',
        reward: { kind: 'points', points: 50 },
      }),
    })
  ).json()) as { id: string; pageUrl: string };
  const created = (await (
    await fetch(`${url}/api/v1/codes/promotions/${promotion.id}/batches`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ count: 5 }),
    })
  ).json()) as { downloadUrl: string };
  const csv = await (await fetch(`${url}${created.downloadUrl}`, { headers })).text();
  return { pageUrl: new URL(promotion.pageUrl).pathname, codes: csv.trim().split('\n').slice(1) };
}

/** The same code with one character mistyped (the check character catches it). */
function typoOf(code: string) {
  const i = 5;
  return code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1);
}

test('hosted code-entry page on a phone', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test`);
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const { startTestServer } = await import('../../src/testing.ts');
  const server = await startTestServer();
  let browser: Browser | undefined;
  const problems: string[] = [];
  try {
    const { pageUrl, codes } = await promotionWithCodes(server.url);
    assert.equal(codes.length, 5);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

    for (const [lang, code, phone] of [
      ['ru', codes[0] as string, '+79161230001'],
      ['en', codes[1] as string, '+79161230002'],
    ] as const) {
      await t.test(`typo, then corrected and accepted (${lang})`, async () => {
        const context = await (browser as Browser).newContext({
          viewport: PHONE,
          locale: lang === 'ru' ? 'ru-RU' : 'en-GB',
          isMobile: true,
          hasTouch: true,
        });
        const page = await context.newPage();
        watchForTrouble(page, problems);
        const response = await page.goto(`${server.url}${pageUrl}`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.locator('script').count(), 0, 'no script on the page');
        const codeField = page.getByLabel(lang === 'ru' ? 'Код' : 'Code', { exact: false }).first();
        const phoneField = page.getByLabel(lang === 'ru' ? 'Мобильный телефон' : 'Mobile phone', { exact: false });
        await codeField.waitFor();
        await shoot(page, `codes-1-page-phone-${lang}`);

        await codeField.fill(typoOf(code).toLowerCase());
        await phoneField.fill(phone);
        await page.getByRole('button').click();
        const message = page.getByTestId('message');
        await message.waitFor();
        assert.match(String(await message.textContent()), lang === 'ru' ? /опечатка/ : /typo/);
        assert.equal(await message.getAttribute('role'), 'alert');
        assert.equal(await page.locator('#code').getAttribute('aria-invalid'), 'true');
        assert.equal(await page.locator('#code').inputValue(), typoOf(code).toLowerCase(), 'what was typed is kept');
        assert.equal(await page.locator('#phone').inputValue(), phone);
        await shoot(page, `codes-2-typo-phone-${lang}`);

        await page.locator('#code').fill(code);
        await page.getByRole('button').click();
        await page.getByTestId('message').waitFor();
        const accepted = String(await page.getByTestId('message').textContent());
        assert.match(accepted, lang === 'ru' ? /Код принят/ : /accepted/);
        assert.match(accepted, /50/);
        assert.equal(await page.getByTestId('message').getAttribute('role'), 'status');
        assert.equal(await page.locator('#code').inputValue(), '', 'the form is ready for the next code');
        assert.equal(await page.locator('#phone').inputValue(), phone, 'for the same person');
        await shoot(page, `codes-3-accepted-phone-${lang}`);

        // The same code again: the one refusal, without a hint of why.
        await page.locator('#code').fill(code);
        await page.getByRole('button').click();
        await page.getByTestId('message').waitFor();
        assert.match(
          String(await page.getByTestId('message').textContent()),
          lang === 'ru' ? /не можем принять/ : /cannot accept/,
        );
        await shoot(page, `codes-4-refused-phone-${lang}`);
        assertNoTrouble(problems);
        await context.close();
      });
    }
  } finally {
    await browser?.close();
    await server.close();
  }
});
