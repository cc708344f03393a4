// The DAP path (docs/dap.md): with `dap: { leader, helper }`, experiments the collector lists under
// `GET /v1/dap-tasks` are reported as DAP-09 reports, secret-shared between the two aggregators, instead
// of with local noise. The engine decides what to report and hands over a cell index; the DAP module
// (`../wasm/vitrine_dap.js`, a wasm of its own loaded only here) shards it and seals one share to each
// aggregator's HPKE key. Only the sealed report is queued and sent.
//
// Rules: everything is fetched only with consent and at most daily (the tasks from the collector, each
// task's HPKE configurations from the leader and the helper), and a visit that fetched sends nothing, as
// with the registry. An experiment with a task never falls back to local noise: while its keys are
// missing its counters wait (the engine's DAP route marks it not ready).
import { transact, read, CACHE } from './db.js';

const DAY = 86_400_000;
const request = { credentials: 'omit', referrerPolicy: 'no-referrer' };

export class DapPath {
  #leader;
  #helper;
  #reporters = new Map();
  reason = '';

  /** `dap`: `{ leader, helper }`, absolute URLs (index.js checked them). */
  constructor(dap) {
    this.#leader = dap.leader;
    this.#helper = dap.helper;
  }

  /**
   * Loads the tasks and keys (from the cache, or with consent from the network when older than a day),
   * then tells the engine which experiments go to DAP and which of them can be sealed now. Resolves to
   * whether anything was fetched (the visit then sends nothing).
   */
  async load(engine, db, consent, fetchDoc) {
    let fetched = false;
    let doc = await read(db, CACHE, 'dap-tasks');
    if (consent && !(doc && Date.now() - doc.at < DAY)) {
      doc = (await fetchDoc('/v1/dap-tasks', 'dap-tasks', doc)) ?? doc;
      fetched = true;
    }
    let tasks = [];
    try {
      tasks = doc?.json ? JSON.parse(doc.json).tasks ?? [] : [];
    } catch {
      this.reason = 'the collector\'s DAP task list is not JSON: nothing is reported through DAP';
    }
    if (!Array.isArray(tasks)) tasks = [];
    let module = null;
    if (tasks.length) {
      try {
        module = await import('../wasm/vitrine_dap.js');
        await module.default({ module_or_path: new URL('../wasm/vitrine_dap_bg.wasm', import.meta.url) });
      } catch (err) {
        module = null;
        this.reason = `the DAP module did not load (${err?.message ?? err}): DAP experiments wait`;
      }
    }
    const route = [];
    for (const task of tasks) {
      const ready = module !== null && (await this.#prepare(module, task, db, consent, () => { fetched = true; }));
      route.push({ experiment: String(task?.experiment), variants: task?.variants ?? [], ready });
    }
    try {
      engine.setDapRoute(JSON.stringify(route));
    } catch (err) {
      this.reason = `the collector's DAP tasks were refused (${err?.message ?? err})`;
    }
    return fetched;
  }

  /** A reporter for `task` with both HPKE configurations set; false when they are not available. */
  async #prepare(module, task, db, consent, onFetch) {
    let reporter;
    try {
      reporter = new module.DapReporter(JSON.stringify({ leader: this.#leader, helper: this.#helper, tasks: [task] }), task.experiment);
    } catch (err) {
      this.reason = `DAP task ${task?.experiment}: ${err?.message ?? err}`;
      return false;
    }
    const key = `hpke:${task.experiment}`;
    let keys = await read(db, CACHE, key);
    if (!(keys && Date.now() - keys.at < DAY && keys.leaderUrl === this.#leader && keys.helperUrl === this.#helper)) {
      if (!consent) return false;
      onFetch();
      keys = await this.#fetchKeys(reporter.hpkeConfigUrls());
      if (!keys) return false;
      await transact(db, [CACHE], (tx) => tx.objectStore(CACHE).put(keys, key));
    }
    try {
      reporter.setHpkeConfigs(keys.leader, keys.helper);
    } catch (err) {
      this.reason = `the aggregators' HPKE configurations for ${task.experiment} were refused (${err?.message ?? err})`;
      return false;
    }
    this.#reporters.get(task.experiment)?.free();
    this.#reporters.set(task.experiment, reporter);
    return true;
  }

  async #fetchKeys(urls) {
    if (urls.length !== 2) return null;
    try {
      const bodies = await Promise.all(urls.map(async (url) => {
        const res = await fetch(url, request);
        if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
        return new Uint8Array(await res.arrayBuffer());
      }));
      return { at: Date.now(), leaderUrl: this.#leader, helperUrl: this.#helper, leader: bodies[0], helper: bodies[1] };
    } catch (err) {
      this.reason = `the aggregators' HPKE configurations could not be fetched (${err?.message ?? err}): DAP experiments wait`;
      return null;
    }
  }

  /** The sealed upload of one engine measurement, `{ url, contentType, body }`; null if it cannot be. */
  seal(measurement) {
    const reporter = this.#reporters.get(measurement.experiment);
    if (!reporter) return null;
    try {
      const up = reporter.build(measurement.cell);
      const out = { url: up.url, contentType: up.contentType, body: up.body };
      up.free();
      return out;
    } catch (err) {
      this.reason = `a DAP report for ${measurement.experiment} could not be sealed (${err?.message ?? err})`;
      return null;
    }
  }

  close() {
    for (const r of this.#reporters.values()) r.free();
    this.#reporters.clear();
  }
}
