// End-to-end privacy audit against a real collector binary, with every request captured: the attacks of
// issue 15 as an adversarial page would run them, in Chromium. Each test fails if its defence is removed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDemo, newPage } from './browser.mjs';
import { startCollector } from './collector.mjs';

let demo;
let collector;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vitrine-privacy-'));
  collector = await startCollector(join(dir, 'reports.db'), ['--register', new URL('../../www/experiments.json', import.meta.url).pathname]);
  for (const id of ['e1', 'e2', 'e3']) await collector.register(id, ['A', 'B']);
  demo = await openDemo();
});
after(async () => {
  await demo?.close();
  collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh browser context (its own origin storage) recording every request that leaves the page. */
async function context(opts = {}) {
  const ctx = await demo.browser.newContext();
  if (opts.gpc) await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const requests = [];
  ctx.on('request', (r) => {
    if (!r.url().startsWith(demo.url)) requests.push({ url: r.url(), method: r.method(), body: r.postData(), bytes: r.postDataBuffer()?.length, headers: r.headers() });
  });
  return { ctx, requests, posts: () => requests.filter((r) => r.method === 'POST') };
}

/** Opens a blank page of the demo server with the package loaded as `window.V`. */
async function blank(ctx) {
  const page = await newPage(ctx);
  await page.goto(`${demo.url}bench/`);
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  return page;
}

const create = (page, opts) => page.evaluate(async ([collector, o]) => {
  window.v = await window.V.create({ collector, consent: true, reportDelayMs: [0, 100], ...o });
  return window.v.diagnostics();
}, [collector.url, opts ?? {}]);

const pick = (page, slot) => page.evaluate((s) => window.v.pickCopy(s, [{ id: 'A', text: 'a' }, { id: 'B', text: 'b' }], { mode: 'ab' }), slot);
const settle = (page, ms = 1500) => page.waitForTimeout(ms);

test('per-shopper experiment ids are not counted, and the collector refuses and stores nothing', async () => {
  const { ctx, requests } = await context();
  const page = await blank(ctx);
  await create(page);
  const picks = [];
  for (const id of ['customer-4711', 'customer-4712']) picks.push(await pick(page, `hero.${id}`));
  assert.ok(picks.every((p) => p.counted === false && p.experiment === null && ['A', 'B'].includes(p.variant)), 'the pick still works');
  const diag = await page.evaluate(() => window.v.diagnostics());
  assert.match(diag.reporting['hero.customer-4711'], /runs no registered experiment/);
  assert.deepEqual(await page.evaluate(() => window.v.flushReports()), []);
  // Forged straight from the page, as a fake client would.
  const forged = await page.evaluate(async (url) => (await fetch(`${url}/v1/reports`, { method: 'POST', body: JSON.stringify({ v: 2, experiment: 'hero.customer-4711', hour: Math.floor(Date.now() / 3.6e6), arm: 'A', id: 'ab'.repeat(16), r: 1 }) })).status, collector.url);
  assert.equal(forged, 404);
  assert.equal((await collector.totals()).reports, 0);
  assert.ok(requests.every((r) => r.method === 'GET' || r.url.endsWith('/v1/reports')), JSON.stringify(requests.map((r) => r.url)));
  await ctx.close();
});

test('two tabs, a reload and a memory-mode page never exceed the day\'s ε, counted at the collector', async () => {
  const before = (await collector.totals()).reports;
  const { ctx, posts } = await context();
  const [tab1, tab2] = [await blank(ctx), await blank(ctx)];
  await create(tab1); // fetches the registry: this visit sends nothing
  await create(tab2);
  for (const tab of [tab1, tab2]) for (const e of ['e1', 'e2', 'e3']) assert.ok((await pick(tab, e)).counted);
  const built = await Promise.all([tab1, tab2].map((t) => t.evaluate(() => window.v.flushReports())));
  // (Each tab's own scheduled flush may build first: between them, never more than two.)
  assert.ok(built.flat().length <= 2, 'ε 2 per report, 4 per day: two reports between both tabs');
  await settle(tab2);
  await tab1.reload();
  await tab1.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  await create(tab1, { storeName: 'another-store' });
  for (const e of ['e1', 'e2', 'e3']) await pick(tab1, e);
  assert.deepEqual(await tab1.evaluate(() => window.v.flushReports()), [], 'the budget is spent whatever storeName says');
  const memory = await blank(ctx);
  const diag = await create(memory, { persist: false });
  assert.match(diag.transport, /memory-only mode/);
  assert.equal((await pick(memory, 'e3')).counted, false);
  assert.deepEqual(await memory.evaluate(() => window.v.flushReports()), []);
  await settle(tab1, 2500);
  const received = (await collector.totals()).reports - before;
  assert.equal(received, 2, 'the collector received at most 4 ε worth of reports from this device');
  assert.equal(posts().length, 2, 'one report per request');
  await ctx.close();
});

test('in bandit mode no request carries the variant or a segment in clear', async () => {
  const { ctx, posts, requests } = await context();
  await ctx.addInitScript(() => localStorage.setItem('demo-consent', 'yes'));
  const page = await newPage(ctx);
  const url = `${demo.url}?collector=${encodeURIComponent(collector.url)}`;
  await page.goto(url);
  await page.waitForSelector('body[data-updated]', { timeout: 60_000 });
  const first = await page.evaluate(() => window.vitrine.diagnostics());
  assert.match(first.reporting['home-banner'], /counted under registered experiment home-banner/);
  await page.evaluate(() => window.vitrine.flushReports());
  await page.goto(url); // the next visit sends what the first counted
  await page.waitForSelector('body[data-updated]', { timeout: 60_000 });
  await page.waitForRequest((r) => r.method() === 'POST', { timeout: 40_000 });
  await settle(page, 500);
  assert.ok(posts().length >= 1);
  const history = await page.evaluate(() => window.vitrine.export());
  for (const p of posts()) {
    const report = JSON.parse(p.body);
    assert.deepEqual(Object.keys(report).sort(), ['experiment', 'hour', 'id', 'r', 'v'], p.body);
    assert.equal(report.experiment, 'home-banner');
    assert.ok(Number.isInteger(report.r) && report.r >= 0 && report.r < 16, 'GRR over 4 variants × 4 outcomes');
    assert.ok(!/christmas|kitchen|garden|stationery|segment|epsilon/.test(p.body), p.body);
    assert.equal(p.headers.cookie, undefined, 'no cookie');
  }
  const leaked = requests.map((r) => `${r.url} ${r.body ?? ''}`).join('\n');
  for (const e of history.events) if (e.productId) assert.ok(!leaked.includes(e.productId), `product id ${e.productId} leaked`);
  await ctx.close();
});

test('with consent off, or Global Privacy Control on, the collector hears nothing', async () => {
  for (const opts of [{ consent: false }, { gpc: true }]) {
    const { ctx, requests } = await context(opts);
    const page = await blank(ctx);
    await create(page, { consent: opts.consent ?? true });
    assert.equal((await pick(page, 'e1')).counted, false);
    assert.deepEqual(await page.evaluate(() => window.v.flushReports()), []);
    await settle(page, 300);
    assert.deepEqual(requests.map((r) => r.url), [], JSON.stringify(opts));
    await ctx.close();
  }
});

test('a 429 keeps the report, a lost response is resent and counted once, withdrawal deletes the queue', async () => {
  await collector.register('q1', ['A', 'B']);
  const before = await collector.totals();
  const { ctx, posts } = await context();
  let mode = '429';
  await ctx.route(`${collector.url}/v1/reports`, async (route) => {
    if (mode === '429') return route.fulfill({ status: 429, body: '{"error":"rate_limited"}', headers: { 'access-control-allow-origin': '*' } });
    if (mode === 'lose') {
      await route.fetch(); // the collector counts it, but the answer never reaches the page
      mode = 'pass';
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  const page = await blank(ctx);
  await create(page);
  assert.ok((await pick(page, 'q1')).counted);
  // Built once: by this flush, or by the visit's own timer (0–100 ms here) if it ran first, in which case
  // this flush finds the experiment reported and builds nothing (a CI run saw that order).
  await page.evaluate(() => window.v.flushReports());
  await settle(page);
  assert.equal((await page.evaluate(() => window.v.diagnostics())).queued, 1, 'one report queued');
  await page.reload(); // a visit that did not fetch the registry sends
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  await create(page);
  await settle(page);
  let d = await page.evaluate(() => window.v.diagnostics());
  assert.deepEqual([d.queued, d.lastSend], [1, { status: 429, kept: true }], '429 keeps the report');
  mode = 'lose';
  await page.evaluate(() => window.dispatchEvent(new Event('pagehide')));
  await settle(page);
  d = await page.evaluate(() => window.v.diagnostics());
  assert.equal(d.queued, 1, 'a lost answer keeps the report');
  await page.evaluate(() => window.dispatchEvent(new Event('pagehide')));
  await settle(page);
  d = await page.evaluate(() => window.v.diagnostics());
  assert.equal(d.queued, 0);
  const after = await collector.totals();
  assert.deepEqual([after.reports - before.reports, after.duplicates - before.duplicates], [1, 1], 'the resend counted once');
  assert.equal(new Set(posts().map((p) => JSON.parse(p.body).id)).size, 1, 'the same report id each time');
  await ctx.close();
});

test('a report leaves at its timer even when the wall clock lags the timer clock', async () => {
  // Timers run on the monotonic clock and truncate fractional delays; `Date.now()` is the wall clock,
  // which may lag them (rounding, NTP slew). Here every long timer fires 50 ms early by the wall clock.
  // A report whose due check trusted `Date.now()` found itself not due and was never sent in its visit.
  await collector.register('t1', ['A', 'B']);
  const before = (await collector.totals()).reports;
  const { ctx, posts } = await context();
  const page = await blank(ctx);
  await create(page, { reportDelayMs: [600_000, 600_000] }); // fetches the registry; builds nothing here
  assert.ok((await pick(page, 't1')).counted);
  // Disposed before the reload: otherwise the reload's pagehide may build the report in this visit (when
  // the worker finishes before teardown), due 10 minutes later, and the next visit has nothing to build
  // (a CI run timed out so).
  await page.evaluate(() => window.v.dispose());
  await page.addInitScript(() => {
    const setTimeout0 = window.setTimeout;
    window.setTimeout = (fn, ms, ...args) => setTimeout0(fn, ms >= 1000 ? ms - 50 : ms, ...args);
  });
  await page.reload();
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  // On the page (worker: false), where the init script's timers are the ones the transport uses.
  // Waited for from before the start, so a slow return from create() cannot miss the request.
  const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/reports'), { timeout: 20_000 });
  await create(page, { reportDelayMs: [1500, 1500], worker: false }); // builds at ~1.5 s, leaves 1.5 s later
  await sent;
  await settle(page, 500);
  const d = await page.evaluate(() => window.v.diagnostics());
  assert.deepEqual([d.lastSend, d.queued], [{ status: 200, kept: false }, 0], JSON.stringify(d));
  assert.equal(posts().length, 1);
  assert.equal((await collector.totals()).reports - before, 1);
  await ctx.close();
});

test('withdrawing consent deletes the saved counters, so a later consent reports nothing from before', async () => {
  await collector.register('q2', ['A', 'B']);
  const { ctx } = await context();
  const page = await blank(ctx);
  await create(page, { reportDelayMs: [1e9, 1e9] });
  assert.ok((await pick(page, 'q2')).counted);
  assert.equal((await page.evaluate(() => window.v.reportPreview())).state.pending.length, 1);
  await page.evaluate(() => window.v.setConsent(false));
  await page.reload();
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  await create(page, { reportDelayMs: [1e9, 1e9] });
  assert.deepEqual((await page.evaluate(() => window.v.reportPreview())).state.pending, [], 'nothing restored');
  assert.deepEqual(await page.evaluate(() => window.v.flushReports()), []);
  await ctx.close();
});

test('DAP: a bad dap option is refused, and with the aggregators down a DAP experiment waits, never sent with local noise', async () => {
  await collector.register('d1', ['A', 'B']);
  const { ctx, posts, requests } = await context();
  // The collector lists a DAP task for d1 (as `--dap-config` would); its aggregators do not answer.
  const task = { experiment: 'd1', task_id: 'A'.repeat(43), variants: ['A', 'B'], vdaf: { type: 'histogram', length: 14, chunk_length: 4 },
    time_precision: 60, min_batch_size: 1 };
  await ctx.route(`${collector.url}/v1/dap-tasks`, (route) => route.fulfill({
    status: 200, body: JSON.stringify({ tasks: [task] }), headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*' },
  }));
  const page = await blank(ctx);
  const refused = await page.evaluate(async (collector) => {
    const out = [];
    for (const dap of ['x', { leader: 'http://127.0.0.1:9/' }, { leader: 'javascript:alert(1)', helper: 'http://127.0.0.1:9/' },
      { leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:9/' }]) {
      try {
        await window.V.create({ collector, dap, worker: false });
        out.push('accepted');
      } catch (err) {
        out.push(err.code);
      }
    }
    try {
      await window.V.create({ dap: { leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:10/' }, worker: false });
    } catch (err) {
      out.push(err.message.includes('collector') ? 'needs collector' : err.message);
    }
    return out;
  }, collector.url);
  assert.deepEqual(refused, ['invalid_option', 'invalid_option', 'invalid_option', 'invalid_option', 'needs collector']);
  await create(page, { dap: { leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:10/' } });
  assert.ok((await pick(page, 'd1')).counted);
  assert.deepEqual(await page.evaluate(() => window.v.flushReports()), [], 'nothing built without both keys');
  const diag = await page.evaluate(() => window.v.diagnostics());
  assert.match(diag.dap, /HPKE configurations could not be fetched/);
  assert.match(diag.reporting['report:d1'], /DAP report waits/);
  assert.equal((await page.evaluate(() => window.v.reportPreview())).state.pending.length, 1, 'the counters wait');
  await page.evaluate(() => window.dispatchEvent(new Event('pagehide')));
  await settle(page);
  assert.equal(posts().length, 0, 'no local-DP report of a DAP experiment');
  assert.ok(!requests.some((r) => r.method === 'PUT'));
  await ctx.close();
  // The task list cannot be read: which experiments are DAP's is unknown, so nothing at all is built.
  const blind = await context();
  await blind.ctx.route(`${collector.url}/v1/dap-tasks`, (route) => route.fulfill({ status: 503, body: '', headers: { 'access-control-allow-origin': '*' } }));
  const p2 = await blank(blind.ctx);
  await create(p2, { dap: { leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:10/' }, reportDelayMs: [1e9, 1e9] });
  assert.ok((await pick(p2, 'd1')).counted);
  assert.deepEqual(await p2.evaluate(() => window.v.flushReports()), []);
  assert.match((await p2.evaluate(() => window.v.diagnostics())).dap, /task list is not loaded/);
  await blind.ctx.close();
});

test('DAP: only the sealed report leaves; a leader that refuses it drops it and the keys are fetched again', async () => {
  await collector.register('d2', ['A', 'B']);
  const { ctx, posts, requests } = await context();
  // A task with 8 segments as an axis (2 × 8 × 7 = 112 cells, chunk ≈ √112): its reports are 2,886 B.
  const task = { experiment: 'd2', task_id: `${'B'.repeat(42)}A`, variants: ['A', 'B'], vdaf: { type: 'histogram', length: 112, chunk_length: 11 },
    time_precision: 60, min_batch_size: 1, noise_epsilon: 1, segments: 8 };
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'content-type' };
  await ctx.route(`${collector.url}/v1/dap-tasks`, (route) => route.fulfill({ status: 200, body: JSON.stringify({ tasks: [task] }), headers: { ...cors, 'content-type': 'application/json' } }));
  // Each aggregator's HPKE configuration list (DAP-09): one X25519 / HKDF-SHA256 / AES-128-GCM key.
  const keyList = (id) => Buffer.concat([Buffer.from([0, 41, id, 0, 0x20, 0, 1, 0, 1, 0, 32]), Buffer.alloc(32, id)]);
  let keyFetches = 0;
  for (const [port, id] of [[9, 1], [10, 2]]) {
    await ctx.route(`http://127.0.0.1:${port}/**`, (route) => {
      const r = route.request();
      if (r.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
      if (r.url().includes('/hpke_config')) {
        keyFetches += 1;
        return route.fulfill({ status: 200, body: keyList(id), headers: { ...cors, 'content-type': 'application/dap-hpke-config-list' } });
      }
      return route.fulfill({ status: 400, body: '{"type":"urn:ietf:params:ppm:dap:error:outdatedConfig"}', headers: { ...cors, 'content-type': 'application/problem+json' } });
    });
  }
  const dap = { leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:10/' };
  const page = await blank(ctx);
  await create(page, { dap });
  assert.ok((await pick(page, 'd2')).counted);
  // This visit fetched the task list and the keys: nothing is built (a report kept for a later visit
  // could arrive after its window was collected); the counters wait.
  assert.deepEqual(await page.evaluate(() => window.v.flushReports()), []);
  const first = await page.evaluate(() => window.v.diagnostics());
  assert.equal(keyFetches, 2, 'both aggregators\' keys, once');
  assert.match(first.reporting['report:d2'], /DAP report waits/);
  assert.equal((await page.evaluate(() => window.v.reportPreview())).state.pending.length, 1);
  // The next visit builds and sends it (cached keys); the leader refuses.
  await page.reload();
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  await create(page, { dap, reportDelayMs: [1500, 1500] });
  const built = await page.evaluate(() => window.v.flushReports());
  assert.equal(built.length, 1, JSON.stringify(built));
  assert.deepEqual(Object.keys(built[0]).sort(), ['bytes', 'dap', 'experiment'], 'the page learns the size, never the cell');
  assert.ok(built[0].dap === true && built[0].bytes === 2886, JSON.stringify(built));
  let diag;
  for (const until = Date.now() + 20_000; Date.now() < until; await settle(page, 250)) {
    diag = await page.evaluate(() => window.v.diagnostics());
    if (diag.lastSend) break;
  }
  assert.deepEqual([diag.lastSend, diag.queued], [{ status: 400, kept: false }, 0], 'a refused report is dropped');
  const puts = requests.filter((r) => r.method === 'PUT');
  assert.equal(puts.length, 1);
  assert.equal(puts[0].url, `http://127.0.0.1:9/tasks/${task.task_id}/reports`);
  assert.equal(puts[0].headers['content-type'], 'application/dap-report');
  assert.equal(puts[0].bytes, 2886, 'the segmented task\'s report');
  assert.equal(keyFetches, 2, 'cached keys served the second visit');
  assert.equal(posts().length, 0, 'nothing went to the collector');
  // The refusal dropped the cached keys: the third visit fetches them again.
  await page.reload();
  await page.evaluate(async () => { window.V = (await import('/pkg/index.js')).Vitrine; });
  await create(page, { dap });
  await settle(page);
  assert.equal(keyFetches, 4, 'fresh keys after the refusal');
  await ctx.close();
});
