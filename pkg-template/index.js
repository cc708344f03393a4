// Vitrine's public JavaScript API: a small async surface; the engine runs in a Web Worker by default.
// Every method returns a promise and never blocks the page; errors reject with a VitrineError whose
// `code` is stable and whose message says why.
import { VitrineError } from './errors.js';

export { VitrineError };

const DEVICES = ['auto', 'webgpu', 'cpu'];
/** How long `dispose()` waits for the engine to finish its calls and writes before stopping it anyway. */
const DISPOSE_WAIT_MS = 10_000;

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

/**
 * The shipped encoders by name, and their files per `dtype` (the first is the default). Score weights
 * travel inside each file (its `vitrine.scores` metadata), so a name only has to pick the file.
 */
const SHIPPED_MODELS = {
  'all-MiniLM-L6-v2': { q8: 'minilm-l6-q8_0.gguf', small: 'minilm-l6-small.gguf' },
  'multilingual-e5-small-zh-en': { q4: 'multilingual-e5-small-zh-en.gguf' },
};
const DEFAULT_MODEL = 'all-MiniLM-L6-v2';

/**
 * The model file's URL for `model` (a URL, a folder URL ending in `/` holding the shipped files, or a
 * shipped model's name, looked up under `base`, default `/models/`) and `dtype`; `undefined` without a
 * model. A name is a string with no `/`, `:` or `.`: anything else is a URL, as before.
 */
function resolveModel(model, dtype, base = '/models/') {
  if (model == null) {
    if (dtype) throw new VitrineError('dtype needs a model: pass model (a name such as \'all-MiniLM-L6-v2\' or a URL)', 'invalid_option');
    return undefined;
  }
  let name = null;
  let folder = String(base);
  if (typeof model === 'string' && model.endsWith('/')) {
    name = DEFAULT_MODEL; // a folder of the shipped files: the default model in it, as before
    folder = model;
  } else if (typeof model === 'string' && !/[/:.]/.test(model)) {
    name = model;
  }
  if (name === null) {
    if (dtype && !['q8', 'small', 'q4'].includes(dtype)) throw new VitrineError(`dtype must be 'q8', 'small' or 'q4', not ${JSON.stringify(dtype)}`, 'invalid_option');
    return model; // a file's URL: the file is its quantization, dtype only picks among shipped files
  }
  const files = SHIPPED_MODELS[name];
  if (!files) {
    throw new VitrineError(`unknown model ${JSON.stringify(name)}: the shipped models are ${Object.keys(SHIPPED_MODELS).map((n) => `'${n}'`).join(', ')}; or pass the URL of a GGUF from \`vitrine convert\``, 'unknown_model');
  }
  const file = Object.hasOwn(files, dtype ?? '') ? files[dtype] : dtype == null ? Object.values(files)[0] : null;
  if (!file) {
    throw new VitrineError(`dtype ${JSON.stringify(dtype)} is not shipped for ${name}: use ${Object.keys(files).map((d) => `'${d}'`).join(' or ')}`, 'invalid_option');
  }
  return `${folder.endsWith('/') ? folder : `${folder}/`}${file}`;
}

/** The names `model` accepts besides a URL. */
export const shippedModels = Object.freeze(Object.keys(SHIPPED_MODELS));

/**
 * `dap: { leader, helper }` as absolute http(s) URLs, or undefined. The task ids and keys come from the
 * collector (`GET /v1/dap-tasks`) and the aggregators, never from the page.
 */
function dapOption(dap, collector, abs) {
  if (dap == null) return undefined;
  const bad = (why) => new VitrineError(`dap: ${why}; pass { leader, helper }, the two aggregators' base URLs (docs/dap.md)`, 'invalid_option');
  if (typeof dap !== 'object') throw bad('not an object');
  if (collector == null) throw bad('it needs a collector too, which lists the DAP tasks');
  const out = {};
  for (const key of ['leader', 'helper']) {
    let url;
    try {
      url = new URL(abs(dap[key]));
    } catch {
      throw bad(`${key} is not a URL`);
    }
    if (!['http:', 'https:'].includes(url.protocol)) throw bad(`${key} must be http(s)`);
    out[key] = url.href;
  }
  if (out.leader === out.helper) throw bad('the leader and the helper must be two servers');
  return out;
}

const disposedError = () => new VitrineError('this Vitrine instance was disposed; create a new one', 'disposed');

/** The error the worker posted, rebuilt on the page. */
function revive({ message, name, code }) {
  if (name === 'AbortError') return new DOMException(message, 'AbortError');
  return new VitrineError(message, typeof code === 'string' ? code : 'internal');
}

