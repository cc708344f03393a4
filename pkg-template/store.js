// Persistence for the engine host: a tiny key-value store in IndexedDB, degrading to memory (private
// mode, quota, a blocked database) with the reason kept for diagnostics. Nothing here throws.

const DB_NAME = 'vitrine';
// Bump with a new case in `upgrade` when the layout changes; snapshots carry their own version too.
const DB_VERSION = 1;
const STORE = 'kv';

function upgrade(db, oldVersion) {
  // Migration path: each case falls through to the next, so any old version reaches the current one.
  switch (oldVersion) {
    case 0:
      db.createObjectStore(STORE);
    // case 1: future migrations go here.
  }
}

function promisify(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class KvStore {
  #db = null;
  #memory = new Map();
  /** Writes not yet committed: `close()` waits for them, so a disposed engine loses nothing. */
  #writes = new Set();
  /** `indexeddb` or `memory`, and why memory. */
  mode = 'memory';
  reason = '';

  static async open({ persist = true, name = DB_NAME } = {}) {
    const store = new KvStore();
    if (!persist) {
      store.reason = 'persistence was turned off (persist: false)';
      return store;
    }
    const idb = globalThis.indexedDB;
    if (!idb) {
      store.reason = 'this browser context has no IndexedDB';
      return store;
    }
    try {
      const req = idb.open(name, DB_VERSION);
      req.onupgradeneeded = (e) => upgrade(req.result, e.oldVersion);
      store.#db = await withTimeout(promisify(req), 5000, 'opening IndexedDB timed out (blocked?)');
      store.mode = 'indexeddb';
    } catch (err) {
      store.reason = `IndexedDB is unavailable: ${err?.message ?? err}`;
    }
    return store;
  }

  async get(key) {
    if (!this.#db) return this.#memory.get(key);
    try {
      return await promisify(this.#db.transaction(STORE).objectStore(STORE).get(key));
    } catch (err) {
      this.#degrade(err);
      return this.#memory.get(key);
    }
  }

  set(key, value) {
    this.#memory.set(key, value);
    return this.#write(this.#put(key, value));
  }

  async #put(key, value) {
    if (!this.#db) return;
    try {
      const tx = this.#db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put(value, key);
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
      });
    } catch (err) {
      this.#degrade(err); // e.g. QuotaExceededError: keep going in memory
    }
  }

  delete(key) {
    this.#memory.delete(key);
    return this.#write(this.#remove(key));
  }

  async #remove(key) {
    if (!this.#db) return;
    try {
      await promisify(this.#db.transaction(STORE, 'readwrite').objectStore(STORE).delete(key));
    } catch (err) {
      this.#degrade(err);
    }
  }

  /** Waits for every pending write, then closes the database. */
  async close() {
    await Promise.allSettled([...this.#writes]);
    this.#db?.close();
    this.#db = null;
  }

  #write(promise) {
    this.#writes.add(promise);
    promise.finally(() => this.#writes.delete(promise));
    return promise;
  }

  #degrade(err) {
    this.mode = 'memory';
    this.reason = `IndexedDB failed (${err?.name ?? 'Error'}: ${err?.message ?? err}); keeping data in memory`;
    this.#db?.close();
    this.#db = null;
  }
}

function withTimeout(promise, ms, message) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms))]);
}
