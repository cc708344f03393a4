// End-to-end: the encoder's WebGPU backend in Chromium. With SwiftShader's adapter
// (--enable-unsafe-webgpu, DESIGN.md) the GPU vectors match the CPU's at cos >= 0.9999 and ranking over
// GPU-encoded titles equals ranking over CPU-encoded ones; without an adapter the package falls back to
// the CPU, keeps working and says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, newPage } from './browser.mjs';
import { measure } from '../../scripts/bench-memory.mjs';

let plain;
let gpu;

before(async () => {
  [plain, gpu] = await Promise.all([openDemo(), openDemo({ extraFlags: ['--enable-unsafe-webgpu'] })]);
});
after(async () => {
  await Promise.all([plain?.close(), gpu?.close()]);
});

/** Creates an instance for `device` on `page`, titles 40 demo products, views three and ranks forYou. */
async function rankOn(page, device) {
  return page.evaluate(async (device) => {
    const { Vitrine } = await import('/pkg/index.js');
    const products = (await (await fetch('data/products.json')).json())
      .slice(0, 40)
      .map(({ id, title, category }) => ({ id, title, category }));
    const v = await Vitrine.create({ model: '/models/minilm-l6-q8_0.gguf', device, persist: false, storeName: `gpu-${device}` });
    await v.setProducts(products);
    for (const p of products.slice(5, 8)) await v.track({ type: 'view', productId: p.id, title: p.title });
    const ranked = await v.forYou({ rules: { limit: 10 } });
    const diag = await v.diagnostics();
    v.dispose();
    return { ids: ranked.map((r) => r.id), scores: Object.fromEntries(ranked.map((r) => [r.id, r.score])), backend: diag.backend };
  }, device);
}

test('WebGPU vectors match the CPU at cos >= 0.9999 (SwiftShader)', async () => {
  const page = await newPage(gpu.browser);
  await page.goto(gpu.url);
  const result = await page.evaluate(async () => {
    const wasm = await import('/pkg/wasm/vitrine.js');
    await wasm.default();
    const bytes = new Uint8Array(await (await fetch('/models/minilm-l6-q8_0.gguf')).arrayBuffer());
    const texts = [
      'red candle', 'WHITE HANGING HEART T-LIGHT HOLDER', 'set of 3 cake tins pantry design',
      'Ünïcödé gift wrap — 50% off!', 'a much longer product description that goes on about a ceramic mug with a hand painted bird, dishwasher safe, 350 ml',
      'x',
    ];
    const cpu = wasm.Encoder.fromBytes(bytes);
    const engine = new wasm.Engine({}, new Uint8Array(16).fill(1));
    engine.loadEncoder(bytes);
    const backend = await wasm.GpuBackend.create(engine, bytes, 'webgpu');
    const single = await backend.embed([texts[0]]);
    const batch = await backend.embed(texts);
    const ref = cpu.embed(texts);
    const d = cpu.dims;
    const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    const cosines = texts.map((_, i) => cos(batch.subarray(i * d, (i + 1) * d), ref.subarray(i * d, (i + 1) * d)));
    cosines.push(cos(single, ref.subarray(0, d)));
    return { cosines, choice: backend.choice() };
  });
  const worst = Math.min(...result.cosines);
  assert.ok(worst >= 0.9999, `cosines ${result.cosines}`);
  assert.equal(result.choice.batch.backend, 'webgpu', JSON.stringify(result.choice));
  // wgpu names the browser's adapter by backend and type only: SwiftShader is a CPU-type adapter.
  assert.match(result.choice.batch.adapter ?? '', /BrowserWebGpu/);
  console.log(`GPU vs CPU cosines: min ${worst.toFixed(7)} over ${result.cosines.length}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('attaching the GPU does not copy the model into wasm memory again', async () => {
  // The GPU's weights come from the encoder's own copy, one matrix at a time; handing the 23.6 MiB file
  // over and parsing it again grew wasm memory (which never shrinks) by 11.9 MiB.
  const row = await measure(gpu, 'minilm-l6-q8_0');
  assert.equal(row.gpuError, undefined, row.gpuError);
  const grown = (row.gpuAttached - row.cpuOnly) / 2 ** 20;
  console.log(`wasm memory: ${(row.cpuOnly / 2 ** 20).toFixed(1)} MiB on the CPU, +${grown.toFixed(1)} MiB with the GPU`);
  assert.ok(grown <= 2, `attaching the GPU grew wasm memory by ${grown.toFixed(1)} MiB`);
});

test("device: 'webgpu' encodes the catalog on the GPU and ranks as the CPU does", async () => {
  const page = await newPage(gpu.browser);
  await page.goto(gpu.url);
  const onGpu = await rankOn(page, 'webgpu');
  const onCpu = await rankOn(page, 'cpu');
  assert.equal(onGpu.backend.batch.backend, 'webgpu', JSON.stringify(onGpu.backend));
  assert.ok(onGpu.backend.gpuEncodedTexts >= 40, JSON.stringify(onGpu.backend));
  assert.equal(onCpu.backend.batch.backend, 'cpu');
  assert.match(onCpu.backend.batch.reason, /'cpu' was requested/);
  // Vectors agree to cos >= 0.9999, so scores agree to about 1e-3: the same top 10 but for a near-tie
  // at the edge, and every shared item's score within 0.01.
  const shared = onGpu.ids.filter((id) => onCpu.ids.includes(id));
  assert.ok(shared.length >= 9, `GPU ${onGpu.ids} vs CPU ${onCpu.ids}`);
  for (const id of shared) assert.ok(Math.abs(onGpu.scores[id] - onCpu.scores[id]) <= 0.01, id);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('without a WebGPU adapter the package falls back to the CPU, works and says why', async () => {
  const page = await newPage(plain.browser);
  await page.goto(plain.url);
  const result = await rankOn(page, 'webgpu');
  for (const workload of ['query', 'batch']) {
    assert.equal(result.backend[workload].backend, 'cpu');
    assert.match(result.backend[workload].reason, /no WebGPU adapter|no WebGPU API/);
  }
  assert.equal(result.ids.length, 10);
  assert.deepEqual(page.errors, []);
  await page.close();
});
