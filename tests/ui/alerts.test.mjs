// Alert rules in the browser: an admin opens the project's Alerts tab, starts a new rule, sees
// an invalid count refused with the API's message, previews the form on the last 7 days (the
// issue the Rust test created is listed), sends a test notification of the unsaved form
// (the Rust test then finds the mail at its SMTP server), saves the rule, edits it from the
// list and deletes it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ORG, launch, newPage, login, screenshots } from './lib.mjs';

const ALERTS = `/settings/${ORG}/projects/default/alerts/`;

describe('alert rules', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('a rule is previewed, tested, saved, edited and deleted from the form', async () => {
    const { page, problems } = await newPage(browser);
    await login(page, ALERTS);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'New alert rule' }).click()]);
    const form = page.locator('form.rule-form');
    await form.getByLabel('Name').fill('Checkout errors');
    await form.getByLabel('A resolved issue is seen again').uncheck();
    await form.getByLabel('Level comparison').selectOption('gte');
    await form.getByLabel('Level', { exact: true }).selectOption('error');
    await form.getByLabel('The issue is seen more than').check();
    await form.getByLabel('Events', { exact: true }).fill('lots');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save rule' }).click()]);
    const errors = page.locator('.rule-errors');
    assert.match(await errors.textContent(), /conditions: entry 1: value must be a whole number/);
    assert.equal(await form.getByLabel('Name').inputValue(), 'Checkout errors', 'the form keeps what was typed');
    assert.equal(await form.getByLabel('Events', { exact: true }).inputValue(), 'lots');
    await form.getByLabel('The issue is seen more than').uncheck();

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Preview on the last 7 days' }).click()]);
    const preview = page.locator('#preview');
    assert.equal((await preview.locator('.preview-summary .fires').textContent()).trim(), '1', 'one new issue in the week');
    assert.match(await preview.locator('.preview-issues').textContent(), /ZeroDivisionError/);
    assert.equal(await form.getByLabel('Level comparison').inputValue(), 'gte', 'a preview keeps the form');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send test notification' }).click()]);
    const outcome = page.locator('#test-outcome');
    assert.match(await outcome.locator('li.sent').first().textContent(), /sent through mail/);
    await screenshots(page, 'alert-rule-form');

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save rule' }).click()]);
    assert.equal(new URL(page.url()).pathname, ALERTS);
    assert.match(await page.locator('[role=status]').textContent(), /Alert rule “Checkout errors” saved/);
    const rule = page.locator('article.rule', { hasText: 'Checkout errors' });
    assert.match(await rule.textContent(), /A new issue is created/);
    assert.match(await rule.textContent(), /greater than or equal to error/);
    assert.doesNotMatch(await rule.textContent(), /resolved to unresolved/);

    await Promise.all([page.waitForNavigation(), rule.getByRole('link', { name: 'Edit' }).click()]);
    assert.equal(await form.getByLabel('Name').inputValue(), 'Checkout errors');
    assert.equal(await form.getByLabel('Level comparison').inputValue(), 'gte');
    assert.ok(await form.getByLabel('A new issue is created').isChecked());
    assert.ok(!(await form.getByLabel('A resolved issue is seen again').isChecked()));
    await form.getByLabel('Name').fill('Checkout errors in production');
    await form.getByLabel('Tag 1 key').fill('environment');
    await form.getByLabel('Tag 1 value').fill('production');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save rule' }).click()]);
    const edited = page.locator('article.rule', { hasText: 'Checkout errors in production' });
    assert.match(await edited.textContent(), /tags match environment eq production/);

    await Promise.all([page.waitForNavigation(), edited.getByRole('link', { name: 'Edit' }).click()]);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete rule' }).click()]);
    assert.match(await page.locator('[role=status]').textContent(), /Alert rule deleted/);
    assert.equal(await page.locator('article.rule', { hasText: 'Checkout errors' }).count(), 0);
    assert.deepEqual(problems.errors, []);
  });
});
