// The engine host: owns the wasm engine, its persistence and its reports. It runs inside the package's
// Web Worker by default (or on the page with `worker: false`); index.js talks to it through `call`, by
// method name, and values cross to the engine as plain objects (the shapes of types.d.ts).
import init, { Engine, engineInfo } from './wasm/vitrine.js';
import { KvStore } from './store.js';
import { fetchBytes, fileName } from './fetch.js';
import { GpuPath } from './gpu.js';
import { VitrineError } from './errors.js';

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
  'setConsent',
  'clear',
  'diagnostics',
]);

const HISTORY_KEY = 'history';
const REPORT_KEY = 'report-state';
const SALT_KEY = 'ab-salt';
const PRIORS_KEY = 'priors';
const QUEUE_KEY = 'report-queue';
// Reports kept while the collector is unreachable (each is one device-day's entries at most).
const MAX_QUEUED = 16;

export class EngineHost {
  #engine = null;
  #store = null;
  #opts = null;
  #diag = {};
  #sendTimer = null;
  #gpu = new GpuPath();
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
    const wasmUrl = opts.wasmUrl ?? new URL('./wasm/vitrine_bg.wasm', import.meta.url).href;
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
    const config = { history: opts.history ?? {}, dailyEpsilon: opts.dailyEpsilon, entryEpsilon: opts.entryEpsilon };
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
    this.setConsent(opts.consent === true, opts.gpc === true, false);
    await this.#loadPriors();
    if (modelBytes) {
      // 'webgpu' was asked for explicitly: ready means set up. 'auto' calibrates in the background while
      // the CPU serves, so a slow GPU start never delays the page.
      const started = this.#gpu.start(this.#engine, modelBytes, opts.device ?? 'auto');
      if (opts.device === 'webgpu') await started;
    }
    this.#scheduleSend();
    return { ...engineInfo(), ...this.diagnostics() };
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

  async recordOutcome(slot, reportVariant, segment, kind, revenue) {
    this.#engine.recordOutcome(slot, reportVariant, segment, kind, revenue ?? 0);
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
  }

  intent() {
    return this.#engine.intent();
  }

  history() {
    return this.#engine.exportHistory();
  }

  /** The pending counters and today's ε spend: what the next report would be built from (on the device). */
  reportPreview() {
    return {
      state: this.#engine.reportState(),
      consent: this.#diag.consent,
      collector: this.#opts.collector ?? null,
    };
  }

  async clear() {
    this.#engine.clear();
    for (const key of [HISTORY_KEY, PRIORS_KEY, SALT_KEY, QUEUE_KEY]) await this.#store.delete(key);
    // Counters go, but today's ε spend stays: a wipe must not buy a fresh privacy budget.
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
  }

  setConsent(consent, gpc, fetchPriors = true) {
    const allowed = consent && !gpc;
    this.#engine.setConsent(allowed);
    this.#diag.consent = allowed ? 'granted' : gpc ? 'refused: Global Privacy Control is on' : 'not given';
    if (!allowed) {
      clearTimeout(this.#sendTimer);
      this.#store?.delete(QUEUE_KEY); // withdrawn consent: queued reports are not sent either
    }
    else if (fetchPriors) this.#loadPriors().catch(() => {});
    return this.#diag.consent;
  }

  /**
   * Builds one randomised report from the pending counters, queues it, and sends the queue as one batch;
   * resolves to the report built now (or null). A failed send keeps the queue for the next visit: the ε a
   * report spent is not wasted by a network error.
   */
  async flushReports() {
    const collector = this.#opts.collector;
    if (!collector || this.#diag.consent !== 'granted') return null;
    const report = this.#engine.buildReport() ?? null;
    await this.#store.set(REPORT_KEY, this.#engine.reportState());
    const queue = (await this.#store.get(QUEUE_KEY)) ?? [];
    if (report) queue.push(JSON.stringify(report));
    // Bounded: a device offline for weeks drops its oldest reports rather than grow without limit.
    queue.splice(0, Math.max(0, queue.length - MAX_QUEUED));
    await this.#store.set(QUEUE_KEY, queue);
    if (queue.length) await this.#send(collector, queue);
    return report;
  }

  async #send(collector, queue) {
    const body = `{"reports":[${queue.join(',')}]}`;
    try {
      // No cookies, no referrer, survives the page going away; text/plain keeps it a simple CORS request.
      const res = await fetch(new URL('/v1/reports', collector), {
        method: 'POST',
        body,
        keepalive: true,
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        headers: { 'content-type': 'text/plain' },
      });
      this.#diag.lastReport = { status: res.status, reports: queue.length };
      // 4xx means the collector will never take these (schema, budget): drop them; 5xx may pass later.
      if (res.ok || (res.status >= 400 && res.status < 500)) await this.#store.delete(QUEUE_KEY);
    } catch (err) {
      this.#diag.lastReport = { error: `${err?.message ?? err}; kept for the next visit`, reports: queue.length };
    }
  }

  diagnostics() {
    return {
      ...this.#engine.diagnostics(),
      ...this.#diag,
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

  async #loadPriors() {
    const collector = this.#opts.collector;
    let priors = await this.#store.get(PRIORS_KEY);
    // Without consent the collector is never contacted at all: even a GET would reveal the visit.
    if (collector && this.#diag.consent === 'granted' && (!priors || Date.now() - priors.at > 3_600_000)) {
      try {
        const res = await fetch(new URL('/v1/priors', collector), { credentials: 'omit', referrerPolicy: 'no-referrer' });
        if (res.ok) {
          priors = { at: Date.now(), json: await res.text() };
          await this.#store.set(PRIORS_KEY, priors);
        }
      } catch {
        // Offline or no collector: cached or flat priors serve.
      }
    }
    try {
      if (priors?.json) this.#engine.setPriors(priors.json);
      this.#diag.priors = priors?.json ? 'collector' : 'flat';
    } catch (err) {
      this.#diag.priors = `flat (the collector's priors were invalid: ${err?.message ?? err})`;
    }
  }

  /** What the last visit counted goes out on this visit, after a random delay (unlinkable timing). */
  #scheduleSend() {
    const [lo, hi] = this.#opts.reportDelayMs ?? [5_000, 60_000];
    const delay = lo + Math.random() * Math.max(0, hi - lo);
    this.#sendTimer = setTimeout(() => this.#run(() => this.flushReports()).catch(() => {}), delay);
  }
}