/**
 * Calls the engine host in a Worker, one promise per call. A call's abort listener lives exactly as
 * long as the call; an abort also reaches the worker, which aborts that call's downloads.
 */
class WorkerLink {
  #worker;
  #next = 1;
  #pending = new Map();

  constructor(progress) {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'vitrine' });
    this.#worker.onmessage = ({ data }) => {
      if (data.progress) return progress(data.progress);
      const p = this.#take(data.id);
      if (!p) return;
      if (data.error) p.reject(revive(data.error));
      else p.resolve(data.result);
    };
    this.#worker.onerror = (e) => this.#failAll(new VitrineError(`the Vitrine worker failed: ${e.message ?? 'unknown error'}`, 'worker_failed'));
  }

  call(method, args, signal) {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.#take(id)) return;
        this.#worker.postMessage({ abort: id });
        reject(abortError(signal));
      };
      const settle = () => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, { resolve, reject, settle });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#worker.postMessage({ id, method, args });
    });
  }

  /** `wait`: let the engine finish its calls and IndexedDB writes first (bounded), then stop the worker. */
  async close({ wait = true } = {}) {
    if (wait) {
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(resolve, DISPOSE_WAIT_MS); });
      await Promise.race([this.call('dispose', []).catch(() => {}), timeout]);
      clearTimeout(timer);
    }
    this.#worker.terminate();
    this.#failAll(disposedError());
  }

  #take(id) {
    const p = this.#pending.get(id);
    if (!p) return null;
    this.#pending.delete(id);
    p.settle();
    return p;
  }

  #failAll(err) {
    for (const id of [...this.#pending.keys()]) this.#take(id).reject(err);
  }
}

/** Runs the engine host on the page itself (`worker: false`): same interface, no Worker. */
class InlineLink {
  #host;
  #progress;
  constructor(host, progress) {
    this.#host = host;
    this.#progress = progress;
  }
  async call(method, args, signal) {
    if (signal?.aborted) throw abortError(signal);
    return this.#host.call(method, args, { signal, progress: this.#progress });
  }
  async close() {
    await this.#host.dispose();
  }
}

export class Vitrine {
  #link;
  #info;
  #disposed = null;

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
      throw new VitrineError(`device must be 'auto', 'webgpu' or 'cpu', not ${JSON.stringify(device)}`, 'invalid_option');
    }
    const modelUrl = resolveModel(options.model, options.dtype, options.modelBase);
    if ('dailyEpsilon' in options || 'entryEpsilon' in options) {
      throw new VitrineError('dailyEpsilon and entryEpsilon are gone: the privacy budget is the SDK\'s, not the page\'s (docs/privacy.md)', 'invalid_option');
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
    const dap = dapOption(options.dap, options.collector, abs);
    const hostOptions = {
      model: abs(modelUrl),
      modelSha256: options.modelSha256,
      catalog: options.catalog?.vectors ? { vectors: abs(options.catalog.vectors), sha256: options.catalog.sha256 } : null,
      products: options.catalog?.products ?? [],
      sessionModel: abs(options.sessionModel),
      sessionModelSha256: options.sessionModelSha256,
      segments: abs(options.segments),
      segmentsSha256: options.segmentsSha256,
      collector: abs(options.collector),
      dap,
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
      link = new InlineLink(new EngineHost(), progress);
    }
    try {
      const core = await link.call('init', [hostOptions], signal);
      // What the page's browser offers; which backend encodes (core.backend) is the engine's own finding.
      const webgpu = device === 'cpu' ? { available: false, reason: "device: 'cpu' was requested" } : await findWebGpu();
      progress({ status: 'ready' });
      const v = new Vitrine(link, { ...core, webgpu, worker: link instanceof WorkerLink });
      // The page going away: queued reports leave with keepalive (fetch, not sendBeacon: no credentials).
      globalThis.addEventListener?.('pagehide', v.#onPagehide);
      return v;
    } catch (err) {
      await link.close({ wait: false });
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

  /**
   * Releases the worker and the engine once the calls already made have finished and their IndexedDB
   * writes are committed; resolves then. Any later call rejects (`code: 'disposed'`).
   */
  dispose() {
    if (!this.#disposed) globalThis.removeEventListener?.('pagehide', this.#onPagehide);
    this.#disposed ??= this.#link.close();
    return this.#disposed;
  }

  #call(method, args, signal) {
    if (this.#disposed) return Promise.reject(disposedError());
    return this.#link.call(method, args, signal);
  }

  #check() {
    if (this.#disposed) throw disposedError();
  }
}

export default Vitrine;
