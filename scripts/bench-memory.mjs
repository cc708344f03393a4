// wasm memory of the engine in headless Chromium (part of `npm run bench`): `WebAssembly.Memory`'s
// byteLength after instantiation, after loading the q8_0 encoder (CPU only), after attaching the GPU
// (SwiftShader, --enable-unsafe-webgpu), and after one GPU batch. wasm memory never shrinks, so every
// copy of the model the engine ever held shows here. Each model gets a fresh page (a fresh instance).
// Prints a table, writes target/bench/memory.{json,md}. Usage: node scripts/bench-memory.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { openDemo, newPage } from '../tests/e2e/browser.mjs';

const MODELS = ['minilm-l6-q8_0', 'minilm-l6-small'];

/** Measures one model on a fresh page of `demo`; see the header for the steps. */
export async function measure(demo, model) {
  const page = await newPage(demo.browser);
  await page.goto(demo.url);
  const result = await page.evaluate(async (model) => {
    const wasm = await import('/pkg/wasm/vitrine.js');
    const { memory } = await wasm.default();
    const mb = () => memory.buffer.byteLength;
    const bytes = new Uint8Array(await (await fetch(`/models/${model}.gguf`)).arrayBuffer());
    const row = { model, fileBytes: bytes.length, instantiated: mb() };
    const engine = new wasm.Engine({}, new Uint8Array(16).fill(1));
    engine.loadEncoder(bytes);
    row.cpuOnly = mb();
    try {
      const gpu = await wasm.GpuBackend.create(engine, bytes, 'webgpu');
      row.gpuAttached = mb();
      await gpu.embed(['red candle', 'WHITE HANGING HEART T-LIGHT HOLDER']);
      row.afterGpuBatch = mb();
      row.adapter = gpu.choice().batch.adapter;
    } catch (err) {
      row.gpuError = String(err?.message ?? err);
    }
    return row;
  }, model);
  await page.close();
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const demo = await openDemo({ extraFlags: ['--enable-unsafe-webgpu'] });
  try {
    const rows = [];
    for (const model of MODELS) rows.push(await measure(demo, model));
    const mib = (b) => (b === undefined ? '–' : (b / 2 ** 20).toFixed(1));
    const lines = [
      `Chromium, --enable-unsafe-webgpu, adapter: ${rows[0].adapter ?? rows[0].gpuError ?? 'none'}`,
      '',
      '| model | file MiB | instantiated MiB | encoder loaded (CPU) MiB | GPU attached MiB | after a GPU batch MiB |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.model} | ${mib(r.fileBytes)} | ${mib(r.instantiated)} | ${mib(r.cpuOnly)} | ${mib(r.gpuAttached)} | ${mib(r.afterGpuBatch)} |`),
    ];
    console.log(lines.join('\n'));
    mkdirSync('target/bench', { recursive: true });
    writeFileSync('target/bench/memory.json', JSON.stringify(rows, null, 2));
    writeFileSync('target/bench/memory.md', `${lines.join('\n')}\n`);
  } finally {
    await demo.close();
  }
}
