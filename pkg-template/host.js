// The engine host: owns the wasm engine, its persistence and its reports. It runs inside the package's
// Web Worker by default (or on the page with `worker: false`); index.js talks to it through `call`, by
// method name, and values cross to the engine as plain objects (the shapes of types.d.ts).
import init, { Engine, engineInfo } from './wasm/vitrine.js';
import { KvStore } from './store.js';
import { fetchBytes, fileName } from './fetch.js';
import { GpuPath } from './gpu.js';
import { VitrineError } from './errors.js';
import { ReportChannel } from './report/transport.js';

/** The methods a message may call once `init` has run (then `dispose`, last); nothing else is reachable. */
export const METHODS = new Set([
  'track',
  'rank',
  'setProducts',
  'pickCopy',
  'recordOutcome',
  'intent',
  'history',
  'reportPreview',
  'flushReports',
  'pagehide',
  'setConsent',
  'clear',
  'diagnostics',
]);

// A 40-byte module whose one function uses `i32x4.relaxed_dot_i8x16_i7x16_add_s`, the instruction the
// faster engine build needs (as wasm-feature-detect probes features): engines without relaxed SIMD
// (Safari today) refuse to validate it and get the simd128 build, which computes the same model.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x13, 0x01, 0x11, 0x00, // code: one body of 17 bytes, no locals
  0x41, 0x01, 0xfd, 0x0f, 0x41, 0x01, 0xfd, 0x0f, 0x41, 0x01, 0xfd, 0x0f, // 3 × i8x16.splat(1)
  0xfd, 0x93, 0x02, 0x0b, // i32x4.relaxed_dot_i8x16_i7x16_add_s, end
]);

/** The engine build this JS engine can run: relaxed SIMD where it validates, simd128 otherwise. */
export function engineWasmUrl() {
  let relaxed = false;
  try {
    relaxed = WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    // An engine that throws on the probe has no relaxed SIMD either.
  }
  // Two literal `new URL(…, import.meta.url)`: the form bundlers (Vite, webpack) find and emit.
  return relaxed
    ? new URL('./wasm/vitrine_relaxed_bg.wasm', import.meta.url).href
    : new URL('./wasm/vitrine_bg.wasm', import.meta.url).href;
}

const HISTORY_KEY = 'history';
const REPORT_KEY = 'report-state';
const SALT_KEY = 'ab-salt';
// Earlier versions kept these here; the per-origin report database holds them now (report/db.js).
const OLD_KEYS = ['priors', 'report-queue'];

export class EngineHost {
  #engine = null;
  #store = null;
  #opts = null;
  #diag = {};
  #sendTimer = null;
  #gpu = new GpuPath();
  #reports = null;
  /** `new` → `starting` → `ready` (init done) → `disposed`: init runs once, nothing runs after dispose. */
  #state = 'new';
  /** Calls still running: dispose waits for them (and their IndexedDB writes) to finish. */
  #running = new Set();

