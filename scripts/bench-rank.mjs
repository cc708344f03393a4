// Ranking latency in headless Chromium (part of `npm run bench`): 1,000 candidates from the demo catalog
// with precomputed vectors and a 50-event history; the engine's `rank` timed on the page (worker: false)
// and through the package's Worker round trip. Prints a table, writes target/bench/rank.{json,md}.
// Usage: node scripts/bench-rank.mjs [--calls 300] [--warmup 100]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { openDemo, newPage } from '../tests/e2e/browser.mjs';

const { values: opt } = parseArgs({ options: { calls: { type: 'string', default: '300' }, warmup: { type: 'string', default: '100' } } });
const [CALLS, WARMUP] = [Number(opt.calls), Number(opt.warmup)];
const TARGET_P50_MS = 2;

// The research-only Beauty session model is not part of the demo: the bench mounts it for itself (any
// model of the same architecture costs the same).
const demo = await openDemo({ mounts: [['/research/', 'research']] });
try {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}bench/`);
  const results = await page.evaluate(async ({ CALLS, WARMUP }) => {
    const { Vitrine } = await import('/pkg/index.js');
    const products = await (await fetch('/data/products.json')).json();
    const candidates = products.slice(0, 1000).map(({ id, title, category, price }) => ({ id, title, category, price }));
    const cases = [
      ['forYou, limit 20', 'forYou', { limit: 20 }],
      ['forYou, limit 20, MMR λ=0.8', 'forYou', { limit: 20, diversity: { lambda: 0.8 } }],
      ['similarTo, limit 20', { placement: 'similarTo', productId: candidates[7].id }, { limit: 20 }],
    ];
    const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
    const out = [];
    // The zero-shot default on the page and via the Worker, then a session model on the page
    // (its score adds the title word overlap; the candidates' word vectors are kept between calls).
    for (const [worker, session] of [[false, false], [true, false], [false, true]]) {
      const sessionModel = session ? '/research/session-beauty.gguf' : undefined;
      const v = await Vitrine.create({ catalog: { vectors: '/data/products.vcat', products: candidates }, sessionModel, persist: false, worker });
      const now = Date.now();
      for (let i = 0; i < 50; i++) {
        const p = products[(i * 37) % 1000];
        await v.track({ type: i % 10 === 9 ? 'add_to_cart' : 'view', productId: p.id, ts: now - (50 - i) * 30_000 });
      }
      for (const [name, placement, rules] of session ? cases.slice(0, 1) : cases) {
        for (let i = 0; i < WARMUP; i++) await v.rank(placement, { rules });
        const times = [];
        for (let i = 0; i < CALLS; i++) {
          const t = performance.now();
          await v.rank(placement, { rules });
          times.push(performance.now() - t);
        }
        out.push({ case: session ? `${name}, session model` : name, where: worker ? 'via Worker' : 'on the page', p50: pct(times, 0.5), p95: pct(times, 0.95) });
      }
      v.dispose();
    }
    return out;
  }, { CALLS, WARMUP });
  // The demo as a shopper uses it: time from opening a product to the re-ranked "for you" strip, and
  // the main thread's long tasks (> 50 ms) while browsing, after the engine has loaded.
  const shop = await newPage(demo.browser);
  await shop.goto(demo.url);
  await shop.waitForSelector('body[data-updated]', { timeout: 60_000 });
  await shop.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((l) => window.longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  });
  const ids = await shop.evaluate(async () => (await (await fetch('data/products.json')).json()).filter((p) => p.category === 'Christmas').slice(0, 20).map((p) => p.id));
  const updates = [];
  for (const id of ids) {
    const before = await shop.getAttribute('body', 'data-updated');
    const t = Date.now();
    await shop.evaluate((h) => { location.hash = h; }, `#/product/${id}`);
    await shop.waitForFunction((b) => document.body.dataset.updated !== b, before, { timeout: 30_000 });
    updates.push(Date.now() - t);
  }
  const longTasks = await shop.evaluate(() => window.longTasks);
  const sorted = updates.slice().sort((a, b) => a - b);
  results.push({ case: 'demo: open a product → for-you re-ranked (20 views)', where: 'page + Worker', p50: sorted[10], p95: sorted[18] });
  const machine = `${cpus().length}-core ${cpus()[0].model.trim()}, load ${loadavg()[0].toFixed(2)}`;
  const md = [
    `Ranking 1,000 candidates, 50-event history, precomputed vectors (${CALLS} calls after ${WARMUP} warm-up; ${machine})`,
    '',
    '| case | where | p50 ms | p95 ms |',
    '|---|---|---:|---:|',
    ...results.map((r) => `| ${r.case} | ${r.where} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} |`),
    '',
    `Main-thread long tasks (> 50 ms) while browsing the demo: ${longTasks.length}` +
      (longTasks.length ? ` (longest ${Math.max(...longTasks).toFixed(0)} ms)` : ''),
    '',
    `Target: p50 ≤ ${TARGET_P50_MS} ms on the page.`,
  ].join('\n');
  mkdirSync('target/bench', { recursive: true });
  writeFileSync('target/bench/rank.json', JSON.stringify({ machine, results, longTasks }, null, 2));
  writeFileSync('target/bench/rank.md', md + '\n');
  console.log(md);
} finally {
  await demo.close();
}
