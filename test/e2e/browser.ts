import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';

/** What the browser tests share: Chromium's launch, the console's build, trouble watching, waiting and screenshots. */

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WEB = join(REPO, 'web');
export const ARTIFACTS = join(REPO, 'test-artifacts');
export const LAPTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

function newestChange(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((entry) => newestChange(join(path, entry))));
}

function consoleBuildIsFresh(): boolean {
  const builtIndex = join(WEB, 'dist', 'index.html');
  const sources = Math.max(newestChange(join(WEB, 'src')), newestChange(join(WEB, 'index.html')));
  return existsSync(builtIndex) && statSync(builtIndex).mtimeMs >= sources;
}

/**
 * The server serves web/dist: build it when it is missing or older than the sources, so the test sees this code.
 * Browser test files run in parallel processes; a lock directory lets one of them build while the others wait.
 */
export async function ensureConsoleBuilt() {
  const lock = join(tmpdir(), `rapport-console-build-${createHash('sha256').update(WEB).digest('hex').slice(0, 12)}`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (consoleBuildIsFresh()) return;
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a process that died mid-build would block every later run.
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (consoleBuildIsFresh()) return;
    const { build } = await import('vite');
    await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Everything the page did wrong: console errors, uncaught exceptions and 5xx answers. */
export function watchForTrouble(page: Page, problems: string[]) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url ?? '';
    // Before sign-in the console asks GET /api/v1/session, which answers 401 by contract; Chromium logs that.
    if (message.text().includes('status of 401') && new URL(url, 'http://x').pathname === '/api/v1/session') return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 500) {
      problems.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
    }
  });
}

/** Whether an element is inside the window: a collapsed navbar is slid off-screen, not hidden. */
export async function onScreen(locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const viewport = locator.page().viewportSize();
  if (!box || !viewport || !(await locator.isVisible())) return false;
  return box.x + box.width > 0 && box.x < viewport.width && box.y + box.height > 0 && box.y < viewport.height;
}

/**
 * Polls a condition from the test side: the server's CSP forbids the string evaluation that waitForFunction needs,
 * and the test must run under the real CSP to catch what it would block.
 */
export async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Fails the current step with whatever went wrong in the page during it. */
export function assertNoTrouble(problems: string[]) {
  assert.deepEqual(problems.splice(0), [], 'no console errors, uncaught exceptions or 5xx responses');
}

export async function shoot(page: Page, name: string, fullPage = false) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

/** Signs in through the form and waits for the console's navigation. */
export async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(url);
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(password);
  await page.getByTestId('sign-in-submit').click();
  await page.getByTestId('nav-overview').waitFor();
}

export interface ConsoleApi {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  /** The raw answer, for calls that are expected to fail. */
  raw(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: string }>;
}

/** The management API as the page's signed-in user (session cookie, CSRF token and the first workspace). */
export async function consoleApi(page: Page, baseUrl: string): Promise<ConsoleApi> {
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
    raw: async (method, path, body) => {
      const response = await page.request.fetch(`${baseUrl}${path}`, { method, headers, data: body });
      return { status: response.status(), body: await response.text() };
    },
  };
}

/** Menus and modals fade in: a screenshot taken at once catches them half-transparent. */
export async function settled(page: Page) {
  await page.waitForTimeout(400);
}

/** Toasts of earlier steps would cover what the next screenshot is about. */
export async function dismissNotifications(page: Page) {
  // Toasts also close on their own and move up as others go: close the first one left, one at a time, until none.
  const close = page.locator('.mantine-Notification-root button').first();
  await waitUntil(
    async () => {
      if ((await page.locator('.mantine-Notification-root').count()) === 0) return true;
      await close.click({ timeout: 1_000 }).catch(() => {});
      return false;
    },
    'the toasts close',
    15_000,
  );
}

/** Picks an option of a Mantine Select (or MultiSelect) by its visible label. */
export async function choose(page: Page, select: Locator, option: string) {
  await select.click();
  await page.getByRole('option', { name: option, exact: true }).click();
}
