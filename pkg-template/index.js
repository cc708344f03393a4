// Vitrine's public JavaScript API: a small async surface; the engine runs in a Web Worker by default.
// Every method returns a promise and never blocks the page; errors reject with a message that says why.

const DEVICES = ['auto', 'webgpu', 'cpu'];

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

function abortError(signal) {
  return signal?.reason ?? new DOMException('the operation was aborted', 'AbortError');
}

/** Calls the engine host in a Worker, one promise per call. */
class WorkerLink {
  #worker;
  #next = 1;
  #pending = new Map();

  constructor(progress) {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'vitrine' });
    this.#worker.onmessage = ({ data }) => {
      if (data.progress) return progress(data.progress);
      const p = this.#pending.get(data.id);
      if (!p) return;
      this.#pending.delete(data.id);
      if (data.error) p.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
      else p.resolve(data.result);
    };
    this.#worker.onerror = (e) => this.#failAll(new Error(`the Vitrine worker failed: ${e.message ?? 'unknown error'}`));
  }

  call(method, args, signal) {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      signal?.addEventListener('abort', () => {
        if (this.#pending.delete(id)) reject(abortError(signal));
      }, { once: true });
      this.#worker.postMessage({ id, method, args });
    });
  }

  close() {
    this.#worker.terminate();
    this.#failAll(new Error('this Vitrine instance was disposed'));
  }

  #failAll(err) {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/** Runs the engine host on the page itself (`worker: false`): same interface, no Worker. */
class InlineLink {
  #host;
  constructor(host) {
    this.#host = host;
  }
  async call(method, args, signal) {
    if (signal?.aborted) throw abortError(signal);
    return this.#host[method](...args);
  }
  close() {
    this.#host.dispose();
  }
}

export class Vitrine {
  #link;
  #info;
  #disposed = false;

  constructor(link, info) {
    this.#link = link;
    this.#info = info;
  }

