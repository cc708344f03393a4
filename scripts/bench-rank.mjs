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

const demo = await openDemo();
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
    for (const worker of [false, true]) {
      const v = await Vitrine.create({ catalog: { vectors: '/data/products.vcat', products: candidates }, persist: false, worker });
      const now = Date.now();
      for (let i = 0; i < 50; i++) {
        const p = products[(i * 37) % 1000];
        await v.track({ type: i % 10 === 9 ? 'add_to_cart' : 'view', productId: p.id, ts: now - (50 - i) * 30_000 });
      }
      for (const [name, placement, rules] of cases) {
        for (let i = 0; i < WARMUP; i++) await v.rank(placement, { rules });
        const times = [];
        for (let i = 0; i < CALLS; i++) {
          const t = performance.now();
          await v.rank(placement, { rules });
          times.push(performance.now() - t);
        }
        out.push({ case: name, where: worker ? 'via Worker' : 'on the page', p50: pct(times, 0.5), p95: pct(times, 0.95) });
      }
      v.dispose();
    }
    return out;
  }, { CALLS, WARMUP });
  const machine = `${cpus().length}-core ${cpus()[0].model.trim()}, load ${loadavg()[0].toFixed(2)}`;
  const md = [
    `Ranking 1,000 candidates, 50-event history, precomputed vectors (${CALLS} calls after ${WARMUP} warm-up; ${machine})`,
    '',
    '| case | where | p50 ms | p95 ms |',
    '|---|---|---:|---:|',
    ...results.map((r) => `| ${r.case} | ${r.where} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} |`),
    '',
    `Target: p50 ≤ ${TARGET_P50_MS} ms on the page.`,
  ].join('\n');
  mkdirSync('target/bench', { recursive: true });
  writeFileSync('target/bench/rank.json', JSON.stringify({ machine, results }, null, 2));
  writeFileSync('target/bench/rank.md', md + '\n');
  console.log(md);
} finally {
  await demo.close();
}
