// The DAP path (docs/dap.md): with `dap: { leader, helper }`, experiments the collector lists under
// `GET /v1/dap-tasks` are reported as DAP-09 reports, secret-shared between the two aggregators, instead
// of with local noise. The engine decides what to report and hands over a cell index; the DAP module
// (`../wasm/vitrine_dap.js`, a wasm of its own loaded only here, and only with consent) shards it and
// seals one share to each aggregator's HPKE key. Only the sealed report is queued and sent.
//
// Rules: everything is fetched only with consent and at most daily (the tasks from the collector, each
// task's HPKE configurations from the leader and the helper), and a visit that fetched anything sends
// nothing, as with the registry. Nothing falls back to local noise: while the task list is unknown no
// report at all is built (`blocked`), and while a task cannot be sealed now its counters wait (the engine's
// DAP route marks it not ready). A task is not ready in a visit that fetched, either: a DAP report carries
// its build time, and one kept for a later visit could arrive after the collector collected its window.
import { transact, read, CACHE } from './db.js';

const DAY = 86_400_000;
const request = { credentials: 'omit', referrerPolicy: 'no-referrer' };

export class DapPath {
  #leader;
  #helper;
  #reporters = new Map();
  // Bumped by every load and by stop(): an older load that is still running stops at its next step.
  #generation = 0;
  reason = '';
  /** True while the task list is unknown: nothing is built, so no DAP experiment can get local noise. */
  blocked = true;

  /** `dap`: `{ leader, helper }`, absolute URLs (index.js checked them). */
  constructor(dap) {
    this.#leader = dap.leader;
    this.#helper = dap.helper;
  }

  /**
   * Loads the tasks and keys (from the cache, or with consent from the network when older than a day),
   * then tells the engine which experiments go to DAP and which of them can be sealed now.
   * `fetchDoc(path, key, cached)` fetches and caches a collector document; `markFetched()` is called
   * before any request (the visit then sends nothing); `fetchedBefore()` says whether the visit already
   * fetched something.
   */
  async load(engine, db, { consent, fetchDoc, markFetched, fetchedBefore }) {
    const generation = ++this.#generation;
    const live = () => generation === this.#generation;
    let doc = await read(db, CACHE, 'dap-tasks');
    if (consent && live() && !(doc && Date.now() - doc.at < DAY)) {
      markFetched();
      doc = (await fetchDoc('/v1/dap-tasks', 'dap-tasks', doc)) ?? doc;
    }
    let tasks = null;
    try {
      tasks = doc?.json ? JSON.parse(doc.json).tasks : null;
    } catch {
      tasks = null;
    }
    if (!Array.isArray(tasks)) {
      this.blocked = true;
      this.reason = doc ? 'the collector\'s DAP task list is not valid: nothing is reported until it is'
        : 'the collector\'s DAP task list is not loaded yet: nothing is reported until it is';
      return;
    }
    let module = null;
    if (tasks.length && consent && live()) {
      try {
        module = await import('../wasm/vitrine_dap.js');
        await module.default({ module_or_path: new URL('../wasm/vitrine_dap_bg.wasm', import.meta.url) });
      } catch (err) {
        module = null;
        this.reason = `the DAP module did not load (${err?.message ?? err}): DAP experiments wait`;
      }
    }
    const prepared = [];
    for (const task of tasks) {
      prepared.push(module !== null && live() && (await this.#prepare(module, task, db, markFetched, live)));
    }
    if (!live()) return;
    // Keys fetched (or the registry) in this visit: the reports wait for a visit that sends at once.
    const now = !fetchedBefore();
    const route = tasks.map((t, i) => ({
      experiment: String(t?.experiment), variants: t?.variants ?? [], segments: t?.segments ?? 0, ready: prepared[i] && now,
    }));
    try {
      engine.setDapRoute(JSON.stringify(route));
      this.blocked = false;
      if (!this.reason && !now) this.reason = 'on (this visit fetched, so DAP reports are built in a later one)';
    } catch (err) {
      this.blocked = true;
      this.reason = `the collector's DAP tasks were refused (${err?.message ?? err}): nothing is reported`;
    }
  }

  /** A reporter for `task` with both HPKE configurations set; false when they are not available. */
  async #prepare(module, task, db, markFetched, live) {
    let reporter;
    try {
      reporter = new module.DapReporter(JSON.stringify({ leader: this.#leader, helper: this.#helper, tasks: [task] }), task.experiment);
    } catch (err) {
      this.reason = `DAP task ${task?.experiment}: ${err?.message ?? err}`;
      return false;
    }
    // Keyed by task id: a re-provisioned experiment is a new task with new keys.
    const key = `hpke:${task.task_id}`;
    const cached = await read(db, CACHE, key);
    const fresh = cached && Date.now() - cached.at < DAY && cached.leaderUrl === this.#leader && cached.helperUrl === this.#helper;
    let keys = fresh ? cached : null;
    if (!keys && live()) {
      markFetched();
      keys = await this.#fetchKeys(reporter.hpkeConfigUrls());
    }
    let ok = false;
    try {
      if (keys && live()) {
        reporter.setHpkeConfigs(keys.leader, keys.helper);
        ok = true;
      }
    } catch (err) {
      this.reason = `the aggregators' HPKE configurations for ${task.experiment} were refused (${err?.message ?? err})`;
    }
    if (!ok) {
      reporter.free();
      return false;
    }
    // Cached only once the client accepted them: a garbage answer is not kept for a day.
    if (!fresh) await transact(db, [CACHE], (tx) => tx.objectStore(CACHE).put(keys, key));
    if (!live()) {
      reporter.free();
      return false;
    }
    this.#reporters.get(task.experiment)?.reporter.free();
    this.#reporters.set(task.experiment, { reporter, taskId: task.task_id });
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

  /** The sealed upload of one engine measurement, `{ url, contentType, body, taskId }`; null if it cannot be. */
  seal(measurement) {
    const entry = this.#reporters.get(measurement.experiment);
    if (!entry) return null;
    try {
      const up = entry.reporter.build(measurement.cell);
      const out = { url: up.url, contentType: up.contentType, body: up.body, taskId: entry.taskId };
      up.free();
      return out;
    } catch (err) {
      this.reason = `a DAP report for ${measurement.experiment} could not be sealed (${err?.message ?? err})`;
      return null;
    }
  }

  /** Consent withdrawn or the instance closing: a load still running fetches and sets nothing more. */
  stop() {
    this.#generation += 1;
  }

  close() {
    this.stop();
    for (const r of this.#reporters.values()) r.reporter.free();
    this.#reporters.clear();
  }
}
