// Invitations in the browser: an owner invites an address onto the Errhound team from the
// organization settings page; the mail (read from the SMTP server the test started) carries the
// link; the invitee creates an account through it and sees only the team's projects; the link
// works once.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BASE, ORG, env, launch, newPage, login } from './lib.mjs';

async function nextMail(n, timeoutMs = 10_000) {
  const file = path.join(env('MAIL_DIR'), `${String(n).padStart(6, '0')}.json`);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) assert.fail(`no mail ${n} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return readFileSync(file, 'utf8');
}

describe('invitations', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('an invitation is mailed, accepted once, and shows only the team\'s projects', async () => {
    const admin = await newPage(browser);
    await login(admin.page, `/settings/${ORG}/`);
    await admin.page.getByLabel('E-mail').fill('newcomer@a.test');
    await admin.page.locator('form[action$="/invitations/"] select[name=role]').selectOption('member');
    await admin.page.getByLabel('Errhound', { exact: true }).check();
    await Promise.all([admin.page.waitForNavigation(), admin.page.getByRole('button', { name: 'Invite' }).click()]);
    assert.match(await admin.page.locator('#invited').textContent(), /It was mailed to them/);
    const shown = (await admin.page.locator('#invite-link').textContent()).trim();
    assert.ok(shown.startsWith(`${BASE()}/accept/`), shown);
    assert.match(await admin.page.locator('table.invitations').textContent(), /newcomer@a\.test/);

    const mail = JSON.parse(await nextMail(1));
    assert.deepEqual(mail.rcpt_tos, ['newcomer@a.test']);
    const raw = JSON.stringify(mail);
    const link = raw.match(/http:\/\/127\.0\.0\.1:\d+\/accept\/\d+\/[0-9a-f]{64}\//)?.[0];
    assert.equal(link, shown, 'the mail carries the link the inviter saw');

    const invitee = await newPage(browser);
    await invitee.page.goto(link);
    assert.match(await invitee.page.locator('h1').textContent(), /Join Errhound/);
    await invitee.page.getByLabel('Name').fill('New Comer');
    await invitee.page.getByLabel('Password').fill('newcomer-password-1');
    await Promise.all([invitee.page.waitForNavigation(), invitee.page.getByRole('button', { name: 'Create account and join' }).click()]);
    assert.equal(new URL(invitee.page.url()).pathname, `/organizations/${ORG}/issues/`);
    const menu = invitee.page.locator('details.menu').nth(1);
    await menu.locator('summary').click();
    const names = await menu.locator('.menu-list li a').allTextContents();
    assert.ok(names.some((n) => n.includes('Default')), names.join(' | '));
    assert.ok(!names.some((n) => n.includes('Secret')), names.join(' | '));

    // The link is used up.
    const again = await invitee.page.goto(link);
    assert.equal(again.status(), 404);
    // The owner sees the new member, and the acceptance in the audit log.
    await admin.page.goto(`${BASE()}/settings/${ORG}/`);
    assert.equal(await admin.page.locator('tr[data-member="newcomer@a.test"] select[name=role]').inputValue(), 'member');
    await admin.page.goto(`${BASE()}/settings/${ORG}/audit-log/`);
    assert.match(await admin.page.locator('table.audit tbody tr').first().textContent(), /member\.accept-invite/);
    assert.deepEqual(admin.problems.errors, []);
    assert.deepEqual(invitee.problems.errors, []);
  });
});
