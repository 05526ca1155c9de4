// Single sign-on in a real browser: the organization's login page sends Chromium to a real
// OpenID provider (oidc-provider on loopback), whose login form logs the account in; the
// provider answers at Errhound's callback (a redirect, or with OIDC_MODE=form_post a form the
// provider's page POSTs cross-site), and the browser lands logged in on the organization's
// issues, with the identity listed on the account's identities page.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ORG, env, launch, login, newPage, screenshots } from './lib.mjs';

describe('single sign-on', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  const path = (page) => new URL(page.url()).pathname;

  test(`logs in through the OpenID provider (${process.env.OIDC_MODE || 'query'})`, { skip: process.env.OIDC_MODE === 'settings' }, async () => {
    const { context, page, problems } = await newPage(browser);
    await page.goto(`${BASE()}/auth/login/${ORG}/`);
    if (process.env.OIDC_MODE !== 'form_post') await screenshots(page, 'sso-login');
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(env('OIDC_ISSUER'))),
      page.getByRole('button', { name: 'Continue with OpenID Connect' }).click(),
    ]);
    await page.locator('input[name=login]').fill(env('OIDC_ACCOUNT'));
    await page.locator('input[name=password]').fill('any password');
    await Promise.all([
      page.waitForURL(`${BASE()}/organizations/${ORG}/issues/`),
      page.locator('button[type=submit]').click(),
    ]);
    assert.equal(path(page), `/organizations/${ORG}/issues/`);

    await page.goto(`${BASE()}/settings/account/identities/`);
    const identities = page.locator('#identities');
    assert.match(await identities.textContent(), /OpenID Connect/);
    assert.match(await identities.textContent(), new RegExp(env('OIDC_EMAIL').replace('.', '\\.')));
    if (process.env.OIDC_MODE !== 'form_post') await screenshots(page, 'sso-identities');
    assert.deepEqual(problems.dialogs, []);
    assert.deepEqual(problems.errors, []);
    await context.close();
  });
});

describe('single sign-on settings', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('an owner tests an OpenID Connect configuration, then saves it', { skip: process.env.OIDC_MODE !== 'settings' }, async () => {
    const { context, page, problems } = await newPage(browser);
    await login(page);
    await page.goto(`${BASE()}/settings/${ORG}/`);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Single sign-on' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'OpenID Connect' }).click()]);
    await page.getByLabel('Issuer').fill(env('OIDC_ISSUER'));
    await page.getByLabel('Client ID').fill(env('OIDC_CLIENT_ID'));
    await page.getByLabel('Client secret').fill(env('OIDC_CLIENT_SECRET'));
    await page.getByLabel('Allowed e-mail domains').fill('corp.test');
    await screenshots(page, 'sso-settings');
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(env('OIDC_ISSUER'))),
      page.getByRole('button', { name: 'Test this configuration' }).click(),
    ]);
    await page.locator('input[name=login]').fill(env('OIDC_ACCOUNT'));
    await page.locator('input[name=password]').fill('any password');
    await Promise.all([page.waitForURL(`${BASE()}/auth/sso/**`), page.locator('button[type=submit]').click()]);
    await page.waitForSelector('#sso-identity');
    assert.match(await page.locator('#sso-identity').textContent(), new RegExp(env('OIDC_ACCOUNT')));
    await screenshots(page, 'sso-tested');

    // Nothing was saved by the test; saving needs the secret again (it is never shown back).
    await page.goto(`${BASE()}/settings/${ORG}/sso/?provider=oidc`);
    await page.getByLabel('Issuer').fill(env('OIDC_ISSUER'));
    await page.getByLabel('Client ID').fill(env('OIDC_CLIENT_ID'));
    await page.getByLabel('Client secret').fill(env('OIDC_CLIENT_SECRET'));
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save' }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /Single sign-on saved/);
    assert.match(await page.locator('#sso-provider').textContent(), /saved/);
    assert.deepEqual(problems.dialogs, []);
    assert.deepEqual(problems.errors, []);
    await context.close();
  });
});
