// The marketer's dashboard in Chromium, against a real collector fed by `vitrine simulate` with a known
// winner: the verdict names it, lifts and chances are shown, rates stay within [0, 1] with the raw
// estimate on hover.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startCollector, binary, TOKEN } from './collector.mjs';
import { shotPath } from './browser.mjs';

let collector;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vitrine-dashboard-'));
  collector = await startCollector(join(dir, 'd.db'));
  await collector.register('hero', ['A', 'B'], 'ab', 100);
  await collector.register('quiet', ['A', 'B'], 'ab', 100);
  const sim = binary('vitrine', 'vitrine-cli');
  const run = (args) => execFileSync(sim, ['simulate', '--collector', collector.url, ...args, '--admin-token', TOKEN], { encoding: 'utf8' });
  // B's CTR doubles: at 10,000 shoppers per arm the difference is ≈ 4.6 standard errors.
  run(['--experiment', 'hero', '--devices', '20000', '--variants', 'A:0.05:0.02:0.01,B:0.10:0.04:0.02', '--seed', '7']);
  // No difference at all: the verdict must say so, with a shopper count, not pick a winner.
  run(['--experiment', 'quiet', '--devices', '2000', '--variants', 'A:0.05,B:0.05', '--seed', '8', '--threads', '1']);
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});
after(async () => {
  await browser?.close();
  collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the dashboard names the winner with its lift, chance to beat control, and rates within [0, 1]', async () => {
  const page = await browser.newPage();
  await page.goto(`${collector.url}/dashboard`);
  await page.waitForSelector('[data-experiment="hero"] .verdict');
  const hero = page.locator('[data-experiment="hero"]');
  assert.match(await hero.locator('.verdict').textContent(), /^B wins \(CTR \+\d/);
  const lift = Number(await hero.locator('tr[data-variant="B"] td[data-lift]').getAttribute('data-lift'));
  assert.ok(lift > 0.4 && lift < 1.6, `true lift is +100 %, got ${lift}`);
  const chance = Number(await hero.locator('tr[data-variant="B"] td[data-chance]').getAttribute('data-chance'));
  assert.ok(chance > 0.99, `chance to beat control ${chance}`);
  // Every displayed rate lies within [0, 1]; the title carries the unbiased raw estimate.
  const cells = await page.locator('td[data-raw]').evaluateAll((tds) => tds.map((td) => ({ text: td.textContent, title: td.title, raw: Number(td.dataset.raw) })));
  assert.ok(cells.length >= 12);
  for (const c of cells) {
    for (const shown of c.text.matchAll(/(-?[\d.]+) %/g)) {
      const x = Number(shown[1]) / 100;
      assert.ok(x >= 0 && x <= 1, `shown ${c.text}`);
    }
    assert.match(c.title, /unbiased estimate/);
    if (c.raw < 0) assert.match(c.title, /can come out below 0/);
  }
  const quiet = await page.locator('[data-experiment="quiet"] .verdict').textContent();
  assert.match(quiet, /^no difference detectable yet: ≈ [\d,]+ more shoppers per arm/);
  await page.screenshot({ path: shotPath('dashboard.png'), fullPage: true });
  await page.close();
});
