// The report channel: loads the shared ledger and the cached registry/priors into the engine, builds
// reports under the origin-wide lock, and sends each one in its own request after its own random delay.
//
// Rules (docs/privacy.md, "Transport"): no persistent budget, no reports; the registry and priors are
// static JSON fetched at most daily, and a visit that fetched them sends no report (so no report is ever
// paired with that fetch); `fetch(…, { keepalive, credentials: 'omit' })`, no referrer; 429 / 5xx /
// network errors keep the report with backoff, only a 4xx about the report itself drops it; a report id
// de-duplicates resends, and a claim (lease) in the same transaction keeps two flushes from sending one
// report twice or losing one. With `dap`, DAP experiments leave as sealed DAP reports (dap.js) under the
// same rules, PUT to the leader.
import { openReportDb, withLock, transact, read, readAll, LEDGER, QUEUE, CACHE } from './db.js';
import { DapPath } from './dap.js';

const DAY = 86_400_000;
// A claimed report not settled within this (the page closed mid-send) may be claimed again.
const LEASE_MS = 60_000;
const BACKOFF_MS = [60_000, 5 * 60_000, 30 * 60_000, 6 * 3_600_000];

const asString = (v) => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

export class ReportChannel {
  #db = null;
  #collector = null;
  #dap = null;
  // The last load(), its DAP part included (which runs in the background: its module and keys must not
  // delay create()). Building and sending wait for it, so nothing is built before the engine knows which
  // experiments are DAP's, and nothing is sent before the visit knows whether it fetched.
  #loaded = Promise.resolve();
  #delay = [5_000, 60_000];
  #timers = new Set();
  #fetched = false;
  reason = '';
  last = null;

  /**
   * `persistent`: whether the engine's own store persists (memory mode sends nothing).
   * `delayMs`: `[lo, hi]` of each report's random delay. `dap`: `{ leader, helper }` or nothing.
   */
  static async open({ collector, persistent, delayMs, dap }) {
    const ch = new ReportChannel();
    ch.#collector = collector ?? null;
    if (Array.isArray(delayMs) && delayMs.length === 2) ch.#delay = delayMs.map((x) => Math.max(0, Number(x) || 0));
    if (!collector) ch.reason = 'no collector configured';
    else if (!persistent) ch.reason = 'memory-only mode (persist: false, or IndexedDB unavailable): nothing is counted or sent, since a budget that is not kept would refill on every load';
    else {
      const { db, reason } = await openReportDb();
      ch.#db = db ?? null;
      ch.reason = reason ?? '';
      if (db && dap) ch.#dap = new DapPath(dap);
    }
    return ch;
  }

  get on() {
    return this.#db !== null;
  }

