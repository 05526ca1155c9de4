// Projects and teams in the browser: an owner renames a project, creates a team, adds a member
// and the project to it, and deletes the project after typing its slug (a wrong slug is
// refused by the server, and the project is still there); its DSN is refused afterwards.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ORG, env, launch, newPage, login, screenshots } from './lib.mjs';

describe('renaming and deleting projects, team pages', () => {
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('rename a project, make a team with a member and the project, delete the project', async () => {
    const { page, problems } = await newPage(browser);
    await login(page, `/settings/${ORG}/projects/scratch/`);

    // Rename: the page moves to the new slug.
    await page.getByLabel('Name').fill('Scratch pad');
    await page.getByLabel('Slug').fill('scratchpad');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save' }).click()]);
    assert.equal(new URL(page.url()).pathname, `/settings/${ORG}/projects/scratchpad/`);
    assert.equal(await page.locator('.alert-info').textContent(), 'Project saved.');
    assert.equal((await page.goto(`${BASE()}/settings/${ORG}/projects/scratch/`)).status(), 404);

    // A team, from the organization settings page's link.
    await page.goto(`${BASE()}/settings/${ORG}/`);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Manage teams' }).click()]);
    await page.getByLabel('Name').fill('Mobile Apps');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create team' }).click()]);
    assert.equal(new URL(page.url()).pathname, `/settings/${ORG}/teams/mobile-apps/`);
    assert.equal(await page.locator('.alert-info').textContent(), 'Team mobile-apps created.');

    // A member and the project join it.
    const member = env('MEMBER_EMAIL');
    await page.locator('form.add-member select[name=member]').selectOption({ label: member });
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add member' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), `${member} joined the team.`);
    assert.equal(await page.locator(`table.team-members tr[data-member="${member}"]`).count(), 1);
    await page.locator('form.add-project select[name=project]').selectOption('scratchpad');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add project' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Team mobile-apps now owns scratchpad.');
    assert.equal(await page.locator('table.team-projects tr[data-project="scratchpad"]').count(), 1);
    await screenshots(page, 'team');

    // The teams list counts them.
    await page.goto(`${BASE()}/settings/${ORG}/teams/`);
    const row = page.locator('table.teams tr[data-team="mobile-apps"]');
    assert.deepEqual(await row.locator('td.col-num').allTextContents(), ['1', '1']);

    // Delete the project: a wrong slug is refused by the server, the right one deletes it.
    await page.goto(`${BASE()}/settings/${ORG}/projects/scratchpad/`);
    await page.getByLabel(/to confirm/).fill('scratch');
    const [refused] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete project' }).click()]);
    assert.equal(refused.status(), 400);
    assert.match(await page.locator('main').textContent(), /Type scratchpad to confirm/);
    assert.equal((await page.goto(`${BASE()}/settings/${ORG}/projects/scratchpad/`)).status(), 200);
    await page.getByLabel(/to confirm/).fill('scratchpad');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete project' }).click()]);
    assert.equal(new URL(page.url()).pathname, `/organizations/${ORG}/issues/`);
    assert.match(await page.locator('.alert-info').textContent(), /Project scratchpad deleted/);
    assert.equal((await page.goto(`${BASE()}/settings/${ORG}/projects/scratchpad/`)).status(), 404);
    await page.goto(`${BASE()}/settings/${ORG}/teams/mobile-apps/`);
    assert.equal(await page.locator('table.team-projects tr[data-project="scratchpad"]').count(), 0);

    // Its DSN is refused.
    const refusedEvent = await page.request.post(`${BASE()}/api/${env('SCRATCH_PROJECT_ID')}/store/?sentry_key=${env('SCRATCH_KEY')}&sentry_version=7`, {
      data: { message: 'after the deletion' },
    });
    assert.equal(refusedEvent.status(), 403);

    await page.goto(`${BASE()}/settings/${ORG}/audit-log/`);
    const log = await page.locator('table.audit tbody').textContent();
    for (const event of ['project.remove', 'project-team.add', 'member.join-team', 'team.create', 'project.edit']) {
      assert.ok(log.includes(event), `${event} in the audit log`);
    }
    assert.deepEqual(problems.errors, []);
    await page.context().close();
  });
});
