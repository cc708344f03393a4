// End-to-end: the demo storefront as a shopper uses it — browsing steers "for you" and the banner, the
// history survives a reload, a wipe leaves nothing behind, and the page can be used from the keyboard.
// Screenshots land in test-results/ as artifacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, newPage, shotPath, demoReady, visitHash } from './browser.mjs';

let demo;

before(async () => {
  demo = await openDemo();
});
after(async () => {
  await demo?.close();
});

const ready = (page, path = '') => demoReady(page, demo.url + path);
const visit = (page, hash) => visitHash(page, hash);

const christmasIds = (page, n) =>
  page.evaluate(async (n) => (await (await fetch('data/products.json')).json()).filter((p) => p.category === 'Christmas').slice(0, n).map((p) => p.id), n);

test('five Christmas views turn "for you" Christmas, with reasons and a banner', async () => {
  const page = await newPage(demo.browser);
  await ready(page);
  const before = await page.$$eval('#for-you .card', (cs) => cs.map((c) => c.dataset.category));
  for (const id of await christmasIds(page, 5)) await visit(page, `#/product/${id}`);
  const cats = await page.$$eval('#for-you .card', (cs) => cs.map((c) => c.dataset.category));
  assert.equal(cats.length, 8);
  const xmas = cats.filter((c) => c === 'Christmas').length;
  assert.ok(xmas >= 6, `for-you after five Christmas views: ${cats} (before: ${before})`);
  assert.ok(xmas > before.filter((c) => c === 'Christmas').length);
  // The text cosine or the title words shared with a viewed product (`words` reasons) explain the pick.
  assert.match(await page.textContent('#for-you .because'), /Because (you viewed|same words as .+ you viewed)/);
  assert.ok((await page.$$('#similar .card')).length > 0, 'the product page shows similar items');
  assert.ok((await page.textContent('#banner-text')).length > 10, 'the banner shows a copy variant');
  assert.equal(await page.textContent('#history-count'), '5');
  await page.screenshot({ path: shotPath('storefront-for-you.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('search results are re-ranked for the session and the query is kept local', async () => {
  const page = await newPage(demo.browser);
  await ready(page);
  await page.fill('#search', 'bag');
  const before = await page.getAttribute('body', 'data-updated');
  await page.press('#search', 'Enter'); // keyboard only
  await page.waitForFunction((b) => document.body.dataset.updated !== b, before, { timeout: 30_000 });
  const results = await page.$$eval('#results .card .title', (ts) => ts.map((t) => t.textContent.toLowerCase()));
  assert.ok(results.length > 5);
  assert.ok(results.slice(0, 5).every((t) => t.includes('bag')), results.slice(0, 5).join(', '));
  assert.match(await page.textContent('#history'), /searched “bag”/);
  await page.screenshot({ path: shotPath('storefront-search.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('history survives a reload; a wipe leaves nothing behind', async () => {
  const ctx = await demo.browser.newContext();
  const page = await newPage(ctx);
  await ready(page);
  const [id] = await christmasIds(page, 1);
  await visit(page, `#/product/${id}`);
  await visit(page, '#/'); // a reload of the product page would count a second view
  await page.reload();
  await page.waitForSelector('body[data-updated]', { timeout: 60_000 });
  const kept = await page.evaluate(() => window.vitrine.export());
  assert.equal(kept.events.length, 1, 'one view survives the reload');
  assert.equal(kept.events[0].productId, id);
  const diag = await page.evaluate(() => window.vitrine.diagnostics());
  assert.equal(diag.persistence.mode, 'indexeddb', JSON.stringify(diag.persistence));

  await page.click('#wipe');
  await page.waitForFunction(() => document.getElementById('history-count').textContent === '0');
  const left = await page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('vitrine');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const store = req.result.transaction('kv').objectStore('kv');
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => { resolve({ keys: keys.result, values: JSON.stringify(values.result) }); req.result.close(); };
    };
  }));
  // Only the report state may remain: today's ε spend (a wipe must not refill the budget) and the
  // counters the page may count after the wipe. No history, no salt, no product id.
  assert.deepEqual(left.keys, ['report-state']);
  assert.ok(!left.values.includes(id) && !left.values.includes('productId'), left.values);
  await page.reload();
  await page.waitForSelector('body[data-updated]', { timeout: 60_000 });
  assert.equal((await page.evaluate(() => window.vitrine.export())).events.length, 0);
  assert.deepEqual(page.errors, []);
  await ctx.close();
});

test('every control has an accessible name and the banner is reachable by keyboard', async () => {
  const page = await newPage(demo.browser);
  await ready(page);
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll('button, input, a[href]')]
      .filter((e) => !e.hidden && e.offsetParent !== null)
      .filter((e) => {
        const label = e.id && document.querySelector(`label[for="${e.id}"]`);
        const wrapped = e.closest('label');
        return !(e.getAttribute('aria-label') || label || wrapped || e.textContent.trim());
      })
      .map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
  assert.ok(await page.$('main#main'), 'one main landmark');
  await page.focus('#banner-cta');
  const before = await page.evaluate(() => location.hash);
  await page.keyboard.press('Enter');
  await page.waitForFunction((b) => location.hash !== b, before, { timeout: 10_000 });
  assert.match(await page.evaluate(() => location.hash), /^#\/category\//);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a blocked IndexedDB degrades to memory with a reason; malformed input is rejected and loses nothing', async () => {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}bench/`); // any page of the origin without the storefront's own engine
  const result = await page.evaluate(async () => {
    indexedDB.open = () => { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); };
    const { Vitrine } = await import('/pkg/index.js');
    const v = await Vitrine.create({ catalog: { vectors: '/data/products.vcat' }, worker: false });
    const diag = await v.diagnostics();
    await v.track({ type: 'view', productId: '85123A' });
    const errors = [];
    for (const bad of [{ type: 'hover', productId: 'x' }, { type: 'view' }, { type: 'search' }, { type: 'purchase', productId: 'x', price: -1 }]) {
      try {
        await v.track(bad);
      } catch (err) {
        errors.push(err.message);
      }
    }
    const rankError = await v.rank({ placement: 'teleport' }).then(() => null, (e) => e.message);
    const events = (await v.export()).events.length;
    v.dispose();
    return { diag, errors, rankError, events };
  });
  assert.equal(result.diag.persistence.mode, 'memory');
  assert.match(result.diag.persistence.reason, /denied permission/);
  assert.equal(result.errors.length, 4, JSON.stringify(result.errors));
  assert.match(result.errors[0], /hover/);
  assert.match(result.errors[1], /productId/);
  assert.match(result.errors[2], /query/);
  assert.match(result.errors[3], /price/);
  assert.match(result.rankError, /placement/);
  assert.equal(result.events, 1, 'the valid event is kept, the malformed ones are not');
  assert.deepEqual(page.errors, []);
  await page.close();
});
