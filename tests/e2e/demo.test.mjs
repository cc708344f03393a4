// End-to-end: the demo page served by the demo server loads the engine in Chromium without errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openDemo, newPage } from './browser.mjs';

const cargoVersion = readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8').match(/^version = "([^"]+)"/m)[1];
let demo;

before(async () => {
  demo = await openDemo();
});
after(async () => {
  await demo?.close();
});

test('the demo page loads the engine with no console errors', async () => {
  const page = await newPage(demo.browser);
  await page.goto(demo.url);
  await page.waitForSelector('body[data-engine]', { timeout: 30_000 });
  assert.equal(await page.getAttribute('body', 'data-engine'), 'ready', await page.textContent('#engine-status'));
  const info = await page.evaluate(() => window.vitrine.info());
  assert.equal(info.version, cargoVersion);
  assert.equal(info.arch, 'wasm32');
  assert.equal(info.simd128, true);
  assert.equal(info.backend.query.backend, 'cpu');
  assert.match(await page.textContent('#engine-info'), /Version\s*0\.\d+\.\d+/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('without WebGPU the page says so and runs on the CPU', async () => {
  const page = await newPage(demo.browser);
  await page.goto(demo.url);
  await page.waitForSelector('body[data-engine="ready"]', { timeout: 30_000 });
  const info = await page.evaluate(() => window.vitrine.info());
  // Headless Chromium offers no WebGPU adapter unless --enable-unsafe-webgpu is given (DESIGN.md).
  assert.equal(info.webgpu.available, false);
  assert.ok(info.webgpu.reason.length > 0);
  assert.match(await page.textContent('#engine-info'), /WebGPU\s*none \(/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('with WebGPU enabled the page names the adapter', async () => {
  const gpu = await openDemo({ extraFlags: ['--enable-unsafe-webgpu'] });
  try {
    const page = await newPage(gpu.browser);
    await page.goto(gpu.url);
    await page.waitForSelector('body[data-engine="ready"]', { timeout: 30_000 });
    const info = await page.evaluate(() => window.vitrine.info());
    assert.equal(info.webgpu.available, true, JSON.stringify(info.webgpu));
    assert.ok(info.webgpu.adapter.length > 0);
    assert.match(await page.textContent('#engine-info'), /WebGPU\s*adapter: /);
    assert.deepEqual(page.errors, []);
  } finally {
    await gpu.close();
  }
});

test('the server refuses paths outside www/ and pkg/', async () => {
  const res = await fetch(new URL('/pkg/..%2f..%2fCargo.toml', demo.url));
  assert.ok(res.status === 400 || res.status === 404, `status ${res.status}`);
  const wasm = await fetch(new URL('/pkg/wasm/vitrine_bg.wasm', demo.url));
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
});
