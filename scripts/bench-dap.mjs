// The DAP client in the browser (part of `npm run bench`): how long the package's DAP module takes to load
// and to build one report (Prio3 sharding plus two HPKE seals) in headless Chromium, one thread, and its
// size. No aggregator is needed: the HPKE configuration lists are encoded here with fresh X25519 public keys,
// as Janus serves them. Writes target/bench/dap.{json,md}.
// Usage: node scripts/bench-dap.mjs [--reports 300] [--warmup 50]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { openDemo, newPage } from '../tests/e2e/browser.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: opt } = parseArgs({ options: { reports: { type: 'string', default: '300' }, warmup: { type: 'string', default: '50' } } });
const [REPORTS, WARMUP] = [Number(opt.reports), Number(opt.warmup)];

/** DAP-09 `HpkeConfigList` with one X25519 / HKDF-SHA256 / AES-128-GCM config (RFC 9180 ids). */
function hpkeConfigList(id) {
  const key = randomBytes(32);
  const config = Buffer.concat([Buffer.from([id, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01, 0x00, 32]), key]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(config.length);
  return [...Buffer.concat([len, config])];
}

/** A task of `variants` variants, as `dap provision` writes it (7 outcome categories per variant). */
function task(experiment, variants, vdaf) {
  const length = variants * 7;
  const chunk = Math.max(1, Math.round(Math.sqrt(length)));
  return {
    experiment, task_id: randomBytes(32).toString('base64url'), variants: Array.from({ length: variants }, (_, i) => `v${i}`),
    vdaf: vdaf === 'histogram' ? { type: 'histogram', length, chunk_length: chunk } : { type: 'sumvec', bits: 1, length, chunk_length: chunk },
    time_precision: 3600, min_batch_size: 100,
  };
}

// [VDAF, variants, segments]: segments as an extra axis (issue 16: only while a report stays ≤ 4 KB) are
// sized as variants × segments cell groups.
const CASES = [['histogram', 2, 1], ['histogram', 4, 1], ['histogram', 8, 1], ['sumvec', 2, 1], ['histogram', 2, 8], ['histogram', 3, 8], ['histogram', 4, 8]];

const demo = await openDemo();
try {
  const page = await newPage(demo.browser);
  await page.goto(`${demo.url}bench/`);
  const load = await page.evaluate(async () => {
    const t0 = performance.now();
    const m = await import('/pkg/wasm/vitrine_dap.js');
    await m.default({ module_or_path: '/pkg/wasm/vitrine_dap_bg.wasm' });
    window.dapModule = m;
    return performance.now() - t0;
  });
  const rows = [];
  for (const [vdaf, variants, segments] of CASES) {
    const t = task(`bench_${vdaf}_${variants}_${segments}`, variants * segments, vdaf);
    const config = JSON.stringify({ leader: 'http://127.0.0.1:9/', helper: 'http://127.0.0.1:10/', tasks: [t] });
    const r = await page.evaluate(([config, experiment, leader, helper, cells, reports, warmup]) => {
      const rep = new window.dapModule.DapReporter(config, experiment);
      rep.setHpkeConfigs(new Uint8Array(leader), new Uint8Array(helper));
      const times = [];
      let bytes = 0;
      for (let i = 0; i < warmup + reports; i++) {
        const t0 = performance.now();
        const up = rep.build(i % cells);
        const dt = performance.now() - t0;
        bytes = up.body.length;
        up.free();
        if (i >= warmup) times.push(dt);
      }
      rep.free();
      times.sort((a, b) => a - b);
      return { p50: times[times.length >> 1], p95: times[Math.floor(times.length * 0.95)], bytes };
    }, [config, t.experiment, hpkeConfigList(1), hpkeConfigList(2), variants * segments * 7, REPORTS, WARMUP]);
    rows.push({ vdaf, variants, segments, cells: variants * segments * 7, ...r });
  }
  if (page.errors.length) throw new Error(`page errors: ${page.errors.join(' | ')}`);
  const wasm = readFileSync(join(ROOT, 'pkg/wasm/vitrine_dap_bg.wasm'));
  const glue = readFileSync(join(ROOT, 'pkg/wasm/vitrine_dap.js'));
  const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const size = { wasm: wasm.length, wasmBrotli: br(wasm), glueBrotli: br(glue) };
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, load: loadavg()[0], chromium: demo.browser.version() };
  const table = ['| VDAF | variants | segments | cells | build p50 (ms) | p95 (ms) | report (B) |', '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.vdaf} | ${r.variants} | ${r.segments} | ${r.cells} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.bytes} |`)].join('\n');
  const text = `DAP module: ${size.wasm} B wasm, ${size.wasmBrotli} B brotli (+ ${size.glueBrotli} B glue); `
    + `load and instantiate ${load.toFixed(1)} ms; ${REPORTS} reports per row after ${WARMUP} warm-up\n\n${table}\n`;
  console.log(`[bench] Chromium ${machine.chromium}, ${machine.cores} × ${machine.cpu}, load ${machine.load.toFixed(2)}\n\n${text}`);
  const out = join(ROOT, 'target/bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'dap.json'), `${JSON.stringify({ machine, load, size, rows }, null, 1)}\n`);
  writeFileSync(join(out, 'dap.md'), text);
} finally {
  await demo.close();
}
