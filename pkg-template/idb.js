// The IndexedDB plumbing both stores share (the engine's key-value store and the reporting ledger):
// requests and transactions as promises, and an open that cannot hang on a blocked database.
// Hand-written rather than `idb-keyval` (1,362 B brotli): its stores are one object store per
// database, opened without a version, with no migration and no timeout, and the ledger needs one
// transaction across three stores; these three functions are the part of it we would use.

/** A request's result as a promise. */
export function promisify(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Settles when `tx` commits; rejects when it fails or aborts. */
export function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

/**
 * Opens `name` at `version`, running `upgrade(db, oldVersion)` when the layout is older. Rejects
 * after `ms`: another tab holding an old version open blocks the upgrade forever otherwise.
 */
export function openDb(idb, name, version, upgrade, ms = 5000) {
  const req = idb.open(name, version);
  req.onupgradeneeded = (e) => upgrade(req.result, e.oldVersion);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('opening IndexedDB timed out (blocked?)')), ms);
  });
  return Promise.race([promisify(req), timeout]).finally(() => clearTimeout(timer));
}
