// DAP mode end to end against a real Janus pair (scripts/dap.sh: leader + helper on loopback, Postgres):
// `vitrine simulate --dap-config` sends reports through the core's DAP client, the collector collects the
// closed one-minute windows from the leader, and its statistics must give back exactly what was sent
// (tasks without noise), cover it (the noised task), drop malformed shares and hold back a batch below
// min_batch_size. The demo page, in Chromium, uploads one DAP report of its banner experiment: the request
// carries only the sealed report, and the collection gives back exactly its cell. `npm run test:dap` runs
// this file alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { binary, startCollector } from './collector.mjs';
import { openDemo, newPage } from './browser.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const home = mkdtempSync(join(tmpdir(), 'vitrine-dap-'));
// The collector waits 60 s after a window closes: a report timestamped in a window but uploaded after the
// leader has collected it is refused ("already been collected"), and uploads here take up to ~30 s.
// Ports of this run's pair: away from the default 9700 of a developer's `npm run dap`.
const env = { ...process.env, DAP_HOME: home, DAP_PORT_BASE: '9840' };
const dap = (...args) => execFileSync('bash', [join(ROOT, 'scripts/dap.sh'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
let collector;
const sent = {};
const browserRun = {};
const synced = {};

function simulate(experiment, devices, seed, extra = []) {
  const out = execFileSync(binary('vitrine', 'vitrine-cli'), ['simulate', '--dap-config', join(home, 'dap-config.json'),
    '--experiment', experiment, '--devices', String(devices), '--variants', 'A:0.05:0.02:0.01,B:0.08:0.03:0.012',
    '--seed', String(seed), '--threads', '16', ...extra], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
  return JSON.parse(out.trim().split('\n').at(-1));
}

before(async () => {
  dap('start', join(ROOT, 'tests/e2e/fixtures/dap-tasks.json'));
  collector = await startCollector(join(home, 'collector.db'), ['--dap-config', join(home, 'collector-credentials.json'),
    '--window-secs', '60', '--dap-grace-secs', '60']);
  for (const id of ['dap_exact', 'dap_noised', 'dap_sumvec', 'dap_small']) await collector.register(id, ['A', 'B']);
  await collector.register('home-banner', ['christmas', 'kitchen', 'garden', 'stationery'], 'bandit');
  // `experiments add` after the start, then `scripts/dap.sh sync`: a task for the new experiment only,
  // the aggregators restarted (every later upload and collection here runs on the restarted pair).
  synced.before = JSON.parse(readFileSync(join(home, 'dap-config.json'), 'utf8'));
  await collector.register('dap_synced', ['A', 'B']);
  dap('sync', collector.url);
  synced.after = JSON.parse(readFileSync(join(home, 'dap-config.json'), 'utf8'));
  const until = Date.now() + 15_000;
  do {
    await new Promise((r) => setTimeout(r, 500));
    synced.served = (await (await fetch(`${collector.url}/v1/dap-tasks`)).json()).tasks.map((t) => t.experiment);
  } while (!synced.served.includes('dap_synced') && Date.now() < until);
  synced.upload = simulate('dap_synced', 30, 5);
  Object.assign(browserRun, await demoUploads());
  sent.browser = { experiment: 'home-banner', report_time: browserRun.reportTime };
  sent.exact = simulate('dap_exact', 2000, 1, ['--malformed', '25']);
  sent.noised = simulate('dap_noised', 2000, 2);
  sent.sumvec = simulate('dap_sumvec', 300, 3);
  sent.small = simulate('dap_small', 20, 4);
  // Wait until every window holding the reports is no longer being collected.
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { windows } = (await collector.admin('/v1/admin/dap')).body;
    const done = Object.values(sent).every((s) => windows.some((w) => w.experiment === s.experiment
      && w.start <= s.report_time && s.report_time < w.start + w.duration && w.state !== 'collecting'));
    if (done) break;
    if (Date.now() > deadline) throw new Error(`DAP windows not collected in 5 min: ${JSON.stringify(windows)}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}, { timeout: 1_500_000 });

/**
 * Two visits of the demo storefront configured for DAP: the first counts the banner it shows (it fetched
 * the registry, the task list and the keys, so it builds and sends nothing); the second seals the report
 * and sends it. Resolves to what left the browser.
 */
async function demoUploads() {
  const config = JSON.parse(readFileSync(join(home, 'dap-config.json'), 'utf8'));
  const demo = await openDemo();
  try {
    const ctx = await demo.browser.newContext();
    await ctx.addInitScript(() => localStorage.setItem('demo-consent', 'yes'));
    const requests = [];
    // Every request leaving for another server, as sent (a keepalive upload is reported as aborted to the
    // page even when the leader answered: its status comes from the SDK's diagnostics).
    ctx.on('request', async (r) => {
      if (r.url().startsWith(demo.url)) return;
      const entry = { url: r.url(), method: r.method(), body: r.postDataBuffer() };
      requests.push(entry);
      entry.headers = await r.allHeaders().catch(() => r.headers());
    });
    const page = await newPage(ctx);
    const url = `${demo.url}?${new URLSearchParams({ collector: collector.url, leader: config.leader, helper: config.helper })}`;
    await page.goto(url);
    await page.waitForSelector('body[data-updated]', { timeout: 90_000 });
    const pending = (await page.evaluate(() => window.vitrine.reportPreview())).state.pending;
    const built = await page.evaluate(() => window.vitrine.flushReports());
    const first = await page.evaluate(() => window.vitrine.diagnostics());
    const estimate = Math.floor(Date.now() / 1000 / 60) * 60;
    const firstVisit = requests.length;
    const secondVisitAt = Date.now() / 1000;
    await page.goto(url);
    await page.waitForSelector('body[data-updated]', { timeout: 90_000 });
    // The report leaves after the visit's random send delay and its own (2–10 s each in the demo); 60 s
    // leaves room for a loaded 2-core runner with a Janus pair, Postgres and Chromium beside it.
    const deadline = Date.now() + 60_000;
    let second;
    do {
      await page.waitForTimeout(500);
      second = await page.evaluate(() => window.vitrine.diagnostics());
    } while (!second.lastSend && Date.now() < deadline);
    // The report's own time (bytes 16..24) picks the window to wait for; the clock is a fallback.
    const put = requests.find((r) => r.method === 'PUT' && r.body?.length >= 24);
    const reportTime = put ? Number(put.body.readBigUInt64BE(16)) : estimate;
    await ctx.close();
    return { config, pending, built, first, second, reportTime, secondVisitAt, requests, firstVisit, errors: page.errors };
  } finally {
    await demo.close();
  }
}

after(() => {
  collector?.stop();
  try { dap('stop'); } finally { rmSync(home, { recursive: true, force: true }); }
});

async function stats(experiment) {
  const doc = await (await fetch(`${collector.url}/v1/stats`)).json();
  return doc.experiments.find((e) => e.experiment === experiment);
}

/** The window of `s`'s reports as the collector recorded it. */
async function windowOf(s) {
  const { windows } = (await collector.admin('/v1/admin/dap')).body;
  return windows.find((w) => w.experiment === s.experiment && w.start <= s.report_time && s.report_time < w.start + w.duration);
}

for (const [name, task] of [['histogram', 'exact'], ['sumvec', 'sumvec']]) {
  test(`a ${name} task without noise gives back exactly the sums sent`, async () => {
    const s = sent[task];
    const w = await windowOf(s);
    assert.equal(w.state, 'released', JSON.stringify(w));
    assert.deepEqual(w.cells, s.cells, 'cell sums equal what the clients sent');
    assert.equal(w.reports, s.cells.reduce((a, b) => a + b, 0));
    const st = await stats(s.experiment);
    assert.equal(st.source, 'dap');
    for (const v of s.variants) {
      const r = st.variants.find((x) => x.variant === v.variant);
      assert.equal(r.impressions, v.shown);
      assert.equal(r.estimated, false);
      for (const [metric, count] of [['ctr', v.clicked], ['atc_rate', v.carted], ['cvr', v.purchased]]) {
        assert.ok(Math.abs(r[metric].estimate * v.shown - count) < 1e-6, `${v.variant} ${metric}`);
      }
    }
  });
}

test('a task with segments as an axis (noised): every segment and the folded totals cover what was sent; 4 KB reports at most', async () => {
  // The noised task has 4 segments as an axis.
  const s = sent.noised;
  assert.equal(s.cells.length, 2 * 4 * 7, 'variants × segments × outcomes');
  assert.ok(s.report_bytes <= 4096, `${s.report_bytes} B`);
  const w = await windowOf(s);
  assert.equal(w.state, 'released', JSON.stringify(w));
  assert.equal(w.reports, s.devices, 'the report count is exact');
  const st = await stats(s.experiment);
  // The aggregators' noise is not seeded: each check allows 4.5 standard errors (the printed intervals
  // are 1.96), so the file fails by chance about once in 10^5 runs.
  const near = (r, count, n, what) => assert.ok(Math.abs(r.estimate - count / n) <= 4.5 * r.se, `${what}: ${JSON.stringify(r)} vs ${count}/${n}`);
  for (const v of s.variants) {
    const r = st.variants.find((x) => x.variant === v.variant);
    assert.equal(r.estimated, true);
    near(r.ctr, v.clicked, v.shown, `${v.variant} folded CTR`);
  }
  assert.deepEqual(st.segments.map((x) => [x.segment, x.and_later]), [[0, false], [1, false], [2, false], [3, true]]);
  // Per cell the noise has variance 2 · 7.835 (discrete Laplace of scale 2 from each aggregator): a
  // segment's 7 cells sd ≈ 10.5 shoppers.
  for (const seg of st.segments) {
    for (const [j, variant] of ['A', 'B'].entries()) {
      // Cells ((variant · 4) + segment) · 7 + outcome, literal layout.
      const c = s.cells.slice(((j * 4) + seg.segment) * 7, ((j * 4) + seg.segment + 1) * 7);
      const shown = c.reduce((a, b) => a + b, 0);
      const r = seg.variants.find((x) => x.variant === variant);
      assert.ok(Math.abs(r.impressions - shown) <= 48, `segment ${seg.segment} ${variant}: ${r.impressions} vs ${shown}`);
      near(r.ctr, shown - c[0], shown, `segment ${seg.segment} ${variant} CTR`);
    }
  }
  // Per-segment priors, but none for the last segment of a task with fewer than 8 (it pools later ones).
  const { priors } = await (await fetch(`${collector.url}/v1/priors`)).json();
  const mine = priors.filter((p) => p.experiment === s.experiment).map((p) => p.segment ?? -1).sort();
  assert.deepEqual(mine, [-1, -1, 0, 0, 1, 1, 2, 2]);
});

test('malformed shares are rejected by the aggregators and change nothing', async () => {
  const w = await windowOf(sent.exact);
  assert.equal(sent.exact.malformed, 25);
  assert.equal(w.reports, sent.exact.devices, '2000 valid reports counted, the 25 malformed ones not');
});

test('a noised task: estimates cover what was sent, with wider intervals than sampling alone', async () => {
  const s = sent.noised;
  const w = await windowOf(s);
  assert.equal(w.state, 'released', JSON.stringify(w));
  assert.ok(w.noise_var > 0);
  assert.notDeepEqual(w.cells, s.cells, 'the aggregators added noise');
  const st = await stats(s.experiment);
  for (const v of s.variants) {
    const r = st.variants.find((x) => x.variant === v.variant);
    assert.equal(r.estimated, true);
    const rate = v.clicked / v.shown;
    const binomial = Math.sqrt(rate * (1 - rate) / v.shown);
    assert.ok(r.ctr.se > binomial, `${v.variant}: se ${r.ctr.se} includes the noise`);
    // The aggregators' noise is not seeded: 5 standard errors (noise plus sampling) around the sent rate.
    assert.ok(Math.abs(r.ctr.estimate - rate) < 5 * r.ctr.se, `${v.variant}: ${r.ctr.estimate} vs ${rate}`);
  }
  assert.ok(st.srm_p_value > 0.001, `even split: SRM p = ${st.srm_p_value}`);
});

test('a window below min_batch_size is never released', async () => {
  const w = await windowOf(sent.small);
  assert.equal(w.state, 'too_small', JSON.stringify(w));
  assert.equal(w.cells, null);
  assert.equal(await stats('dap_small'), undefined, 'nothing about the small batch is published');
});

test('the dashboard shows the DAP experiments, marked as such, beside a local-DP one', async () => {
  // A local-DP experiment on the same collector: its reports go to /v1/reports as without DAP.
  await collector.register('ldp_side', ['A', 'B'], 'ab', 100);
  execFileSync(binary('vitrine', 'vitrine-cli'), ['simulate', '--collector', collector.url, '--experiment', 'ldp_side',
    '--devices', '400', '--variants', 'A:0.05,B:0.08', '--admin-token', 'e2e-admin-token'], { cwd: ROOT, stdio: 'ignore' });
  const browser = await chromium.launch({ executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${collector.url}/dashboard`);
    await page.waitForSelector('[data-experiment="dap_exact"] h2');
    const heading = async (id) => page.locator(`[data-experiment="${id}"] h2`).innerText();
    assert.match(await heading('dap_exact'), /DAP/);
    assert.match(await heading('dap_noised'), /DAP/);
    assert.match(await heading('ldp_side'), /local noise/);
    assert.equal(await page.locator('[data-experiment="dap_small"]').count(), 0);
    // A task with a segment axis gets a row per segment; the others none.
    assert.equal(await page.locator('[data-experiment="dap_noised"] tr[data-segment]').count(), 4);
    assert.equal(await page.locator('[data-experiment="dap_exact"] tr[data-segment]').count(), 0);
  } finally {
    await browser.close();
  }
});

test('the demo page uploads one sealed DAP report, and its collection gives back exactly its cell', async () => {
  const { config, pending, built, first, second, requests, firstVisit, errors } = browserRun;
  assert.deepEqual(errors, []);
  assert.match(first.dap, /^on/, JSON.stringify(first));
  assert.equal(pending.length, 1, JSON.stringify(pending));
  const [experiment, { variant, counters }] = pending[0];
  assert.equal(experiment, 'home-banner');
  assert.equal(counters.clicks, 0, 'the banner was shown, not clicked');
  assert.deepEqual(built, [], 'a visit that fetched builds nothing: the report is sealed when it can leave');
  assert.equal(second.dap, 'on');
  // The first visit fetched the registry, the task list and the keys: GETs only, nothing sent.
  assert.ok(requests.slice(0, firstVisit).every((r) => r.method === 'GET'), JSON.stringify(requests.map((r) => [r.method, r.url])));
  const task = config.tasks.find((t) => t.experiment === 'home-banner');
  const puts = requests.filter((r) => r.method === 'PUT');
  assert.equal(puts.length, 1, JSON.stringify({ requests: requests.map((r) => [r.method, r.url]), second }));
  const put = puts[0];
  assert.equal(put.url, `${config.leader}tasks/${task.task_id}/reports`, 'to the leader, nowhere else');
  assert.deepEqual(second.lastSend, { status: 200, kept: false }, 'the leader accepted it');
  assert.equal(put.headers['content-type'], 'application/dap-report');
  assert.equal(put.headers.cookie, undefined);
  assert.equal(put.headers.referer, undefined);
  assert.equal(put.body.length, 1094, 'four variants: 28 cells (BENCHMARKS.md)');
  // DAP-09 Report: 16-byte random id, the time rounded to time_precision, then the public share and the
  // two HPKE ciphertexts. Nothing else, and nothing of the measurement in clear.
  const time = Number(put.body.readBigUInt64BE(16));
  assert.equal(time % 60, 0);
  assert.ok(Math.abs(time - Date.now() / 1000) < 900, `${time}: this run's time`);
  // Sealed in the visit that sent it: its time is that visit's (the collector's 60 s grace covers the send).
  assert.ok(time >= Math.floor(browserRun.secondVisitAt / 60) * 60, `${time} vs ${browserRun.secondVisitAt}`);
  const text = put.body.toString('latin1');
  for (const word of ['home-banner', 'christmas', 'kitchen', 'garden', 'stationery', variant]) assert.ok(!text.includes(word), word);
  assert.ok(!requests.some((r) => r.method === 'POST' && r.url.startsWith(collector.url)), 'no local-DP report of a DAP experiment');
  assert.equal(second.queued, 0, 'the queue is empty once the leader accepted');
  // Collected and released: one report, in the cell of the variant shown (seen: outcome category 0).
  const w = await windowOf(sent.browser);
  assert.equal(w.state, 'released', JSON.stringify(w));
  const cells = new Array(28).fill(0);
  cells[task.variants.indexOf(variant) * 7] = 1;
  assert.deepEqual(w.cells, cells);
});

test('experiments add, then dap.sh sync: the new experiment gets a task, the others keep theirs, the pair takes it', () => {
  const task = synced.after.tasks.find((t) => t.experiment === 'dap_synced');
  assert.ok(task, JSON.stringify(synced.after.tasks.map((t) => t.experiment)));
  assert.deepEqual([task.vdaf.type, task.vdaf.length, task.time_precision, task.min_batch_size, task.noise_epsilon],
    ['histogram', 14, 3600, 100, 1], 'the registry defaults');
  for (const t of synced.before.tasks) {
    assert.deepEqual(synced.after.tasks.find((x) => x.experiment === t.experiment), t, `${t.experiment} unchanged`);
  }
  assert.equal(synced.after.tasks.length, synced.before.tasks.length + 1, 'one new task: every other experiment had one');
  assert.ok(synced.served.includes('dap_synced'), 'the collector re-read its credentials and serves the new task');
  assert.equal(synced.upload.cells.reduce((a, b) => a + b, 0), 30, 'the restarted leader accepted every upload');
});

test('the collector refuses a local-noise report for a DAP experiment (one experiment, one mechanism)', async () => {
  const report = (experiment) => JSON.stringify({ v: 2, experiment, hour: Math.floor(Date.now() / 3_600_000), arm: 'A', id: 'ab'.repeat(16), r: 0 });
  const post = (body) => fetch(`${collector.url}/v1/reports`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
  const refused = await post(report('dap_exact'));
  assert.equal(refused.status, 422);
  assert.match((await refused.json()).message, /measured through DAP/);
  assert.equal((await post(report('ldp_side'))).status, 200, 'a local-DP experiment on the same collector still takes them');
});
