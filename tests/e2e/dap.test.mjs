// DAP mode end to end against a real Janus pair (scripts/dap.sh: leader + helper on loopback, Postgres):
// `vitrine simulate --dap-config` sends reports through the core's DAP client, the collector collects the
// closed one-minute windows from the leader, and its statistics must give back exactly what was sent
// (tasks without noise), cover it (the noised task), drop malformed shares and hold back a batch below
// min_batch_size. `npm run test:dap` runs this file alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { binary, startCollector } from './collector.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const home = mkdtempSync(join(tmpdir(), 'vitrine-dap-'));
// The collector waits 60 s after a window closes: a report timestamped in a window but uploaded after the
// leader has collected it is refused ("already been collected"), and uploads here take up to ~30 s.
// Ports of this run's pair: away from the default 9700 of a developer's `npm run dap`.
const env = { ...process.env, DAP_HOME: home, DAP_PORT_BASE: '9840' };
const dap = (...args) => execFileSync('bash', [join(ROOT, 'scripts/dap.sh'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
let collector;
const sent = {};

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
  } finally {
    await browser.close();
  }
});