  /**
   * Runs one call from index.js: `init` (once, first), a method of METHODS, or `dispose`. `signal`
   * aborts init's downloads; `progress` receives its progress events. Rejects with a VitrineError.
   */
  async call(method, args = [], { signal, progress = () => {} } = {}) {
    try {
      if (method === 'dispose') return await this.dispose();
      if (this.#state === 'disposed') throw new VitrineError('this Vitrine instance was disposed; create a new one', 'disposed');
      if (method === 'init') {
        if (this.#state !== 'new') throw new VitrineError('init runs once, and it already has', 'unknown_method');
        this.#state = 'starting';
        return await this.#run(() => this.#init(args[0] ?? {}, signal, progress));
      }
      if (typeof method !== 'string' || !METHODS.has(method)) {
        throw new VitrineError(`unknown method ${String(method)}; the engine answers ${[...METHODS].join(', ')}`, 'unknown_method');
      }
      if (this.#state !== 'ready') throw new VitrineError(`${method} before init finished`, 'unknown_method');
      return await this.#run(() => this[method](...args));
    } catch (err) {
      throw VitrineError.from(err);
    }
  }

  #run(fn) {
    let promise;
    try {
      promise = Promise.resolve(fn());
    } catch (err) {
      promise = Promise.reject(err);
    }
    this.#running.add(promise);
    const forget = () => this.#running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Loads the wasm module, the models and the persisted state. */
  async #init(opts, signal, progress) {
    this.#opts = opts;
    const wasmUrl = opts.wasmUrl ?? engineWasmUrl();
    const engineFile = fileName(new URL(wasmUrl, import.meta.url).href);
    progress({ status: 'initiate', name: 'engine', file: engineFile });
    await init({ module_or_path: wasmUrl });
    progress({ status: 'done', name: 'engine', file: engineFile });
    this.#store = await KvStore.open({ persist: opts.persist !== false, name: opts.storeName });
    let salt = await this.#store.get(SALT_KEY);
    if (!(salt instanceof Uint8Array) || salt.length < 16) {
      salt = crypto.getRandomValues(new Uint8Array(16));
      await this.#store.set(SALT_KEY, salt);
    }
    // Reporting's ε is the SDK's, not a setting (docs/privacy.md).
    const config = { history: opts.history ?? {} };
    this.#engine = new Engine(config, salt);
    let modelBytes = null;
    if (opts.model) {
      modelBytes = await fetchBytes(opts.model, { name: 'model', sha256: opts.modelSha256, signal, progress, cache: opts.cache !== false });
      this.#engine.loadEncoder(modelBytes);
    }
    if (opts.catalog?.vectors) {
      const bytes = await fetchBytes(opts.catalog.vectors, { name: 'catalog', sha256: opts.catalog.sha256, signal, progress, cache: opts.cache !== false });
      this.#engine.loadCatalog(bytes);
    }
    if (opts.sessionModel) {
      const bytes = await fetchBytes(opts.sessionModel, { name: 'session model', sha256: opts.sessionModelSha256, signal, progress, cache: opts.cache !== false });
      this.#engine.loadSessionModel(bytes);
    }
    if (opts.segments) {
      const bytes = await fetchBytes(opts.segments, { name: 'segments', sha256: opts.segmentsSha256, signal, progress, cache: opts.cache !== false });
      this.#engine.loadSegments(new TextDecoder().decode(bytes));
    }
    if (opts.products?.length) this.setProducts(opts.products);
    this.#state = 'ready';
    const skipped = await this.#restore(HISTORY_KEY, (s) => this.#engine.restoreHistory(s));
    await this.#restore(REPORT_KEY, (s) => this.#engine.restoreReportState(s));
    this.#diag = { historySkipped: skipped ?? 0 };
    for (const key of OLD_KEYS) await this.#store.delete(key);
    this.#reports = await ReportChannel.open({
      collector: opts.collector,
      persistent: this.#store.mode === 'indexeddb',
      delayMs: opts.reportDelayMs,
      dap: opts.dap,
    });
    await this.setConsent(opts.consent === true, opts.gpc === true, false);
    // Without consent the collector is never contacted at all: even a GET would reveal the visit.
    await this.#reports.load(this.#engine, this.#diag.consent === 'granted');
    if (modelBytes) {
      // 'webgpu' was asked for explicitly: ready means set up. 'auto' calibrates in the background while
      // the CPU serves, so a slow GPU start never delays the page.
      const started = this.#gpu.start(this.#engine, modelBytes, opts.device ?? 'auto');
      if (opts.device === 'webgpu') await started;
    }
    this.#scheduleSend();
    return { ...engineInfo(), ...(await this.diagnostics()) };
  }

  async track(event) {
    this.#engine.track(event);
    await this.#store.set(HISTORY_KEY, this.#engine.exportHistory());
  }

  async rank(placement, candidates, rules) {
    const queries = typeof placement?.query === 'string' ? [placement.query] : [];
    await this.#gpu.prepare(this.#engine, candidates, queries);
    return this.#engine.rank(placement, candidates, rules);
  }

  setProducts(products) {
    return this.#engine.setProducts(products);
  }

  async pickCopy(slot, variants, options) {
    if (Array.isArray(variants)) {
      await this.#gpu.prepare(this.#engine, [], [], variants.map((v) => String(v?.text ?? '')));
    }
    const pick = this.#engine.pickCopy(slot, variants, options);
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
    return pick;
  }

