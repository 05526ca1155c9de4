// Organization administration in the browser: an owner changes a member's role on the
// organization settings page (the last owner cannot step down), the change shows in the audit
// log, and a member of a closed organization sees only their team's projects.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ORG, env, launch, newPage, login, screenshots } from './lib.mjs';

describe('organization members and team visibility', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  async function loginAs(page, email, password) {
    await page.goto(`${BASE()}/auth/login/`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
  }

  test('an owner changes a member\'s role; the last owner cannot step down; the audit log shows it', async () => {
    const { page, problems } = await newPage(browser);
    await login(page, `/settings/${ORG}/`);
    assert.equal(new URL(page.url()).pathname, `/settings/${ORG}/`);
    const member = env('MEMBER_EMAIL');
    const row = page.locator(`tr[data-member="${member}"]`);
    assert.equal(await row.locator('select[name=role]').inputValue(), 'member');
    await row.locator('select[name=role]').selectOption('admin');
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Change role' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), `${member} is now Admin.`);
    assert.equal(await page.locator(`tr[data-member="${member}"] select[name=role]`).inputValue(), 'admin');
    await screenshots(page, 'organization-settings');

    const me = page.locator(`tr[data-member="${env('ERRHOUND_EMAIL')}"]`);
    await me.locator('select[name=role]').selectOption('member');
    const [response] = await Promise.all([page.waitForNavigation(), me.getByRole('button', { name: 'Change role' }).click()]);
    assert.equal(response.status(), 403);
    assert.match(await page.locator('main').textContent(), /at least one owner/);

    await page.goto(`${BASE()}/settings/${ORG}/audit-log/`);
    const first = page.locator('table.audit tbody tr').first();
    assert.match(await first.textContent(), /member\.edit/);
    assert.match(await first.textContent(), new RegExp(env('ERRHOUND_EMAIL').replace('.', '\\.')));
    assert.deepEqual(problems.errors, []);
    await page.context().close();
  });

  test('a personal token is made with chosen scopes, shown once, used, and revoked', async () => {
    const { page, problems } = await newPage(browser);
    await loginAs(page, env('MEMBER_EMAIL'), env('MEMBER_PASSWORD'));
    await page.goto(`${BASE()}/settings/account/api/auth-tokens/`);
    await page.getByLabel('Name').fill('laptop');
    await page.locator('input[name=scope][value="event:read"]').check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create token' }).click()]);
    const token = (await page.locator('#token-value').textContent()).trim();
    assert.match(token, /^sntryu_[0-9a-f]{64}$/);
    const info = await page.request.get(`${BASE()}/api/0/`, { headers: { Authorization: `Bearer ${token}` } });
    assert.deepEqual((await info.json()).auth.scopes, ['event:read']);
    // Shown once: the list has its last characters only.
    await page.goto(`${BASE()}/settings/account/api/auth-tokens/`);
    assert.equal(await page.locator('#token-value').count(), 0);
    const row = page.locator('table.tokens tbody tr', { hasText: 'laptop' });
    assert.match(await row.textContent(), new RegExp(token.slice(-4)));
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Revoke' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Token revoked.');
    const refused = await page.request.get(`${BASE()}/api/0/organizations/`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(refused.status(), 401);
    assert.deepEqual(problems.errors, []);
    await page.context().close();
  });

  test('a member of a closed organization sees only the projects of their teams', async () => {
    const { page } = await newPage(browser);
    await loginAs(page, env('MEMBER_EMAIL'), env('MEMBER_PASSWORD'));
    await page.goto(`${BASE()}/organizations/${ORG}/issues/`);
    const menu = page.locator('details.menu').nth(1);
    await menu.locator('summary').click();
    const names = await menu.locator('.menu-list li a').allTextContents();
    assert.ok(names.some((n) => n.includes('Default')), names.join(' | '));
    assert.ok(!names.some((n) => n.includes('Secret')), names.join(' | '));
    const hidden = await page.goto(`${BASE()}/settings/${ORG}/projects/secret/`);
    assert.equal(hidden.status(), 404);
    const visible = await page.goto(`${BASE()}/settings/${ORG}/projects/default/`);
    assert.equal(visible.status(), 200);
    await page.context().close();
  });
});
