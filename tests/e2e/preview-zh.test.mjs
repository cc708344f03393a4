// End-to-end in Chromium: the Chinese + English encoder in the product. The marketer preview's Chinese
// example (typed Chinese personas, Chinese copy) picks for each persona the line about what it shopped
// for, and the package, given the model by name, re-ranks Chinese titles for a Chinese query.
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

test('the Chinese example: each typed Chinese persona gets the Chinese copy line about what it shopped for', async () => {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}preview.html`);
  await page.waitForSelector('body[data-previewed]', { timeout: 90_000 });
  const before = await page.getAttribute('body', 'data-previewed');
  await page.click('#zh-example');
  await page.waitForFunction((b) => document.body.dataset.previewed !== b, before, { timeout: 120_000 });
  assert.equal(await page.inputValue('#model'), 'multilingual-e5-small-zh-en');
  const winners = Object.fromEntries(await page.$$eval('.persona', (ps) => ps.map((p) => [p.querySelector('h3').textContent, p.dataset.winner])));
  // Expected by reading, not by running: each persona's events are about one of the four lines' themes
  // (moisturiser, serum, sunscreen → skincare; earphones, power bank, phone case → digital; nappies,
  // formula, a child's cup → baby; rice cooker, non-stick pan, air fryer → kitchen).
  assert.deepEqual(winners, { 护肤爱好者: 'skincare', 数码控: 'digital', 新手妈妈: 'baby', 下厨新手: 'kitchen' });
  // The ranking is the example's own Chinese products, not the English catalog.
  const firstItems = await page.$$eval('.persona .ranking li:first-child', (li) => li.map((x) => x.textContent));
  assert.equal(firstItems.length, 4);
  for (const t of firstItems) assert.match(t, /[\u4e00-\u9fff]/, t);
  await page.screenshot({ path: shotPath('preview-zh.png'), fullPage: true });

  // The link restores the Chinese setup, model and products included.
  const link = await page.getAttribute('#share', 'href');
  const fresh = await newPage(demo.browser);
  await fresh.goto(link);
  await fresh.waitForSelector('body[data-previewed]', { timeout: 120_000 });
  assert.equal(await fresh.inputValue('#model'), 'multilingual-e5-small-zh-en');
  const again = Object.fromEntries(await fresh.$$eval('.persona', (ps) => ps.map((p) => [p.querySelector('h3').textContent, p.dataset.winner])));
  assert.deepEqual(again, winners);
  assert.deepEqual([...page.errors, ...fresh.errors], []);
  await page.close();
  await fresh.close();
});

test('model by name: a Chinese query re-ranks Chinese titles; an unknown name is a typed error', async () => {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}preview.html`);
  const result = await page.evaluate(async () => {
    const { Vitrine, shippedModels } = await import('/pkg/index.js');
    let unknown;
    try {
      await Vitrine.create({ model: 'bge-small-zh', worker: false, persist: false });
    } catch (err) {
      unknown = { name: err.name, code: err.code, message: err.message };
    }
    const v = await Vitrine.create({ model: 'multilingual-e5-small-zh-en', persist: false, device: 'cpu' });
    // The page's order puts the wanted product last.
    const results = [
      { id: 'pan', title: '不粘锅炒锅 32厘米' },
      { id: 'cream', title: '补水保湿面霜 50ml' },
      { id: 'cable', title: 'Type-C 数据线 1米' },
      { id: 'earbuds', title: '主动降噪无线蓝牙耳机' },
    ];
    const zh = (await v.rerankSearch('降噪耳机', results)).map((r) => r.id);
    const en = (await v.rerankSearch('face moisturizer', results)).map((r) => r.id);
    await v.dispose();
    return { unknown, shippedModels, zh, en };
  });
  assert.deepEqual(result.shippedModels, ['all-MiniLM-L6-v2', 'multilingual-e5-small-zh-en']);
  assert.equal(result.unknown.code, 'unknown_model');
  assert.equal(result.unknown.name, 'VitrineError');
  assert.match(result.unknown.message, /'all-MiniLM-L6-v2', 'multilingual-e5-small-zh-en'/);
  // "noise-cancelling earphones" → the earbuds; "face moisturizer" (English) → the moisturising cream.
  assert.equal(result.zh[0], 'earbuds', JSON.stringify(result));
  assert.equal(result.en[0], 'cream', JSON.stringify(result));
  assert.deepEqual(page.errors, []);
  await page.close();
});