  /**
   * Gives the engine the stored ledger and the cached registry and priors; with consent, fetches them
   * when older than a day (this visit then sends nothing).
   */
  async load(engine, consent) {
    if (!this.#db) return;
    let settle;
    this.#loaded = new Promise((resolve) => { settle = resolve; });
    try {
      engine.setLedger(asString(await read(this.#db, LEDGER, 'device')));
      const docs = {};
      for (const [key, path] of [['registry', '/v1/experiments'], ['priors', '/v1/priors']]) {
        let doc = await read(this.#db, CACHE, key);
        if (consent && !(doc && Date.now() - doc.at < DAY)) {
          this.#fetched = true; // before the request: a send racing this load must already see it
          doc = (await this.#fetchDoc(path, doc)) ?? doc;
        }
        docs[key] = doc;
      }
      try {
        if (docs.registry?.json) engine.setRegistry(docs.registry.json);
      } catch (err) {
        this.reason = `the collector's registry was refused (${err?.message ?? err}): nothing is counted`;
      }
      try {
        if (docs.priors?.json) engine.setPriors(docs.priors.json);
      } catch {
        // Invalid priors: the bandit keeps flat ones.
      }
    } catch (err) {
      settle();
      throw err;
    }
    if (!this.#dap) return settle();
    const hooks = {
      consent,
      fetchDoc: (path, key, cached) => this.#fetchDoc(path, cached, key),
      markFetched: () => { this.#fetched = true; },
      fetchedBefore: () => this.#fetched,
    };
    this.#dap.load(engine, this.#db, hooks).catch(() => {}).finally(settle);
  }

  async #fetchDoc(path, cached, key = path === '/v1/priors' ? 'priors' : 'registry') {
    try {
      const headers = cached?.etag ? { 'if-none-match': cached.etag } : {};
      const res = await fetch(new URL(path, this.#collector), { credentials: 'omit', referrerPolicy: 'no-referrer', headers });
      let doc = null;
      if (res.status === 304 && cached) doc = { ...cached, at: Date.now() };
      else if (res.ok) doc = { at: Date.now(), etag: res.headers.get('etag'), json: await res.text() };
      if (doc) await transact(this.#db, [CACHE], (tx) => tx.objectStore(CACHE).put(doc, key));
      return doc;
    } catch {
      return null; // offline or no collector: the cached copy (or none) serves
    }
  }

  /** Builds what the shared ledger allows and queues it, in one transaction under the lock. */
  async build(engine) {
    await this.#loaded;
    // The page asked for DAP and the task list is unknown: build nothing, so no DAP experiment is ever
    // reported with local noise (the counters wait).
    if (!this.#db || this.#dap?.blocked) return [];
    const built = await withLock(() =>
      transact(this.#db, [LEDGER, QUEUE], (tx) => {
        let reports = [];
        const ledger = tx.objectStore(LEDGER);
        const req = ledger.get('device');
        req.onsuccess = () => {
          // Synchronous wasm inside the request's callback: the transaction stays active until the puts.
          const out = engine.buildReports(asString(req.result));
          ledger.put(JSON.stringify(out.ledger), 'device');
          for (const r of out.reports) {
            const entry = { id: r.id, body: JSON.stringify(r), notBefore: Date.now() + this.#randomDelay(), attempts: 0, lease: 0 };
            tx.objectStore(QUEUE).put(entry, r.id);
          }
          reports = out.reports;
          // Sealed here, inside the transaction that charged the ledger: the cell never reaches storage.
          for (const m of out.dap ?? []) {
            const up = this.#dap?.seal(m);
            if (!up) continue;
            const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
            const dap = { url: up.url, contentType: up.contentType, taskId: up.taskId };
            const entry = { id, dap, body: up.body, notBefore: Date.now() + this.#randomDelay(), attempts: 0, lease: 0 };
            tx.objectStore(QUEUE).put(entry, id);
            reports.push({ experiment: m.experiment, dap: true, bytes: up.body.length });
          }
        };
        return () => reports;
      }),
    );
    this.#schedule().catch(() => {}); // a closed database (disposed) only means nothing more is sent
    return built;
  }

  #randomDelay() {
    const [lo, hi] = this.#delay;
    return lo + Math.random() * Math.max(0, hi - lo);
  }

  /** One timer per queued report, at its own time. Nothing in a visit that fetched the registry. */
  async #schedule() {
    await this.#loaded;
    if (!this.#db || this.#fetched) return;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const e of await readAll(this.#db, QUEUE)) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        // The page is alive: a plain request (keepalive is for pagehide, where the page may be gone
        // before the answer). `dueBy`: the timer itself says the report is due. Checking `Date.now()`
        // instead stranded reports: timers truncate fractional delays and run on the monotonic clock, so
        // one often fired a fraction of a millisecond before the wall clock reached `notBefore`, found
        // nothing due, and set no other timer (the demo's DAP upload stalled in ~4 runs of 10).
        this.sendDue({ keepalive: false, dueBy: e.notBefore }).catch(() => {});
      }, Math.max(0, e.notBefore - Date.now()));
      this.#timers.add(t);
    }
  }

  /** Starts this visit's sending: what earlier visits queued goes out, each at its own time. */
  start() {
    return this.#schedule();
  }

  /** Sends due reports, one per request; `all` sends every unclaimed one now (pagehide); `dueBy` counts
   *  as due what was due by then (the timer that calls it was set for that time). */
  async sendDue({ all = false, keepalive = true, dueBy = 0 } = {}) {
    await this.#loaded;
    if (!this.#db || this.#fetched) return 0;
    const now = Date.now();
    const due = Math.max(now, dueBy);
    const claimed = await withLock(() =>
      transact(this.#db, [QUEUE], (tx) => {
        const mine = [];
        const q = tx.objectStore(QUEUE);
        const req = q.getAll();
        req.onsuccess = () => {
          for (const e of req.result) {
            if ((all || e.notBefore <= due) && e.lease < now) {
              q.put({ ...e, lease: now + LEASE_MS }, e.id);
              mine.push(e);
            }
          }
        };
        return () => mine;
      }),
    );
    await Promise.all(claimed.map((e) => this.#post(e, keepalive)));
    return claimed.length;
  }

  async #post(e, keepalive) {
    let status = 0;
    try {
      // No cookies, no referrer, survives the page going away; text/plain keeps it a simple CORS request.
      // A DAP report is a PUT of its own media type to the leader (Janus answers the CORS preflight).
      const res = e.dap
        ? await fetch(e.dap.url, {
          method: 'PUT', body: e.body, keepalive, credentials: 'omit', referrerPolicy: 'no-referrer',
          headers: { 'content-type': e.dap.contentType },
        })
        : await fetch(new URL('/v1/reports', this.#collector), {
          method: 'POST', body: e.body, keepalive, credentials: 'omit', referrerPolicy: 'no-referrer',
          headers: { 'content-type': 'text/plain' },
        });
      status = res.status;
    } catch {
      status = 0;
    }
    // 200 (or a resend the collector already counted; a DAP leader may answer 201) is done; a 4xx about
    // the report will never pass; 408, 429, 5xx and network errors may pass later.
    const drop = status === 200 || status === 201 || (status >= 400 && status < 500 && status !== 408 && status !== 429);
    this.last = { status, kept: !drop };
    // A leader that refuses a DAP report (a rotated HPKE key, an unknown task) refuses its successors
    // too: the cached keys go, so the next visit fetches fresh ones.
    const stale = e.dap && status >= 400 && status < 500 && status !== 408 && status !== 429;
    await withLock(() =>
      transact(this.#db, stale ? [QUEUE, CACHE] : [QUEUE], (tx) => {
        const q = tx.objectStore(QUEUE);
        if (stale) tx.objectStore(CACHE).delete(`hpke:${e.dap.taskId}`);
        if (drop) q.delete(e.id);
        else q.put({ ...e, lease: 0, attempts: e.attempts + 1, notBefore: Date.now() + BACKOFF_MS[Math.min(e.attempts, BACKOFF_MS.length - 1)] }, e.id);
      }),
    );
  }

  /** Deletes every queued report (consent withdrawn, or the shopper's wipe). */
  async wipe() {
    this.#dap?.stop(); // consent withdrawn: a DAP load still running fetches nothing more
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#db) await withLock(() => transact(this.#db, [QUEUE], (tx) => tx.objectStore(QUEUE).clear()));
  }

  async diagnostics() {
    const queued = this.#db ? (await readAll(this.#db, QUEUE)).length : 0;
    const sending = !this.#db ? `off: ${this.reason}`
      : this.#fetched ? 'this visit fetched the registry, so its reports wait for a later visit (never paired with that fetch)'
        : 'on';
    const dap = this.#dap ? { dap: this.#dap.reason || 'on' } : {};
    return { transport: sending, queued, lastSend: this.last, registryNote: this.reason || undefined, ...dap };
  }

  close() {
    for (const t of this.#timers) clearTimeout(t);
    this.#dap?.close();
    this.#db?.close();
    this.#db = null;
  }
}
