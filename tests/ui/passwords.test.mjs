// Passwords and sessions in the browser: a reset by the mailed link (read from the SMTP server
// the test started) that never tells which addresses have accounts, works once and logs the
// account out everywhere; a password change; "log out everywhere".
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BASE, ORG, env, launch, newPage } from './lib.mjs';

const mailFile = (n) => path.join(env('MAIL_DIR'), `${String(n).padStart(6, '0')}.json`);

async function nextMail(n, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(mailFile(n))) {
    if (Date.now() > deadline) assert.fail(`no mail ${n} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return JSON.parse(readFileSync(mailFile(n), 'utf8'));
}

describe('passwords and sessions', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  async function loginAs(page, email, password) {
    await page.goto(`${BASE()}/auth/login/`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
    return response;
  }

  const issues = `${BASE()}/organizations/${ORG}/issues/`;
  const loggedOut = async (page) => {
    await page.goto(issues);
    return new URL(page.url()).pathname === '/auth/login/';
  };

  test('a reset by mailed link works once, reveals nothing, and ends every session', async () => {
    const email = env('MEMBER_EMAIL');
    const other = await newPage(browser);
    await loginAs(other.page, email, env('MEMBER_PASSWORD'));
    assert.equal(await loggedOut(other.page), false);

    const visitor = await newPage(browser);
    await visitor.page.goto(`${BASE()}/auth/login/`);
    await Promise.all([visitor.page.waitForNavigation(), visitor.page.getByRole('link', { name: 'Forgot your password?' }).click()]);
    const ask = async (address) => {
      await visitor.page.getByLabel('E-mail').fill(address);
      await Promise.all([visitor.page.waitForNavigation(), visitor.page.getByRole('button', { name: 'Send the link' }).click()]);
      return (await visitor.page.locator('.alert-info').textContent()).replace(address, '<address>');
    };
    const unknown = await ask('nobody@a.test');
    const known = await ask(email);
    assert.equal(known, unknown, 'the same answer whether or not the account exists');

    const mail = await nextMail(1);
    assert.deepEqual(mail.rcpt_tos, [email], 'no mail for the address without an account');
    const link = JSON.stringify(mail).match(/http:\/\/127\.0\.0\.1:\d+\/auth\/password-reset\/\d+\/[0-9a-f]{64}\//)?.[0];
    assert.ok(link, JSON.stringify(mail));
    await visitor.page.goto(link);
    await visitor.page.getByLabel('New password').fill('brand-new-password');
    await visitor.page.getByLabel('Again').fill('brand-new-password');
    await Promise.all([visitor.page.waitForNavigation(), visitor.page.getByRole('button', { name: 'Set the password' }).click()]);
    assert.equal(new URL(visitor.page.url()).pathname, '/auth/login/');

    assert.equal(await loggedOut(other.page), true, 'the other session ended with the reset');
    assert.equal((await visitor.page.goto(link)).status(), 404, 'the link works once');
    assert.equal((await loginAs(visitor.page, email, env('MEMBER_PASSWORD'))).status(), 401, 'the old password is gone');
    await loginAs(visitor.page, email, 'brand-new-password');
    assert.equal(await loggedOut(visitor.page), false);
    assert.equal(existsSync(mailFile(2)), false, 'one mail in all');
    await other.page.context().close();
    await visitor.page.context().close();
  });

  test('a password change keeps this session and ends the others; log out everywhere ends all', async () => {
    const email = env('MEMBER_EMAIL');
    const here = await newPage(browser);
    const there = await newPage(browser);
    await loginAs(here.page, email, 'brand-new-password');
    await loginAs(there.page, email, 'brand-new-password');
    await here.page.goto(`${BASE()}/settings/account/password/`);
    await here.page.getByLabel('Current password').fill('wrong-password');
    await here.page.getByLabel('New password').fill('third-password-1');
    await here.page.getByLabel('Again').fill('third-password-1');
    const [refused] = await Promise.all([here.page.waitForNavigation(), here.page.getByRole('button', { name: 'Change password' }).click()]);
    assert.equal(refused.status(), 400);
    await here.page.getByLabel('Current password').fill('brand-new-password');
    await here.page.getByLabel('New password').fill('third-password-1');
    await here.page.getByLabel('Again').fill('third-password-1');
    await Promise.all([here.page.waitForNavigation(), here.page.getByRole('button', { name: 'Change password' }).click()]);
    assert.match(await here.page.locator('.alert-info').textContent(), /other sessions were logged out/);
    assert.equal(await loggedOut(there.page), true);
    assert.equal(await loggedOut(here.page), false, 'this browser stays logged in');

    await loginAs(there.page, email, 'third-password-1');
    await here.page.goto(`${BASE()}/settings/account/sessions/`);
    await Promise.all([here.page.waitForNavigation(), here.page.getByRole('button', { name: 'Log out everywhere' }).click()]);
    assert.equal(new URL(here.page.url()).pathname, '/auth/login/');
    assert.equal(await loggedOut(there.page), true);
    assert.equal(await loggedOut(here.page), true);
    await here.page.context().close();
    await there.page.context().close();
  });
});