  /**
   * Loads the engine, its models and the shopper's saved history; resolves to a ready instance.
   * @param {import('./index.d.ts').VitrineOptions} [options]
   */
  static async create(options = {}) {
    const { device = 'auto', progress_callback, signal, worker = true } = options;
    if (!DEVICES.includes(device)) {
      throw new TypeError(`device must be 'auto', 'webgpu' or 'cpu', not ${JSON.stringify(device)}`);
    }
    if (options.dtype && !['q8', 'small'].includes(options.dtype)) {
      throw new TypeError(`dtype must be 'q8' or 'small', not ${JSON.stringify(options.dtype)}`);
    }
    if ('dailyEpsilon' in options || 'entryEpsilon' in options) {
      throw new TypeError('dailyEpsilon and entryEpsilon are gone: the privacy budget is the SDK\'s, not the page\'s (docs/privacy.md)');
    }
    if (signal?.aborted) throw abortError(signal);
    const progress = (event) => {
      try {
        progress_callback?.(event);
      } catch (err) {
        console.warn('vitrine: progress_callback threw', err); // a page bug must not stop loading
      }
    };
    const abs = (u) => (u == null ? u : new URL(u, globalThis.location?.href).href);
    const hostOptions = {
      // A folder URL plus dtype names one of the shipped files: `model: '/models/', dtype: 'small'`.
      model: abs(typeof options.model === 'string' && options.model.endsWith('/')
        ? `${options.model}minilm-l6-${options.dtype === 'small' ? 'small' : 'q8_0'}.gguf`
        : options.model),
      modelSha256: options.modelSha256,
      catalog: options.catalog?.vectors ? { vectors: abs(options.catalog.vectors), sha256: options.catalog.sha256 } : null,
      products: options.catalog?.products ?? [],
      sessionModel: abs(options.sessionModel),
      sessionModelSha256: options.sessionModelSha256,
      segments: abs(options.segments),
      segmentsSha256: options.segmentsSha256,
      collector: abs(options.collector),
      consent: options.consent === true,
      gpc: globalThis.navigator?.globalPrivacyControl === true,
      history: options.history,
      reportDelayMs: options.reportDelayMs,
      persist: options.persist,
      cache: options.cache,
      storeName: options.storeName,
      wasmUrl: abs(options.wasmUrl),
      device,
    };
    let link;
    if (worker && typeof Worker !== 'undefined') {
      link = new WorkerLink(progress);
    } else {
      const { EngineHost } = await import('./host.js');
      link = new InlineLink(new EngineHost());
    }
    try {
      const initArgs = link instanceof InlineLink ? [{ ...hostOptions, signal }, progress] : [hostOptions];
      const core = await link.call('init', initArgs, signal);
      // What the page's browser offers; which backend encodes (core.backend) is the engine's own finding.
      const webgpu = device === 'cpu' ? { available: false, reason: "device: 'cpu' was requested" } : await findWebGpu();
      progress({ status: 'ready' });
      const v = new Vitrine(link, { ...core, webgpu, worker: link instanceof WorkerLink });
      // The page going away: queued reports leave with keepalive (fetch, not sendBeacon: no credentials).
      globalThis.addEventListener?.('pagehide', v.#onPagehide);
      return v;
    } catch (err) {
      link.close();
      throw err;
    }
  }

  /**
   * What the engine is and which backend runs: `{ version, simd128, arch, webgpu, backend, worker }`, at
   * `create()` time. With `device: 'auto'` the GPU calibrates after that: `diagnostics().backend` is live.
   */
  info() {
    this.#check();
    return structuredClone(this.#info);
  }

  /** Records a shopper event: `{ type: 'view' | 'click' | 'add_to_cart' | 'purchase' | 'search', productId?, title?, category?, price?, quantity?, query? }`. */
  track(event) {
    return this.#call('track', [event]);
  }

  /** Ranks candidates (default: the catalog's products, kept in the engine) for a placement, with reasons. */
  rank(placement, { candidates, rules, signal } = {}) {
    const p = typeof placement === 'string' ? { placement } : placement;
    return this.#call('rank', [p, candidates ?? null, rules ?? {}], signal);
  }

  /** Replaces the products `rank` uses when given no candidates. */
  setProducts(products) {
    return this.#call('setProducts', [products]);
  }

  /** Personal picks. */
  forYou(opts) {
    return this.rank('forYou', opts);
  }

  /** Items like `productId`. */
  similarTo(productId, opts) {
    return this.rank({ placement: 'similarTo', productId }, opts);
  }

  /** The page's search `results`, re-ordered by `query` and the session. */
  rerankSearch(query, results, opts = {}) {
    return this.rank({ placement: 'rerankSearch', query }, { ...opts, candidates: results });
  }

  /** What the shopper viewed lately, newest first. */
  recentlyViewed(opts) {
    return this.rank('recentlyViewed', opts);
  }

  /** Picks copy for `slot` among `variants` (`[{id, text}]`) and counts an impression of it. */
  pickCopy(slot, variants, options = { mode: 'bandit' }) {
    return this.#call('pickCopy', [slot, variants, options]);
  }

  /** Counts what happened after a pick: `'click' | 'add_to_cart' | 'purchase'` (with `revenue`). */
  recordOutcome(pick, kind, revenue = 0) {
    return this.#call('recordOutcome', [pick.slot, pick.reportVariant, kind, revenue]);
  }

  /** The shopper's own data: `{ version, events }`. */
  export() {
    return this.#call('history', []);
  }

  /** What reports would be built from (it stays on the device until randomised). */
  reportPreview() {
    return this.#call('reportPreview', []);
  }

  /**
   * Builds the reports the device's budget allows now and queues them; each leaves in its own request
   * after its own random delay (they also go by themselves on a later visit). Resolves to those built.
   */
  flushReports() {
    return this.#call('flushReports', []);
  }

  /** Gives or withdraws consent to report; withdrawing deletes the saved counters and queued reports. */
  setConsent(consent) {
    return this.#call('setConsent', [consent === true, globalThis.navigator?.globalPrivacyControl === true]);
  }

  /** The session intent vector (unit length; zeros with no history). */
  intent() {
    return this.#call('intent', []);
  }

  /** Wipes the history, encoded vectors, pending counters and queued reports, the local bandit posterior
   *  and the A/B salt (a new one is drawn), here and in IndexedDB. Today's privacy budget stays spent. */
  clear() {
    return this.#call('clear', []);
  }

  /** What runs and why: backend, persistence, models, history size, consent. */
  async diagnostics() {
    return { ...(await this.#call('diagnostics', [])), webgpu: this.#info.webgpu };
  }

  #onPagehide = () => {
    if (!this.#disposed) this.#link.call('pagehide', []).catch(() => {});
  };

  /** Releases the worker and the engine; any later call rejects. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    globalThis.removeEventListener?.('pagehide', this.#onPagehide);
    this.#link.close();
  }

  #call(method, args, signal) {
    if (this.#disposed) return Promise.reject(new Error('this Vitrine instance was disposed; create a new one'));
    return this.#link.call(method, args, signal);
  }

  #check() {
    if (this.#disposed) throw new Error('this Vitrine instance was disposed; create a new one');
  }
}

export default Vitrine;
