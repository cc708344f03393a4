// The device's reporting database: ONE per origin, whatever `storeName` the page picks, so every tab,
// worker and engine instance shares one ledger (the day's ε spend, experiments reported) and one queue.
// Every read-modify-write runs in one readwrite transaction under a Web Lock. Nothing here throws.

const DB_NAME = 'vitrine-report';
const DB_VERSION = 1;
const LOCK = 'vitrine-report';
export const LEDGER = 'ledger';
export const QUEUE = 'queue';
export const CACHE = 'cache';

function promisify(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

/** Opens the per-origin database; `{ db }` or `{ reason }` when reporting must stay off. */
export async function openReportDb() {
  const idb = globalThis.indexedDB;
  if (!idb) return { reason: 'this context has no IndexedDB: nothing is reported without a persistent budget' };
  if (!globalThis.navigator?.locks) return { reason: 'this context has no Web Locks: the shared budget cannot be kept safely' };
  try {
    const req = idb.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      for (const s of [LEDGER, QUEUE, CACHE]) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
    };
    const db = await Promise.race([
      promisify(req),
      new Promise((_, reject) => setTimeout(() => reject(new Error('opening IndexedDB timed out (blocked?)')), 5000)),
    ]);
    return { db };
  } catch (err) {
    return { reason: `IndexedDB is unavailable (${err?.message ?? err}): nothing is reported without a persistent budget` };
  }
}

/** Runs `fn` under the origin-wide lock (tabs, workers and instances queue behind each other). */
export function withLock(fn) {
  return navigator.locks.request(LOCK, { mode: 'exclusive' }, fn);
}

/**
 * One readwrite transaction over `stores`: `body(tx)` issues its requests synchronously (callbacks
 * included), so the transaction stays active from the first read to the last write.
 */
export async function transact(db, stores, body) {
  const tx = db.transaction(stores, 'readwrite');
  const finished = done(tx);
  let result;
  try {
    result = body(tx);
  } catch (err) {
    tx.abort();
    await finished.catch(() => {});
    throw err;
  }
  await finished;
  return typeof result === 'function' ? result() : result;
}

/** Reads one value (its own read-only transaction). */
export async function read(db, store, key) {
  return promisify(db.transaction(store).objectStore(store).get(key));
}

/** Every entry of the queue, `[{ id, body, notBefore, attempts, lease }]`. */
export async function readAll(db, store) {
  return promisify(db.transaction(store).objectStore(store).getAll());
}
