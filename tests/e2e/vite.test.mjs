// End-to-end: the npm package as a storefront developer gets it — `npm pack`, installed into a fresh
// Vite app, bundled by Vite (worker and wasm included), then run in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
let dir;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vitrine-vite-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const MAIN = `
import { Vitrine } from 'vitrine';
const out = document.getElementById('out');
const candidates = [
  { id: 'a', title: 'Christmas tree bauble, red glass' },
  { id: 'b', title: 'Stainless steel garden trowel' },
  { id: 'c', title: 'Advent calendar with chocolate' },
  { id: 'd', title: 'Ceramic coffee mug' },
];
try {
  const v = await Vitrine.create({ model: '/models/minilm-l6-q8_0.gguf', persist: false });
  await v.track({ type: 'view', productId: 'x', title: 'Christmas wreath with pine cones' });
  const ranked = await v.forYou({ candidates, rules: { limit: 2 } });
  out.textContent = JSON.stringify({ ids: ranked.map((r) => r.id), worker: v.info().worker });
  v.dispose();
} catch (err) {
  out.textContent = 'error: ' + err.message;
}
`;

test('the packed package installs into a Vite app, bundles, and runs in a worker', async () => {
  const tgz = execFileSync('npm', ['pack', join(ROOT, 'pkg'), '--pack-destination', dir, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop();
  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  // The package has no dependencies, so installing the tarball needs no registry.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tgz)], { cwd: app, stdio: 'ignore' });
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>shop</title><pre id="out">loading</pre><script type="module" src="./main.js"></script>');
  writeFileSync(join(app, 'main.js'), MAIN);
  await build({ root: app, base: '/shop/', logLevel: 'error', build: { outDir: join(app, 'dist'), target: 'es2022' } });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm module is emitted as an asset: ${assets}`);

  const server = await startServer({ port: 0, mounts: [['/shop/', join(app, 'dist')]] });
  const browser = await chromium.launch({ executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}shop/`);
    await page.waitForFunction(() => document.getElementById('out').textContent !== 'loading', null, { timeout: 90_000 });
    const text = await page.textContent('#out');
    assert.ok(!text.startsWith('error'), text);
    const result = JSON.parse(text);
    assert.equal(result.worker, true, 'the engine runs in a Web Worker');
    assert.deepEqual(result.ids.sort(), ['a', 'c'], 'the two Christmas items rank first');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
