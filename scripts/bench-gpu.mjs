// CPU vs WebGPU encoder in headless Chromium (part of `npm run bench`): a 16-token query and a batch of
// 256 catalog titles, each on the CPU path (Encoder.embed) and on the WebGPU backend (GpuBackend.embed),
// median of a few runs after a warm-up (the GPU batch: one timed run, minutes on a software adapter). Chromium is started with --enable-unsafe-webgpu, which gives
// SwiftShader (a CPU rasteriser) on a machine without a GPU: its GPU column is then no GPU timing.
// Prints a table, writes target/bench/gpu.{json,md}. Usage: node scripts/bench-gpu.mjs [--runs 5]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { openDemo, newPage } from '../tests/e2e/browser.mjs';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(opt.runs);

const demo = await openDemo({ extraFlags: ['--enable-unsafe-webgpu'] });
try {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}bench/`);
  const result = await page.evaluate(async (RUNS) => {
    const wasm = await import('/pkg/wasm/vitrine.js');
    await wasm.default();
    const bytes = new Uint8Array(await (await fetch('/models/minilm-l6-q8_0.gguf')).arrayBuffer());
    const titles = (await (await fetch('/data/products.json')).json()).slice(0, 256).map((p) => p.title);
    const query = 'hand painted ceramic bird mug for a christmas gift';
    const cpu = wasm.Encoder.fromBytes(bytes);
    const engine = new wasm.Engine({}, new Uint8Array(16).fill(1));
    engine.loadEncoder(bytes);
    // 'auto' calibrates (the 'auto picks' column) and releases the GPU where the CPU wins both
    // workloads; 'webgpu' then attaches it again for the GPU timings.
    const auto = await wasm.GpuBackend.create(engine, bytes, 'auto');
    const choice = auto.choice();
    auto.free();
    const gpu = await wasm.GpuBackend.create(engine, bytes, 'webgpu');
    const median = async (f) => {
      await f();
      const times = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        await f();
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    };
    // The calibration in create() has already compiled the GPU pipelines, so the GPU batch is timed
    // once, unwarmed: it takes minutes on a software adapter.
    const timeOnce = async (f) => {
      const t = performance.now();
      await f();
      return performance.now() - t;
    };
    // The CPU batch in chunks of 16, as the engine encodes titles; the GPU takes them as it would.
    const cpuBatch = () => { for (let i = 0; i < titles.length; i += 16) cpu.embed(titles.slice(i, i + 16)); };
    const rows = [
      { workload: '1 query (16 tokens)', cpu: await median(() => cpu.embed([query])), gpu: await median(() => gpu.embed([query])) },
      { workload: '256 titles', cpu: await median(cpuBatch), gpu: await timeOnce(() => gpu.embed(titles)) },
    ];
    return { rows, choice };
  }, RUNS);
  const adapter = result.choice.batch.adapter ?? 'none';
  const lines = [
    `Chromium, --enable-unsafe-webgpu, adapter: ${adapter}; ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg()[0].toFixed(2)}; median of ${RUNS}`,
    '',
    '| workload | CPU ms | WebGPU ms | auto picks |',
    '|---|---|---|---|',
    ...result.rows.map((r, i) => `| ${r.workload} | ${r.cpu.toFixed(1)} | ${r.gpu.toFixed(1)} | ${(i === 0 ? result.choice.query : result.choice.batch).backend} |`),
  ];
  console.log(lines.join('\n'));
  mkdirSync('target/bench', { recursive: true });
  writeFileSync('target/bench/gpu.json', JSON.stringify(result, null, 2));
  writeFileSync('target/bench/gpu.md', `${lines.join('\n')}\n`);
} finally {
  await demo.close();
}