  async recordOutcome(slot, reportVariant, kind, revenue) {
    this.#engine.recordOutcome(slot, reportVariant, kind, revenue ?? 0);
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
  }

  intent() {
    return this.#engine.intent();
  }

  history() {
    return this.#engine.exportHistory();
  }

  /** The pending counters: what the next reports would be built from (on the device). */
  reportPreview() {
    return {
      state: this.#engine.reportState(),
      consent: this.#diag.consent,
      collector: this.#opts.collector ?? null,
    };
  }

  async clear() {
    // The engine draws a fresh in-memory salt; the stored one goes, and the next load draws its own.
    this.#engine.clear();
    await this.#store.delete(SALT_KEY);
    await this.#store.delete(HISTORY_KEY);
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
    // Built reports are the shopper's data too. The ledger stays: a wipe must not buy a fresh budget.
    await this.#reports?.wipe();
  }

  async setConsent(consent, gpc, fetchPriors = true) {
    const allowed = consent && !gpc;
    const was = this.#diag.consent;
    this.#engine.setConsent(allowed);
    this.#diag.consent = allowed ? 'granted' : gpc ? 'refused: Global Privacy Control is on' : 'not given';
    if (!allowed) {
      clearTimeout(this.#sendTimer);
      // Withdrawn: the saved counters and every queued report go, not only the ones in memory.
      await this.#store.set(REPORT_KEY, this.#engine.reportState());
      await this.#reports?.wipe();
    } else if (fetchPriors && was !== 'granted') {
      await this.#reports?.load(this.#engine, true);
    }
    return this.#diag.consent;
  }

  /**
   * Builds the reports the device's shared ledger allows now and queues them; each is sent in its own
   * request after its own random delay (never at once: the page must not be able to time a report).
   * Resolves to the reports built (randomised; empty when nothing is due or allowed).
   */
  async flushReports() {
    if (!this.#reports?.on || this.#diag.consent !== 'granted') return [];
    const built = await this.#reports.build(this.#engine);
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
    return built;
  }

  /** The page is going away: what is queued leaves now, with keepalive (best effort). */
  async pagehide() {
    if (this.#diag.consent !== 'granted' || !this.#reports?.on) return 0;
    await this.flushReports();
    return this.#reports.sendDue({ all: true, keepalive: true });
  }

  async diagnostics() {
    return {
      ...this.#engine.diagnostics(),
      ...this.#diag,
      ...(await this.#reports?.diagnostics()),
      backend: this.#gpu.diagnostics(),
      persistence: { mode: this.#store.mode, reason: this.#store.reason || undefined },
    };
  }

  /** Waits for the calls still running and the IndexedDB writes they started, then frees everything. */
  async dispose() {
    if (this.#state === 'disposed') return;
    this.#state = 'disposed';
    clearTimeout(this.#sendTimer);
    await Promise.allSettled([...this.#running]);
    this.#reports?.close();
    this.#gpu.dispose();
    await this.#store?.close();
    this.#engine?.free();
    this.#engine = null;
  }

  async #restore(key, apply) {
    // An object from this build, or the JSON string earlier builds stored: the engine takes either.
    const saved = await this.#store.get(key);
    if (saved == null) return 0;
    try {
      return apply(saved);
    } catch (err) {
      this.#diag[`${key}Error`] = `${err?.message ?? err}; starting fresh`;
      await this.#store.delete(key);
      return 0;
    }
  }

  /** What the last visit counted is built after a random delay and leaves in this visit, each report at
   *  its own time (a visit that fetched the registry sends nothing). */
  #scheduleSend() {
    if (this.#diag.consent !== 'granted' || !this.#reports?.on) return;
    const [lo, hi] = this.#opts.reportDelayMs ?? [5_000, 60_000];
    const delay = lo + Math.random() * Math.max(0, hi - lo);
    this.#reports.start().catch(() => {});
    this.#sendTimer = setTimeout(() => this.#run(() => this.flushReports()).catch(() => {}), delay);
  }
}
