// Shared helpers of the browser tests: the environment the Rust e2e test passes, the browser,
// logging in, screenshots, sending events with the real Python SDK, and polling a page until
// the server has processed what was sent.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

/** A required environment variable. */
export function env(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: these tests are run by the Rust e2e test crates/errhound/tests/e2e/ui.rs`);
  return value;
}

export const BASE = () => env('ERRHOUND_URL').replace(/\/$/, '');
export const ORG = 'errhound';

/** Debian's Chromium, headless, with the flag set known to work on the project machines. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new page that records every JavaScript dialog (an executed `alert` from hostile content
 * would open one), page error and CSP violation report, for the test to assert on.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const problems = { dialogs: [], confirms: [], errors: [], console: [] };
  page.on('dialog', async (dialog) => {
    // Our own confirmations (data-confirm buttons) are accepted; any other dialog can only
    // come from injected script and is a failure.
    if (dialog.type() === 'confirm') {
      problems.confirms.push(dialog.message());
      await dialog.accept().catch(() => {});
    } else {
      problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss().catch(() => {});
    }
  });
  page.on('pageerror', (error) => problems.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(message.text());
  });
  return { context, page, problems };
}

/** Logs in through the login form, starting from `target` (which redirects to the form). */
export async function login(page, target = `/organizations/${ORG}/issues/`) {
  await page.goto(BASE() + target);
  assert.match(new URL(page.url()).pathname, /^\/auth\/login\/$/, 'an anonymous visit goes to the login page');
  await page.getByLabel('E-mail').fill(env('ERRHOUND_EMAIL'));
  await page.getByLabel('Password').fill(env('ERRHOUND_PASSWORD'));
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
}

/** Where screenshots go (created). */
export function screenshotDir() {
  const dir = env('UI_SCREENSHOT_DIR');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Saves a full-page screenshot in light and in dark mode; returns the two paths. */
export async function screenshots(page, name) {
  const dir = screenshotDir();
  const out = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    const file = path.join(dir, `${name}-${scheme}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot: ${file}`);
    out.push(file);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return out;
}

/** Runs tests/sdk/python/send_events.py with the real Python SDK; returns `tag -> [event ids]`. */
export function sendEvents(scenario) {
  const output = execFileSync(env('SDK_PYTHON'), [env('SEND_EVENTS_PY'), env('ERRHOUND_DSN'), scenario], {
    encoding: 'utf8',
    env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
  });
  const sent = {};
  for (const line of output.split('\n')) {
    const [tag, id] = line.trim().split(' ');
    if (tag && id) (sent[tag] ||= []).push(id);
  }
  return sent;
}

/** Reloads `url` until `check(page)` resolves truthy (events are processed asynchronously). */
export async function pollPage(page, url, check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(url);
    if (await check(page)) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The list URL with a search query (and optional extra parameters). */
export function listUrl(query, extra = {}) {
  const params = new URLSearchParams({ query, ...extra });
  return `${BASE()}/organizations/${ORG}/issues/?${params}`;
}

/** The page of one issue. */
export function issueUrl(id) {
  return `${BASE()}/organizations/${ORG}/issues/${id}/`;
}
