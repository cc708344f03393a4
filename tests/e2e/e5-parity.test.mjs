// End-to-end: multilingual-e5-small-zh-en in Chromium (both wasm builds, CPU kernels) against native
// vectors from `vitrine embed --role` (tests/fixtures/e5-browser-parity.json, written by
// scripts/e5/browser-parity.py).
// Summation order differs between targets, so the bar is cos >= 0.9999 per text, never equality. The
// same fixture checks the WGSL kernels on Chromium's SwiftShader WebGPU adapter (--enable-unsafe-webgpu).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { openDemo, newPage } from './browser.mjs';

const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/e5-browser-parity.json', import.meta.url), 'utf8'));
let demo;
let gpu;

before(async () => {
  [demo, gpu] = await Promise.all([openDemo(), openDemo({ extraFlags: ['--enable-unsafe-webgpu'] })]);
});
after(async () => {
  await Promise.all([demo?.close(), gpu?.close()]);
});

const PREFIX = { query: 'query: ', passage: 'passage: ' }; // the model's metadata, as `--role` adds it
const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);

// Each engine build against the native run of the same arithmetic: the simd128 build quantizes
// activations to i16 per row as native does by default; the relaxed-SIMD build takes i8 per block of 32
// in its q4_0 layers, which `vitrine embed --i8-blocks` reproduces (`vector_i8`).
for (const [wasmFile, key] of [['vitrine_bg.wasm', 'vector'], ['vitrine_relaxed_bg.wasm', 'vector_i8']]) {
  test(`Chinese and English texts: Chromium (${wasmFile}) matches native at cos >= 0.9999`, async () => {
    const file = readFileSync(new URL(`../../${FIXTURE.model}`, import.meta.url));
    assert.equal(createHash('sha256').update(file).digest('hex'), FIXTURE.file_sha256,
      'the model changed since the fixture: rerun scripts/e5/browser-parity.py');
    const page = await newPage(demo.browser);
    await page.goto(`${demo.url}preview.html`);
    const rows = FIXTURE.rows.map(({ role, text }) => ({ role, text }));
    const got = await page.evaluate(async ({ rows, model, prefix, wasmFile }) => {
      const wasm = await import('/pkg/wasm/vitrine.js');
      await wasm.default({ module_or_path: `/pkg/wasm/${wasmFile}` });
      const bytes = new Uint8Array(await (await fetch(`/${model}`)).arrayBuffer());
      const enc = wasm.Encoder.fromBytes(bytes);
      const one = rows.map((r) => Array.from(enc.embed([prefix[r.role] + r.text])));
      const batch = Array.from(enc.embed(rows.map((r) => prefix[r.role] + r.text)));
      return { dims: enc.dims, one, batch };
    }, { rows, model: FIXTURE.model, prefix: PREFIX, wasmFile });
    assert.equal(got.dims, 384);
    const worst = { alone: 1, batch: 1, other: 1 };
    FIXTURE.rows.forEach((row, i) => {
      const alone = cos(got.one[i], row[key]);
      const inBatch = cos(got.batch.slice(i * 384, (i + 1) * 384), row[key]);
      worst.alone = Math.min(worst.alone, alone);
      worst.batch = Math.min(worst.batch, inBatch);
      // The other build's arithmetic, for the record: i8 against i16 activations.
      worst.other = Math.min(worst.other, cos(got.one[i], row[key === 'vector' ? 'vector_i8' : 'vector']));
      assert.ok(alone >= 0.9999, `alone: cos ${alone} for ${row.role} ${row.text}`);
      assert.ok(inBatch >= 0.9999, `in a batch: cos ${inBatch} for ${row.role} ${row.text}`);
    });
    console.log(`e5 ${wasmFile} vs native over ${FIXTURE.rows.length} texts: 1 − min cos alone ${(1 - worst.alone).toExponential(1)}, in one batch ${(1 - worst.batch).toExponential(1)}; against the other activations ${(1 - worst.other).toExponential(1)}`);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}

// The relaxed-SIMD build, as Chromium's pages get it: its q4_0 weights sit in the CPU kernel's quads
// layout, so the GPU's upload is rebuilt from them and must come out as the file's blocks.
test('the WGSL kernels on SwiftShader match native at cos >= 0.9999', async () => {
  const page = await newPage(gpu.browser);
  await page.goto(`${gpu.url}preview.html`);
  const texts = FIXTURE.rows.map((r) => PREFIX[r.role] + r.text);
  const got = await page.evaluate(async ({ texts, model }) => {
    const wasm = await import('/pkg/wasm/vitrine.js');
    await wasm.default({ module_or_path: '/pkg/wasm/vitrine_relaxed_bg.wasm' });
    const bytes = new Uint8Array(await (await fetch(`/${model}`)).arrayBuffer());
    const engine = new wasm.Engine({}, new Uint8Array(16).fill(1));
    engine.loadEncoder(bytes);
    const backend = await wasm.GpuBackend.create(engine, bytes, 'webgpu');
    const batch = Array.from(await backend.embed(texts));
    const single = Array.from(await backend.embed([texts[0]]));
    return { batch, single, choice: backend.choice() };
  }, { texts, model: FIXTURE.model });
  assert.equal(got.choice.batch.backend, 'webgpu', JSON.stringify(got.choice));
  assert.match(got.choice.batch.adapter ?? '', /BrowserWebGpu/);
  const cosines = FIXTURE.rows.map((row, i) => cos(got.batch.slice(i * 384, (i + 1) * 384), row.vector));
  cosines.push(cos(got.single, FIXTURE.rows[0].vector));
  const worst = Math.min(...cosines);
  assert.ok(worst >= 0.9999, `cosines ${cosines}`);
  console.log(`e5 WebGPU (SwiftShader) vs native over ${cosines.length}: 1 − min cos ${(1 - worst).toExponential(1)}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});
