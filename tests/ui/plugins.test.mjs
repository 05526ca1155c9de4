// Plugins in the browser: an admin opens the project's plugin list from the project settings
// tabs, enables the webhooks plugin, sees an invalid URL refused next to its field, saves a URL
// and a secret (the secret field comes back blank and marked "saved"); then, on their account's
// notification page, mutes the project, switches mail off and saves a signed-chat handle, and
// finds each choice kept after a reload.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ORG, launch, newPage, login, screenshots } from './lib.mjs';

describe('plugins', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('a plugin is enabled and configured from the project settings', async () => {
    const { page } = await newPage(browser);
    await login(page, `/settings/${ORG}/projects/default/`);
    await Promise.all([page.waitForNavigation(), page.locator('nav.subnav').getByRole('link', { name: 'Plugins' }).click()]);
    const row = page.locator('tr[data-plugin="webhooks"]');
    assert.match(await row.textContent(), /Disabled/);
    assert.match(await row.textContent(), /Needs setup/, 'its URLs are required and missing');
    assert.match(await page.locator('tr[data-plugin="mail"]').textContent(), /Enabled/);
    await Promise.all([page.waitForNavigation(), row.getByRole('link', { name: 'WebHooks' }).click()]);

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Enable' }).click()]);
    assert.match(await page.locator('[role=status]').textContent(), /Plugin enabled/);
    assert.match(await page.locator('#plugin .plugin-status').textContent(), /Enabled/);

    const urls = page.locator('textarea[name=urls]');
    await urls.fill('ftp://files.example/hook');
    await page.locator('input[name=secret]').fill('browser-secret-1');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save settings' }).click()]);
    const error = page.locator('.field-invalid .field-error');
    assert.match(await error.textContent(), /ftp:\/\/files\.example\/hook/);
    assert.equal(await page.locator('input[name=secret]').inputValue(), '', 'a secret is never sent back');

    await urls.fill('https://hooks.example/errhound');
    await page.locator('input[name=secret]').fill('browser-secret-1');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save settings' }).click()]);
    assert.match(await page.locator('[role=status]').textContent(), /Plugin settings saved/);
    assert.equal(await urls.inputValue(), 'https://hooks.example/errhound');
    assert.equal(await page.locator('input[name=secret]').inputValue(), '');
    assert.ok(await page.locator('label[for=field-secret] .saved').isVisible(), 'the secret shows as saved');
    assert.ok(!(await page.content()).includes('browser-secret-1'), 'the secret is nowhere in the page');
    assert.equal(await page.locator('#plugin .badge-escalating').count(), 0, 'no longer needs setup');
    await screenshots(page, 'plugin-webhooks');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Disable' }).click()]);
    assert.match(await page.locator('#plugin .plugin-status').textContent(), /Disabled/);
  });

  test('a user chooses what reaches them', async () => {
    const { page } = await newPage(browser);
    await login(page, `/organizations/${ORG}/issues/`);
    await page.locator('.account-menu summary').click();
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Notifications' }).click()]);
    const project = page.locator('tr[data-project="default"]');
    assert.match(await project.textContent(), /On/);
    await Promise.all([page.waitForNavigation(), project.getByRole('button', { name: 'Turn off' }).click()]);
    assert.match(await page.locator('[role=status]').textContent(), /no longer receive the alerts of Default/);

    const mail = page.locator('form[data-plugin="mail"]');
    await mail.getByLabel('Do not').check();
    await Promise.all([page.waitForNavigation(), mail.getByRole('button', { name: 'Save Mail' }).click()]);
    assert.match(await page.locator('[role=status]').textContent(), /Mail notifications are off/);

    const chat = page.locator('form[data-plugin="signed-chat"]');
    await chat.getByLabel('Chat handle').fill('the.admin');
    await Promise.all([page.waitForNavigation(), chat.getByRole('button', { name: /^Save / }).click()]);

    // An address the server refuses (the browser's own check lets it through) is shown next to
    // its field.
    await page.locator('form[data-plugin="mail"]').getByLabel('Send to').fill('ops@localhost');
    await Promise.all([page.waitForNavigation(), page.locator('form[data-plugin="mail"]').getByRole('button', { name: 'Save Mail' }).click()]);
    assert.match(await page.locator('form[data-plugin="mail"] .field-error').textContent(), /e-mail address/);

    await page.goto(`${BASE()}/settings/account/notifications/`);
    assert.match(await page.locator('tr[data-project="default"]').textContent(), /Off/);
    assert.ok(await page.locator('form[data-plugin="mail"] input[name=enabled][value=off]').isChecked());
    assert.equal(await page.locator('form[data-plugin="signed-chat"] input[name=handle]').inputValue(), 'the.admin');
    await screenshots(page, 'account-notifications');
  });
});
