// Sessions in the browser: one user logged in from two browsers (two contexts, two cookie
// jars) sees both on the sessions page, reached through the account menu, this one marked;
// revoking the other from here sends that browser to the login page on its next navigation,
// and this one stays logged in.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ORG, env, launch, login, newPage, screenshots } from './lib.mjs';

describe('sessions', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  async function loginAs(page, email, password) {
    await page.goto(`${BASE()}/auth/login/`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
  }

  const issues = `${BASE()}/organizations/${ORG}/issues/`;
  const path = (page) => new URL(page.url()).pathname;

  test('a session revoked from another browser is logged out at its next navigation', async () => {
    const email = env('MEMBER_EMAIL');
    const password = env('MEMBER_PASSWORD');
    const here = await newPage(browser);
    const there = await newPage(browser, { userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    await loginAs(there.page, email, password);
    await loginAs(here.page, email, password);
    await there.page.goto(issues);
    assert.equal(path(there.page), `/organizations/${ORG}/issues/`);

    // The account menu leads to the page.
    await here.page.goto(issues);
    await here.page.locator('.account-menu summary').click();
    await Promise.all([here.page.waitForNavigation(), here.page.getByRole('link', { name: 'Sessions' }).click()]);
    assert.equal(path(here.page), '/settings/account/sessions/');
    const rows = here.page.locator('tr[data-session]');
    assert.equal(await rows.count(), 2);
    const current = here.page.locator('tr[data-session][aria-current="true"]');
    assert.equal(await current.count(), 1);
    assert.match(await current.textContent(), /this session/);
    const other = here.page.locator('tr[data-session]:not([aria-current])');
    assert.match(await other.textContent(), /Firefox 128 on Linux/);
    await screenshots(here.page, 'sessions');

    await Promise.all([here.page.waitForNavigation(), other.getByRole('button', { name: 'Revoke' }).click()]);
    assert.equal(path(here.page), '/settings/account/sessions/');
    assert.match(await here.page.locator('.alert-info').textContent(), /Session revoked/);
    assert.equal(await rows.count(), 1);
    assert.deepEqual(here.problems.dialogs, []);
    assert.deepEqual(here.problems.errors, []);

    await there.page.goto(issues);
    assert.equal(path(there.page), '/auth/login/', 'the revoked browser is logged out');
    await here.page.goto(issues);
    assert.equal(path(here.page), `/organizations/${ORG}/issues/`, 'this browser stays logged in');
    await here.context.close();
    await there.context.close();
  });

  test('the account menu offers the admin page to superusers only', async () => {
    const member = await newPage(browser);
    await loginAs(member.page, env('MEMBER_EMAIL'), env('MEMBER_PASSWORD'));
    await member.page.goto(issues);
    await member.page.locator('.account-menu summary').click();
    const menu = member.page.locator('.account-menu .menu-list');
    assert.deepEqual(await menu.getByRole('link').allTextContents(), ['Notifications', 'Sessions', 'Single sign-on identities', 'API tokens', 'Password']);
    assert.equal((await member.page.goto(`${BASE()}/manage/`)).status(), 403);

    const admin = await newPage(browser);
    await login(admin.page);
    await admin.page.locator('.account-menu summary').click();
    await Promise.all([admin.page.waitForNavigation(), admin.page.locator('.account-menu').getByRole('link', { name: 'Admin' }).click()]);
    assert.equal(path(admin.page), '/manage/');
    assert.ok(await admin.page.locator(`tr[data-user="${env('MEMBER_EMAIL')}"]`).isVisible());
    await screenshots(admin.page, 'admin');
    await member.context.close();
    await admin.context.close();
  });
});
