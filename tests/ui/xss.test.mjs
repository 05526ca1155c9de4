// Hostile event content (sent by the Rust e2e test through the ingest endpoint) in a real
// browser: on every page listed in UI_XSS_PAGES, no JavaScript dialog opens (an executed
// `alert` would open one), no element got an event-handler attribute or an <img>/<iframe> from
// the content, the only scripts are our own files, and each hostile text is shown literally.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, env, launch, login, newPage } from './lib.mjs';

const pages = () => JSON.parse(env('UI_XSS_PAGES'));

describe('hostile event content renders as text', () => {
  let browser;
  let page;
  let problems;

  before(async () => {
    browser = await launch();
    ({ page, problems } = await newPage(browser));
    await login(page);
  });

  after(async () => {
    await browser?.close();
  });

  test('the pages list is not empty', () => {
    assert.ok(pages().length >= 5);
  });

  for (const [index, { path, texts }] of pages().entries()) {
    test(`page ${index}: ${path.slice(0, 80)}`, async () => {
      const response = await page.goto(BASE() + path);
      assert.equal(response.status(), 200);
      // Open every <details> so that focus/toggle handlers would have their chance too.
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
      await page.waitForTimeout(100);
      const found = await page.evaluate(() => {
        const handlers = [];
        for (const element of document.querySelectorAll('*')) {
          for (const attribute of element.attributes) {
            if (attribute.name.startsWith('on') || attribute.name === 'autofocus') {
              handlers.push(`<${element.tagName.toLowerCase()} ${attribute.name}>`);
            }
          }
        }
        const scripts = [...document.scripts].map((s) => s.getAttribute('src') || `inline: ${s.textContent.slice(0, 40)}`);
        return {
          handlers,
          scripts,
          images: document.querySelectorAll('img, iframe, object, embed').length,
          bolds: [...document.querySelectorAll('b')].map((b) => b.textContent),
          text: document.body.textContent,
        };
      });
      assert.deepEqual(found.handlers, [], 'no event handler attributes');
      assert.equal(found.images, 0, 'no injected <img>, <iframe>, <object>');
      assert.deepEqual(found.bolds, [], 'no injected <b>');
      for (const src of found.scripts) assert.match(src, /^\/static\/[0-9a-f]+\/(htmx\.min|app)\.js$/);
      const missing = texts.filter((text) => !found.text.includes(text));
      assert.deepEqual(missing, [], 'every hostile text is shown literally');
      assert.deepEqual(problems.dialogs, [], 'no dialog opened');
      assert.deepEqual(problems.confirms, [], 'no confirmation asked');
    });
  }
});
