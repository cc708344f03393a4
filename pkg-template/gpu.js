// The encoder's WebGPU path for the engine host: finds an adapter, lets the engine calibrate it against the
// CPU per workload (one query, a batch of titles), and encodes what a call is about to need on the GPU,
// handing the vectors to the engine. Any GPU error falls back to the CPU for good, with the reason.
import { GpuBackend } from './wasm/vitrine.js';

export class GpuPath {
  #gpu = null;
  #choice;
  #encoded = 0;
  #disposed = false;

  constructor() {
    this.#set('no text encoder loaded (catalog vectors only)');
  }

  /** Sets the path up for `device` ('auto' | 'webgpu' | 'cpu'); never throws: failures mean the CPU. */
  async start(engine, modelBytes, device) {
    this.#set('checking for WebGPU; the CPU serves meanwhile');
    if (device === 'cpu') {
      this.#set("device: 'cpu' was requested");
      return;
    }
    const reason = await this.#noAdapterReason();
    if (reason) {
      this.#set(reason);
      return;
    }
    try {
      const gpu = await GpuBackend.create(engine, modelBytes, device);
      if (this.#disposed) return gpu.free(); // the instance went away while the GPU was starting
      this.#gpu = gpu;
      this.#choice = gpu.choice();
    } catch (err) {
      this.#fail(`no usable WebGPU, CPU fallback: ${err?.message ?? err}`);
    }
  }

  /** Encodes on the GPU what the engine lacks for a call (if the GPU won that workload), then hands it over. */
  async prepare(engine, candidates, queries = [], copy = []) {
    // Rank is a hot path: when the CPU won both workloads, not even the pending texts are listed.
    if (!this.#gpu || (this.#choice.query.backend !== 'webgpu' && this.#choice.batch.backend !== 'webgpu')) return;
    const pending = engine.pendingTexts(candidates ?? null, queries, copy);
    if (pending.length === 0) return;
    const workload = pending.length > 1 ? 'batch' : 'query';
    if (this.#choice[workload].backend !== 'webgpu') return;
    try {
      const vectors = await this.#gpu.embed(pending.map(([, text]) => text));
      engine.putVectors(pending.map(([key]) => key), vectors);
      this.#encoded += pending.length;
    } catch (err) {
      // The engine encodes the same texts on the CPU when the call runs: nothing is lost but time.
      this.#fail(`the GPU failed (${err?.message ?? err}); the CPU encodes from now on`);
    }
  }

  /** `{ query, batch }`: which backend encodes each workload and why, plus GPU-encoded text count. */
  diagnostics() {
    return { ...structuredClone(this.#choice), gpuEncodedTexts: this.#encoded };
  }

  dispose() {
    this.#disposed = true;
    this.#release();
  }

  #release() {
    this.#gpu?.free();
    this.#gpu = null;
  }

  #fail(reason) {
    const adapter = this.#choice.query.adapter ?? this.#choice.batch.adapter;
    this.#release();
    const cpu = { backend: 'cpu', reason, ...(adapter ? { adapter } : {}) };
    this.#choice = { query: cpu, batch: cpu };
  }

  #set(reason) {
    this.#choice = { query: { backend: 'cpu', reason }, batch: { backend: 'cpu', reason } };
  }

  async #noAdapterReason() {
    const gpu = globalThis.navigator?.gpu;
    if (!gpu) return 'this browser has no WebGPU API';
    try {
      const adapter = await gpu.requestAdapter();
      return adapter ? null : 'the browser offered no WebGPU adapter';
    } catch (err) {
      return `requesting a WebGPU adapter failed: ${err?.message ?? err}`;
    }
  }
}
