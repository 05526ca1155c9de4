// The main browser scenario, on events the real Python SDK sent (scenarios `grouping`,
// `message` and `fingerprint` of tests/sdk/python/send_events.py): log in, the list, search by
// a tag, the issue page with its stack trace, resolve and regression, assign, comment, bulk
// merge, ignore until N events, log out. One browser page walks through the steps in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, ORG, env, issueUrl, launch, listUrl, login, newPage, pollPage, screenshots, sendEvents,
} from './lib.mjs';

/** Issue ids by the scenario tag of their events (from the Rust side, through the API). */
const issues = () => JSON.parse(env('UI_ISSUES'));

describe('the web UI on real Python SDK events', () => {
  let browser;
  let page;
  let problems;

  before(async () => {
    browser = await launch();
    ({ page, problems } = await newPage(browser));
  });

  after(async () => {
    await browser?.close();
  });

  test('every page needs a session: an anonymous visit goes to the login page and back', async () => {
    const response = await page.goto(`${BASE()}/organizations/${ORG}/issues/?query=is%3Aunresolved`);
    assert.equal(response.status(), 200);
    const url = new URL(page.url());
    assert.equal(url.pathname, '/auth/login/');
    assert.equal(url.searchParams.get('next'), `/organizations/${ORG}/issues/?query=is%3Aunresolved`);
    // A wrong password is refused with the form shown again.
    await page.getByLabel('E-mail').fill(env('ERRHOUND_EMAIL'));
    await page.getByLabel('Password').fill('not-the-password');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
    assert.equal(await page.locator('.alert-error').textContent(), 'Invalid e-mail or password.');
    await login(page, `/organizations/${ORG}/issues/?query=is%3Aunresolved`);
    assert.equal(new URL(page.url()).pathname, `/organizations/${ORG}/issues/`, 'back where the visit started');
  });

  test('the list shows the issues the SDK sent, with counts and sparklines', async () => {
    await page.goto(listUrl('is:unresolved', { sort: 'freq' }));
    const titles = await page.locator('a.issue-title').allTextContents();
    assert.ok(titles.includes('ZeroDivisionError: division by zero'), titles.join(' | '));
    assert.ok(titles.includes("KeyError: 'sku-3'"), titles.join(' | '));
    assert.ok(titles.includes('Payment 5678 failed for order 100'), titles.join(' | '));
    assert.equal(titles.length, 6, titles.join(' | '));
    // Sorted by events: the charge issue (3 events) comes first.
    const first = page.locator('tr.issue-row').first();
    assert.equal(await first.getAttribute('data-href'), `/organizations/${ORG}/issues/${issues().charge}/`);
    assert.equal((await first.locator('td.col-num').nth(2).textContent()).trim(), '3');
    assert.equal(await first.locator('svg.spark rect.spark-bar').count(), 1, 'one bucket with events');
    await screenshots(page, 'issue-list');
  });

  test('search by a tag keeps the whole view in the URL', async () => {
    await page.goto(listUrl('is:unresolved'));
    const box = page.getByRole('searchbox');
    await box.fill('checkout.step:payment');
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get('query') === 'checkout.step:payment'),
      box.press('Enter'),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('a.issue-title').length === 1);
    assert.deepEqual(await page.locator('a.issue-title').allTextContents(), ['Payment 5678 failed for order 100']);
    // The same URL loaded fresh shows the same view (no JavaScript state involved).
    await page.goto(page.url());
    assert.deepEqual(await page.locator('a.issue-title').allTextContents(), ['Payment 5678 failed for order 100']);
    assert.equal(await page.getByRole('searchbox').inputValue(), 'checkout.step:payment');
    // Negation: everything else.
    await page.goto(listUrl('!checkout.step:payment'));
    const others = await page.locator('a.issue-title').allTextContents();
    assert.equal(others.length, 5, others.join(' | '));
    assert.ok(!others.includes('Payment 5678 failed for order 100'));
  });

  test('the issue page shows the stack trace with the in-app frame and its context line', async () => {
    await page.goto(listUrl('is:unresolved', { sort: 'freq' }));
    await Promise.all([
      page.waitForURL(issueUrl(issues().charge)),
      page.locator(`tr.issue-row[data-href$="/issues/${issues().charge}/"] a.issue-title`).click(),
    ]);
    assert.equal(await page.locator('h1.issue-title-big').innerText(), 'ERROR ZeroDivisionError: division by zero');
    assert.equal(await page.locator('p.culprit').textContent(), '__main__ in charge_card');
    assert.equal(await page.locator('#exception .exc-type').first().textContent(), 'ZeroDivisionError');
    assert.equal(await page.locator('#exception .exc-value').first().textContent(), 'division by zero');
    const frame = page.locator('#exception li.frame.in-app', { has: page.locator('.frame-fn', { hasText: /^charge_card$/ }) });
    await assert.doesNotReject(frame.waitFor({ state: 'visible' }));
    const current = frame.locator('table.context tr.current');
    assert.ok(await current.isVisible(), 'the error line is visible without a click');
    assert.equal((await current.locator('td.code').textContent()).trim(), 'return amount / 0');
    assert.match(await frame.locator('.frame-file').textContent(), /send_events\.py:\d+$/);
    const vars = frame.locator('table.vars');
    assert.equal((await vars.locator('th', { hasText: 'amount' }).count()), 1, 'local variables are shown');
    assert.equal(await page.locator('.stat-value').first().textContent(), '3');
    // Event volume: 24 hourly and 30 daily bars, the last ones holding the three events.
    const charts = page.locator('.charts svg.chart');
    assert.equal(await charts.count(), 2);
    assert.equal(await charts.nth(0).locator('rect.chart-bar').count(), 24);
    assert.equal(await charts.nth(1).locator('rect.chart-bar').count(), 30);
    assert.match(await charts.nth(0).locator('g').last().locator('title').textContent(), /: 3 events$/);
    assert.match(await page.locator('.stats').innerText(), /first seen in\s+shop@1\.2\.3/);
    // Tags with the issue's value distribution, linking to the list filtered by the value.
    const env = page.locator('#tags .tag-dist', { has: page.locator('h4', { hasText: 'environment' }) });
    assert.equal(await env.locator('.tag-value-name').first().textContent(), 'production');
    assert.equal(await env.locator('.tag-percent').first().textContent(), '100%');
    await screenshots(page, 'issue-detail');
  });

  test('event navigation moves between the events of the issue', async () => {
    await page.goto(issueUrl(issues().charge));
    const latestId = await page.locator('.event-id').textContent();
    assert.ok(await page.locator('.event-nav span.disabled', { hasText: 'Newer' }).isVisible(), 'the latest has no newer');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: '« Oldest' }).click()]);
    const oldestId = await page.locator('.event-id').textContent();
    assert.notEqual(oldestId, latestId);
    assert.ok(await page.locator('.event-nav span.disabled', { hasText: 'Older' }).isVisible(), 'the oldest has no older');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Newer ›' }).click()]);
    const middleId = await page.locator('.event-id').textContent();
    assert.ok(![latestId, oldestId].includes(middleId), 'three events, the middle one');
    // The raw JSON download is the stored event.
    const json = await page.request.get(BASE() + (await page.locator('a', { hasText: 'JSON' }).getAttribute('href')));
    assert.equal(json.status(), 200);
    assert.equal((await json.json()).event_id, middleId);
  });

  test('resolve, then the same error again reopens the issue as a regression', async () => {
    const url = issueUrl(issues().charge);
    await page.goto(url);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resolve', exact: true }).click()]);
    assert.equal(await page.locator('.status-line').getAttribute('data-status'), 'resolved');
    assert.match(await page.locator('.status-line').textContent(), /^Resolved/);
    assert.match(await page.locator('#activity .timeline').innerText(), /marked this issue as resolved/);
    await page.goto(listUrl('is:resolved'));
    assert.deepEqual(await page.locator('a.issue-title').allTextContents(), ['ZeroDivisionError: division by zero']);

    sendEvents('grouping');
    await pollPage(page, url, async (p) => (await p.locator('.status-line').getAttribute('data-status')) === 'unresolved',
      'the regression');
    assert.match(await page.locator('.status-line').textContent(), /regressed/);
    assert.equal(await page.locator('.issue-head .badge-regressed').textContent(), 'Regressed');
    const timeline = await page.locator('#activity .timeline').innerText();
    assert.match(timeline, /marked this issue as a regression/);
    await pollPage(page, url, async (p) => (await p.locator('.stat-value').first().textContent()) === '6',
      'all six events counted');
  });

  test('assign to a team, then to a member', async () => {
    await page.goto(issueUrl(issues().charge));
    const form = page.locator('form.assign');
    // The team `backend` (created through the API, with the admin in it).
    await form.locator('select').selectOption(await form.locator('option', { hasText: '#backend' }).getAttribute('value'));
    await Promise.all([page.waitForNavigation(), form.getByRole('button', { name: 'Assign' }).click()]);
    assert.match(await page.locator('.status-line').textContent(), /assigned to #backend$/);
    assert.match(await page.locator('#activity .timeline').innerText(), /assigned this issue to #backend/);
    for (const query of ['assigned:#backend', 'assigned:my_teams', 'is:assigned']) {
      await page.goto(listUrl(query));
      assert.deepEqual(
        await page.locator('tr.issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.href)),
        [`/organizations/${ORG}/issues/${issues().charge}/`],
        query,
      );
      assert.equal(await page.locator('tr.issue-row .assignee').textContent(), '→ #backend');
    }
    await page.goto(issueUrl(issues().charge));
    const option = form.locator('option', { hasText: env('ERRHOUND_EMAIL') });
    await form.locator('select').selectOption(await option.getAttribute('value'));
    await Promise.all([page.waitForNavigation(), form.getByRole('button', { name: 'Assign' }).click()]);
    assert.match(await page.locator('.status-line').textContent(), /assigned to/);
    assert.match(await page.locator('#activity .timeline').innerText(), /assigned this issue to/);
    await page.goto(listUrl('assigned:me'));
    assert.deepEqual(
      await page.locator('tr.issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.href)),
      [`/organizations/${ORG}/issues/${issues().charge}/`],
    );
  });

  test('a comment renders its markdown and shows script tags as text', async () => {
    await page.goto(issueUrl(issues().charge));
    const text = 'Looks like **the card gateway** again: `amount` is *zero*.\n\n<script>alert("comment")</script>';
    await page.locator('textarea[name=text]').fill(text);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Comment' }).click()]);
    const comment = page.locator('#activity .comment').first();
    assert.equal(await comment.locator('strong').textContent(), 'the card gateway');
    assert.equal(await comment.locator('code').textContent(), 'amount');
    assert.equal(await comment.locator('em').textContent(), 'zero');
    assert.equal(await comment.locator('script').count(), 0);
    assert.match(await comment.textContent(), /<script>alert\("comment"\)<\/script>/);
    assert.deepEqual(problems.dialogs, []);
    // A second comment, deleted again by its author.
    await page.locator('textarea[name=text]').fill('a typo');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Comment' }).click()]);
    assert.equal(await page.locator('#activity .comment').count(), 2);
    const typo = page.locator('#activity li.activity-note', { hasText: 'a typo' });
    await Promise.all([page.waitForNavigation(), typo.getByRole('button', { name: 'Delete' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Comment deleted.');
    assert.equal(await page.locator('#activity .comment').count(), 1);
    assert.equal(await page.locator('#activity li.activity-note', { hasText: 'a typo' }).count(), 0);
  });

  test('bulk merge of two issues', async () => {
    const { 'salted-acme': acme, 'salted-globex': globex } = issues();
    await page.goto(listUrl('is:unresolved'));
    await page.locator(`input[name=id][value="${acme}"]`).check();
    await page.locator(`input[name=id][value="${globex}"]`).check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Merge', exact: true }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /^Merged 1 issue into issue \d+\.$/);
    const survivor = Number((await page.locator('.alert-info').textContent()).match(/issue (\d+)\./)[1]);
    assert.ok([acme, globex].includes(survivor));
    const gone = survivor === acme ? globex : acme;
    // The merged issue's page leads to the survivor, which has both events.
    await page.goto(issueUrl(gone));
    assert.equal(new URL(page.url()).pathname, `/organizations/${ORG}/issues/${survivor}/`);
    assert.equal(await page.locator('.stat-value').first().textContent(), '2');
    assert.match(await page.locator('#activity .timeline').innerText(), /merged 1 issue into this issue/);
    assert.equal(await page.locator('#merge .hashes li').count(), 2, 'both fingerprints now point here');
  });

  test('bulk resolve, unresolve, assign and bookmark; a refused bulk action explains itself', async () => {
    const { message, custom } = issues();
    const rowOf = (id) => page.locator(`input[name=id][value="${id}"]`);
    await page.goto(listUrl('is:unresolved'));
    await rowOf(message).check();
    await rowOf(custom).check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resolve', exact: true }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), '2 issues resolved.');
    assert.equal(new URL(page.url()).searchParams.get('query'), 'is:unresolved', 'back to the same view');
    await page.goto(listUrl('is:resolved'));
    assert.equal(await page.locator('tr.issue-row').count(), 2);
    await page.locator('[data-select-all]').check();
    assert.equal(await page.locator('input[name=id]:checked').count(), 2, 'select all');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unresolve' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), '2 issues unresolved.');
    assert.equal(await page.locator('tr.issue-row').count(), 0, 'none resolved any more');

    await page.goto(listUrl('is:unresolved'));
    await rowOf(custom).check();
    // Choosing an assignee must not reload the results (it would drop the selection).
    await page.locator('#bulk select[name=assignee]').selectOption('me');
    await page.waitForTimeout(300);
    assert.ok(await rowOf(custom).isChecked(), 'the selection survives choosing an assignee');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Assign', exact: true }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Assigned 1 issue.');
    await page.goto(listUrl('assigned:me', { sort: 'freq' }));
    const mine = await page.locator('tr.issue-row').evaluateAll((rows) => rows.map((r) => r.dataset.href));
    assert.deepEqual(mine.sort(), [issueUrl(issues().charge), issueUrl(custom)].map((u) => new URL(u).pathname).sort());

    await page.goto(listUrl('is:unresolved'));
    await rowOf(message).check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Bookmark' }).click()]);
    await page.goto(listUrl('bookmarks:me'));
    assert.deepEqual(await page.locator('a.issue-title').allTextContents(), ['Payment 5678 failed for order 100']);
    assert.equal(await page.locator('tr.issue-row .bookmark').count(), 1);

    // Merging one issue is refused with a message on the list, not an error page.
    await page.goto(listUrl('is:unresolved'));
    await rowOf(message).check();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Merge', exact: true }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Select at least two issues to merge.');
    assert.equal(new URL(page.url()).pathname, `/organizations/${ORG}/issues/`);
    // Nothing selected at all.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resolve', exact: true }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Select at least one issue first.');
  });

  test('merge from the issue page, then unmerge a fingerprint', async () => {
    const { message, custom } = issues();
    await page.goto(issueUrl(custom));
    const form = page.locator('#merge form');
    await form.getByLabel('Merge with issue').fill('NOPE-1');
    await Promise.all([page.waitForNavigation(), form.getByRole('button', { name: 'Merge' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'There is no issue NOPE-1 in this organization.');
    assert.equal(page.url(), issueUrl(custom));

    await form.getByLabel('Merge with issue').fill(String(message));
    await Promise.all([page.waitForNavigation(), form.getByRole('button', { name: 'Merge' }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /^Merged 1 issue into issue \d+\.$/);
    assert.equal(await page.locator('#merge .hashes li').count(), 2);
    const merged = new URL(page.url()).pathname;
    // Split the second fingerprint off again.
    await Promise.all([page.waitForNavigation(), page.locator('#merge .hashes li').nth(1).getByRole('button', { name: 'Unmerge' }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /^Split 1 fingerprint off into issue (\d+);/);
    assert.equal(new URL(page.url()).pathname, merged);
    assert.equal(await page.locator('#merge .hashes li').count(), 1);
    assert.match(await page.locator('#activity .timeline').innerText(), /split 1 fingerprint off into issue \d+/);
    const split = (await page.locator('.alert-info').textContent()).match(/issue (\d+);/)[1];
    await page.goto(issueUrl(split));
    assert.match(await page.locator('#activity .timeline').innerText(), /split this issue off issue \d+/);
  });

  test('resolve in the next release or in a release; ignore for a while or for N users', async () => {
    await page.goto(issueUrl(issues().inventory));
    await page.locator('summary', { hasText: 'Resolve in…' }).click();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'The next release' }).click()]);
    assert.equal(await page.locator('.status-line').getAttribute('data-status'), 'resolved');
    assert.match(await page.locator('.status-line').textContent(), /^Resolved in the release after shop@1\.2\.3/);
    assert.match(await page.locator('#activity .timeline').innerText(), /marked this issue as resolved in the next release/);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unresolve' }).click()]);
    assert.equal(await page.locator('.status-line').getAttribute('data-status'), 'unresolved');
    // In a release chosen from the project's releases.
    await page.locator('summary', { hasText: 'Resolve in…' }).click();
    await page.getByLabel('Release').selectOption('shop@1.2.3');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resolve in this release' }).click()]);
    assert.match(await page.locator('.status-line').textContent(), /^Resolved in release shop@1\.2\.3/);
    assert.match(await page.locator('#activity .timeline').innerText(), /marked this issue as resolved in shop@1\.2\.3/);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unresolve' }).click()]);
    // Ignored for a while, and for a number of users.
    await page.locator('summary', { hasText: 'Ignore…' }).click();
    await page.locator('select[name=ignoreDuration]').selectOption('120');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Ignore for a while' }).click()]);
    assert.match(await page.locator('.status-line').textContent(), /^Ignored until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    assert.match(await page.locator('#activity .timeline').innerText(), /ignored this issue for 2 hours/);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unresolve' }).click()]);
    await page.locator('summary', { hasText: 'Ignore…' }).click();
    await page.locator('input[name=ignoreUserCount]').fill('3');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Ignore until these users' }).click()]);
    assert.match(await page.locator('.status-line').textContent(), /^Ignored until 3 more users/);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unresolve' }).click()]);
    assert.equal(await page.locator('.status-line').getAttribute('data-status'), 'unresolved');
  });

  test('ignore until N more events, then escalate when they come', async () => {
    const url = issueUrl(issues().inventory);
    await page.goto(url);
    await page.locator('summary', { hasText: 'Ignore…' }).click();
    const form = page.locator('form[data-ignore-count]');
    await form.getByLabel('Until it occurs').fill('2');
    await Promise.all([page.waitForNavigation(), form.getByRole('button', { name: 'Ignore until this count' }).click()]);
    assert.equal(await page.locator('.status-line').getAttribute('data-status'), 'ignored');
    assert.match(await page.locator('.status-line').textContent(), /until 2 more events \(2 to go\)/);
    assert.match(await page.locator('#activity .timeline').innerText(), /ignored this issue until it occurs 2 more times/);
    await page.goto(listUrl('is:ignored'));
    assert.deepEqual(await page.locator('a.issue-title').allTextContents(), ["KeyError: 'sku-3'"]);

    sendEvents('grouping');
    await pollPage(page, url, async (p) => (await p.locator('.status-line').getAttribute('data-status')) === 'unresolved',
      'the ignore condition to be met');
    assert.match(await page.locator('.status-line').textContent(), /escalating/);
  });

  test('releases, environments and project settings pages', async () => {
    await page.goto(`${BASE()}/organizations/${ORG}/releases/`);
    assert.equal(await page.locator('table.list tbody tr td a').first().textContent(), 'shop@1.2.3');
    await page.goto(`${BASE()}/organizations/${ORG}/environments/`);
    assert.equal(await page.locator('table.list tbody tr td a').first().textContent(), 'production');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(/\/settings\//);
    assert.equal(await page.locator('code.dsn-text').first().textContent(), env('ERRHOUND_DSN'));
    assert.match(await page.locator('#setup').innerText(), /sentry_sdk\.init\(dsn="/);
  });

  test('filters apply in place and keep the URL; the keyboard moves through the list', async () => {
    await page.goto(listUrl('is:unresolved environment:production'));
    const inProduction = await page.locator('tr.issue-row').count();
    assert.ok(inProduction > 1);
    await page.goto(listUrl('is:unresolved'));
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get('environment') === 'production'),
      page.locator('select[name=environment]').selectOption('production'),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('tr.issue-row').length > 0);
    assert.equal(await page.locator('tr.issue-row').count(), inProduction, 'the selector filters as environment: does');
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get('statsPeriod') === '24h'),
      page.locator('select[name=statsPeriod]').selectOption('24h'),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('svg.spark rect').length === 24 * document.querySelectorAll('svg.spark').length);
    // The browser's back button returns to the previous filter.
    await page.goBack();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('statsPeriod') !== '24h');
    await page.waitForFunction(() => document.querySelector('select[name=statsPeriod]').value === '14d'
      && document.querySelectorAll('svg.spark rect').length === 14 * document.querySelectorAll('svg.spark').length,
    null, { timeout: 5000 });
    // "/" focuses the search box; j and k move between issues; o opens the focused one.
    await page.locator('h1').click();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'query');
    await page.locator('h1').click();
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    const focused = await page.evaluate(() => document.activeElement.closest('tr')?.dataset.href);
    assert.equal(focused, await page.locator('tr.issue-row').first().getAttribute('data-href'));
    await Promise.all([page.waitForURL((url) => url.pathname === focused), page.keyboard.press('o')]);
  });

  test('DSN keys: create, disable (the SDK is refused), enable, rotate', async () => {
    await page.goto(`${BASE()}/settings/${ORG}/projects/default/`);
    const rows = page.locator('table.keys tbody tr');
    assert.equal(await rows.count(), 1);
    await page.getByLabel('New key label').fill('Backend');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create key' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Key created.');
    assert.equal(await rows.count(), 2);
    const row = rows.filter({ hasText: 'Backend' });
    const dsn = await row.locator('code.dsn-text').textContent();
    assert.match(dsn, /^http:\/\/[0-9a-f]{32}@127\.0\.0\.1:\d+\/\d+$/);
    const send = async (key) => {
      const url = new URL(key);
      const response = await fetch(`${url.origin}/api${url.pathname}/store/?sentry_key=${url.username}&sentry_version=7`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'key check', level: 'info' }),
      });
      return response.status;
    };
    assert.equal(await send(dsn), 200, 'a new key works at once');
    // The copy button puts the DSN on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE() });
    await row.getByRole('button', { name: 'Copy' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('button[data-copy]')].some((b) => b.textContent === 'Copied'));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), dsn);
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Disable' }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /^Key disabled/);
    assert.equal(await row.locator('.badge').textContent(), 'Disabled');
    assert.ok([401, 403].includes(await send(dsn)), 'a disabled key is refused');
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Enable' }).click()]);
    assert.equal(await row.locator('.badge').textContent(), 'Active');
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Rotate' }).click()]);
    assert.deepEqual(problems.confirms, ['Rotate this key? Its current DSN stops working immediately.']);
    const rotated = await row.locator('code.dsn-text').textContent();
    assert.notEqual(rotated, dsn);
    assert.ok([401, 403].includes(await send(dsn)), 'the old DSN is refused after a rotation');
    assert.equal(await send(rotated), 200);
    // A rate limit of one event per hour: the next event is admitted, the one after is 429.
    await row.getByLabel('Events').fill('1');
    await row.getByLabel('Window (seconds)').fill('3600');
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Set limit' }).click()]);
    assert.match(await page.locator('.alert-info').textContent(), /^Rate limit saved/);
    assert.match(await row.locator('.key-rate-limit').innerText(), /1 event per 3600 s/);
    await screenshots(page, 'project-settings');
    assert.equal(await send(rotated), 200);
    assert.equal(await send(rotated), 429, 'past its rate limit');
    await Promise.all([page.waitForNavigation(), row.getByRole('button', { name: 'Remove limit' }).click()]);
    assert.equal(await page.locator('.alert-info').textContent(), 'Rate limit removed.');
    assert.match(await row.locator('.key-rate-limit').innerText(), /None/);
    assert.equal(await send(rotated), 200, 'the limit is gone at once');
  });

  test('without JavaScript: reading, searching and acting still work', async () => {
    const { context, page: plain } = await newPage(browser, { javaScriptEnabled: false });
    try {
      await login(plain);
      await plain.getByRole('searchbox').fill('sku-3');
      await Promise.all([plain.waitForNavigation(), plain.getByRole('button', { name: 'Search' }).click()]);
      assert.equal(new URL(plain.url()).searchParams.get('query'), 'sku-3');
      assert.deepEqual(await plain.locator('a.issue-title').allTextContents(), ["KeyError: 'sku-3'"]);
      await Promise.all([plain.waitForNavigation(), plain.locator('a.issue-title').click()]);
      // Collapsed library frames and menus are <details>: they open without script.
      await plain.locator('summary', { hasText: 'Ignore…' }).click();
      assert.ok(await plain.getByRole('button', { name: 'Forever' }).isVisible());
      await Promise.all([plain.waitForNavigation(), plain.getByRole('button', { name: 'Forever' }).click()]);
      assert.match(await plain.locator('.status-line').textContent(), /^Ignored forever/);
      await Promise.all([plain.waitForNavigation(), plain.getByRole('button', { name: 'Unresolve' }).click()]);
      assert.match(await plain.locator('.status-line').textContent(), /^Unresolved/);
    } finally {
      await context.close();
    }
  });

  test('a session that ends while filtering in place leads to the login page, then back', async () => {
    const { context, page: other } = await newPage(browser);
    try {
      await login(other);
      await other.goto(listUrl('is:unresolved'));
      await context.clearCookies();
      await other.getByRole('searchbox').fill('level:warning');
      await Promise.all([
        other.waitForURL((url) => url.pathname === '/auth/login/'),
        other.getByRole('searchbox').press('Enter'),
      ]);
      await other.waitForLoadState();
      assert.deepEqual(await other.locator('h1').allTextContents(), ['Log in'], 'the login page as a whole page');
      await other.getByLabel('E-mail').fill(env('ERRHOUND_EMAIL'));
      await other.getByLabel('Password').fill(env('ERRHOUND_PASSWORD'));
      await Promise.all([other.waitForNavigation(), other.getByRole('button', { name: 'Log in' }).click()]);
      const url = new URL(other.url());
      assert.equal(url.pathname, `/organizations/${ORG}/issues/`);
      assert.equal(url.searchParams.get('query'), 'level:warning', 'back to the search that was asked for');
    } finally {
      await context.close();
    }
  });

  test('log out ends the session', async () => {
    await page.goto(`${BASE()}/organizations/${ORG}/issues/`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log out' }).click()]);
    assert.equal(new URL(page.url()).pathname, '/auth/login/');
    await page.goto(`${BASE()}/organizations/${ORG}/issues/${issues().charge}/`);
    assert.equal(new URL(page.url()).pathname, '/auth/login/', 'pages need the session again');
    assert.deepEqual(problems.dialogs, [], 'no dialog ever opened');
    assert.deepEqual(problems.errors, [], 'no script error');
  });
});
