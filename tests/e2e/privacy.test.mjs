// End-to-end privacy audit: a shopping session on the demo page with every network request captured,
// against a real collector. Only reports may leave; none may carry an id, a product id, a query or a
// cookie; with consent off or Global Privacy Control on, the collector hears nothing at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDemo, newPage } from './browser.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
let demo;
let collector;
let dir;

/** Starts the real collector binary on a free port; resolves to `{ url, stop() }`. */
async function startCollector(db) {
  const bin = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'vitrine-collector');
  if (!existsSync(bin)) execFileSync('cargo', ['build', '-q', '-p', 'vitrine-collector'], { cwd: ROOT, stdio: 'inherit' });
  const child = spawn(bin, ['--db', db, '--addr', '127.0.0.1:0', '--k', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      // Only a whole line counts: stderr may arrive in pieces ("…on http://127" then ".0.0.1:…").
      const m = err.match(/ on (http:\/\/[\d.]+:\d+)[ \n]/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited (${code}): ${err}`)));
  });
  return { url, stop: () => child.kill('SIGINT') };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vitrine-privacy-'));
  collector = await startCollector(join(dir, 'reports.db'));
  demo = await openDemo();
});
after(async () => {
  await demo?.close();
  collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the demo in a fresh context recording every request; `consent` ticks the box first. */
async function shop({ consent, gpc = false }) {
  const ctx = await demo.browser.newContext();
  if (gpc) await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const page = await newPage(ctx);
  const requests = [];
  ctx.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData(), headers: r.headers() }));
  await page.goto(`${demo.url}?collector=${encodeURIComponent(collector.url)}`);
  await page.waitForSelector('body[data-updated]', { timeout: 60_000 });
  if (consent) {
    await page.click('summary:has-text("What would be reported")');
    await page.check('#consent');
    await page.waitForTimeout(300);
  }
  const products = await page.evaluate(async () => (await (await fetch('data/products.json')).json()).slice(0, 4));
  const wait = async (fn) => {
    const before = await page.getAttribute('body', 'data-updated');
    await fn();
    await page.waitForFunction((b) => document.body.dataset.updated !== b, before, { timeout: 30_000 });
  };
  for (const p of products.slice(0, 3)) await wait(() => page.evaluate((id) => { location.hash = `#/product/${id}`; }, p.id));
  await wait(() => page.click('#add-to-cart'));
  await wait(async () => {
    await page.fill('#search', 'secret query lantern');
    await page.press('#search', 'Enter');
  });
  await page.evaluate(() => { location.hash = '#/cart'; });
  await page.waitForSelector('#checkout');
  await wait(() => page.click('#checkout'));
  const sent = await page.evaluate(() => window.vitrine.flushReports());
  await page.waitForTimeout(500);
  const history = await page.evaluate(() => window.vitrine.export());
  await ctx.close();
  return { requests, sent, history, products };
}

test('with consent, only randomised reports leave, and they carry no identifiers', async () => {
  const { requests, sent, history } = await shop({ consent: true });
  const page = new URL(demo.url).origin;
  const outside = requests.filter((r) => !r.url.startsWith(page));
  assert.ok(outside.length > 0, 'the collector was contacted');
  for (const r of outside) {
    assert.ok(r.url.startsWith(collector.url), `request to an unexpected host: ${r.url}`);
    assert.ok(
      (r.method === 'GET' && r.url.endsWith('/v1/priors')) || (r.method === 'POST' && r.url.endsWith('/v1/reports')),
      `${r.method} ${r.url}`,
    );
    assert.equal(r.headers.cookie, undefined, 'no cookie is sent');
  }
  const posts = outside.filter((r) => r.method === 'POST');
  assert.equal(posts.length, 1);
  assert.ok(sent, 'a report was built');
  const body = JSON.parse(posts[0].body);
  assert.deepEqual(Object.keys(body), ['reports']);
  for (const report of body.reports) {
    assert.deepEqual(Object.keys(report).sort(), ['entries', 'epsilon', 'hour', 'v']);
    assert.ok(Number.isInteger(report.hour), 'time is an hour bucket');
    for (const e of report.entries) {
      assert.deepEqual(Object.keys(e).sort(), ['bits', 'experiment', 'segment', 'variant']);
      assert.ok(e.bits.every((b) => b === 0 || b === 1));
    }
  }
  // Nothing from the history may appear in any request that left the page's origin.
  const leaked = outside.map((r) => `${r.url} ${r.body ?? ''}`).join('\n');
  for (const e of history.events) {
    if (e.productId) assert.ok(!leaked.includes(e.productId), `product id ${e.productId} leaked`);
    if (e.query) assert.ok(!leaked.includes('secret') && !leaked.includes('lantern'), 'the query leaked');
  }
  assert.ok(!/productId|query|user|device|salt|cookie/i.test(leaked), leaked);
  // The collector acknowledged and counts it.
  const stats = await (await fetch(`${collector.url}/v1/stats`)).json();
  assert.ok(JSON.stringify(stats).includes('home-banner'), JSON.stringify(stats).slice(0, 300));
});

test('with consent off, or Global Privacy Control on, the collector hears nothing', async () => {
  for (const opts of [{ consent: false }, { consent: true, gpc: true }]) {
    const { requests, sent } = await shop(opts);
    const page = new URL(demo.url).origin;
    const outside = requests.filter((r) => !r.url.startsWith(page));
    assert.deepEqual(outside.map((r) => r.url), [], JSON.stringify(opts));
    assert.equal(sent, null);
  }
});

test('a report that cannot be sent is kept and goes out with the next one, as one batch', async () => {
  const ctx = await demo.browser.newContext();
  const page = await ctx.newPage();
  const posts = [];
  ctx.on('request', (r) => r.method() === 'POST' && posts.push(r.postData()));
  await page.goto(`${demo.url}bench/`);
  const result = await page.evaluate(async (good) => {
    const { Vitrine } = await import('/pkg/index.js');
    const opts = { consent: true, worker: false, storeName: 'queue-test', reportDelayMs: [1e9, 1e9] };
    const down = await Vitrine.create({ ...opts, collector: 'http://127.0.0.1:9' }); // nothing listens there
    await down.pickCopy('queue-slot', [{ id: 'a', text: 'x' }]);
    await down.flushReports();
    const offline = (await down.diagnostics()).lastReport;
    down.dispose();
    const up = await Vitrine.create({ ...opts, collector: good });
    await up.pickCopy('queue-slot', [{ id: 'a', text: 'x' }]);
    await up.flushReports();
    const online = (await up.diagnostics()).lastReport;
    up.dispose();
    return { offline, online };
  }, collector.url);
  assert.match(result.offline.error, /kept for the next visit/);
  assert.deepEqual(result.online, { status: 200, reports: 2 });
  const sent = JSON.parse(posts.at(-1));
  assert.equal(sent.reports.length, 2, 'both reports in one batch');
  await ctx.close();
});
