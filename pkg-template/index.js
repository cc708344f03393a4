// Vitrine's public JavaScript API: a small async surface over the wasm core.
import init, { engineInfo } from './wasm/vitrine.js';

let wasmReady = null;

/** Loads and instantiates the wasm module once per page, however many instances are created. */
function loadWasm(wasmUrl, progress) {
  wasmReady ??= (async () => {
    progress({ status: 'initiate', name: 'engine' });
    await init({ module_or_path: wasmUrl ?? new URL('./wasm/vitrine_bg.wasm', import.meta.url) });
    progress({ status: 'done', name: 'engine' });
  })().catch((err) => {
    wasmReady = null; // let a later call retry, e.g. after a network error
    throw err;
  });
  return wasmReady;
}

/** Looks for a WebGPU adapter without ever throwing: no API, a blocked adapter or an error all mean "none". */
async function findWebGpu() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU API' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'the browser offered no WebGPU adapter' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    return { available: true, adapter: name || 'unnamed adapter', fallbackAdapter: Boolean(info.isFallbackAdapter) };
  } catch (err) {
    return { available: false, reason: `requesting an adapter failed: ${err?.message ?? err}` };
  }
}

export class Vitrine {
  #info;
  #disposed = false;

  constructor(info) {
    this.#info = info;
  }

  /**
   * Loads the engine and returns a ready instance.
   * @param {import('./index.d.ts').VitrineOptions} [options]
   */
  static async create(options = {}) {
    const { device = 'auto', wasmUrl, progress_callback } = options;
    if (!['auto', 'webgpu', 'cpu'].includes(device)) {
      throw new TypeError(`device must be 'auto', 'webgpu' or 'cpu', not ${JSON.stringify(device)}`);
    }
    const progress = (event) => {
      try {
        progress_callback?.(event);
      } catch (err) {
        console.warn('vitrine: progress_callback threw', err); // a page bug must not stop loading
      }
    };
    await loadWasm(wasmUrl, progress);
    const webgpu = device === 'cpu' ? { available: false, reason: "device: 'cpu' was requested" } : await findWebGpu();
    // The encoder's GPU kernels are not in this build yet, so every backend choice runs on the CPU path.
    const backend = { name: 'cpu', reason: webgpu.available ? 'GPU kernels are not built yet' : webgpu.reason };
    progress({ status: 'ready' });
    return new Vitrine({ ...engineInfo(), webgpu, backend });
  }

  /** What the engine is and which backend runs: `{ version, simd128, arch, webgpu, backend }`. */
  info() {
    this.#check();
    return structuredClone(this.#info);
  }

  /** Releases this instance; any later call throws. */
  dispose() {
    this.#disposed = true;
  }

  #check() {
    if (this.#disposed) throw new Error('this Vitrine instance was disposed; create a new one');
  }
}

export default Vitrine;
