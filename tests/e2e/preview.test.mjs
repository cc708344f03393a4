// End-to-end: the marketer preview shows per-persona rankings and copy winners, and a link restores it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, newPage, shotPath } from './browser.mjs';

let demo;

before(async () => {
  demo = await openDemo();
});
after(async () => {
  await demo?.close();
});

test('two real-session personas get different copy winners, and the link restores the setup', async () => {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}preview.html`);
  await page.waitForSelector('body[data-previewed]', { timeout: 90_000 });
  const winners = await page.$$eval('.persona', (ps) => ps.map((p) => [p.querySelector('h3').textContent, p.dataset.winner]));
  assert.equal(winners.length, 3);
  assert.equal(new Set(winners.map(([, w]) => w)).size > 1, true, JSON.stringify(winners));
  const xmas = winners.find(([n]) => n === 'Christmas shopper');
  assert.equal(xmas[1], 'christmas', JSON.stringify(winners));
  assert.ok((await page.$$('.persona .ranking li')).length >= 10);
  await page.screenshot({ path: shotPath('preview.png'), fullPage: true });

  // Edit: a fourth persona typed by hand, then share the link and open it fresh.
  await page.fill('#variants', 'garden: Planters and watering cans for spring\nkitchen: Cake stands and teapots for afternoon tea');
  await page.click('#add-persona');
  await page.fill('#pevents-3', 'search: watering can\nview: Garden');
  const before = await page.getAttribute('body', 'data-previewed');
  await page.click('#run');
  await page.waitForFunction((b) => document.body.dataset.previewed !== b, before, { timeout: 60_000 });
  const link = await page.getAttribute('#share', 'href');
  const fresh = await newPage(demo.browser);
  await fresh.goto(link);
  await fresh.waitForSelector('body[data-previewed]', { timeout: 90_000 });
  assert.equal(await fresh.$$eval('.persona', (ps) => ps.length), 4);
  // Typed events come back resolved to catalog products ("view: Garden" → the first matching title).
  assert.match(await fresh.inputValue('#pevents-3'), /^search: watering can\nview: Garden/);
  assert.match(await fresh.inputValue('#variants'), /^garden: Planters/);
  assert.deepEqual([...page.errors, ...fresh.errors], []);
  await page.close();
  await fresh.close();
});
