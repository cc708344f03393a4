// Downloads for the engine host: model and catalog bytes, with progress (as transformers.js reports it),
// cached in the Cache API. A page that pins the SHA-256 gets exactly those bytes, from the cache when it
// holds them; without a pin the cached copy is revalidated (ETag / Last-Modified) on every load, so a
// file replaced on the server is never served stale.
import { VitrineError } from './errors.js';

const CACHE = 'vitrine-models-v1';

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function openCache() {
  try {
    return globalThis.caches ? await caches.open(CACHE) : null;
  } catch {
    return null; // opaque origins and some private modes have no Cache API: download every time
  }
}

/** The file's name, as progress events carry it (`file`): the last segment of the URL's path. */
export function fileName(url) {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || path;
}

/**
 * Fetches `url` as bytes. `name` and the URL's file name key the progress events; `sha256` (hex), when
 * given, is checked and a mismatch throws (a cached copy that fails is dropped and fetched again once).
 * An offline device falls back to an unpinned cached copy.
 */
export async function fetchBytes(url, { name, sha256, signal, progress, cache = true }) {
  const key = new URL(url, globalThis.location?.href).href;
  const file = fileName(key);
  const store = cache ? await openCache() : null;
  let cached = await store?.match(key).catch(() => undefined);
  if (cached && sha256) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if ((await sha256Hex(bytes)) === sha256) {
      progress({ status: 'done', name, file, cached: true });
      return bytes;
    }
    await store.delete(key);
    cached = undefined;
  }
  // Unpinned: ask whether the cached copy is still current. A validator set by the page turns off the
  // browser's own HTTP cache for this request (Fetch spec), so the answer comes from the server.
  const headers = {};
  const etag = cached?.headers.get('etag');
  const modified = cached?.headers.get('last-modified');
  if (etag) headers['if-none-match'] = etag;
  else if (modified) headers['if-modified-since'] = modified;
  progress({ status: 'initiate', name, file });
  let res;
  try {
    res = await fetch(key, { signal, credentials: 'same-origin', headers });
  } catch (err) {
    if (err?.name === 'AbortError' || !cached) {
      throw err?.name === 'AbortError' ? err : new VitrineError(`${name}: GET ${key} failed (${err?.message ?? err}); check the URL and the network`, 'download_failed', { cause: err });
    }
    res = null; // offline: the cached copy serves
  }
  if (cached && (res === null || res.status === 304)) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    progress({ status: 'done', name, file, cached: true });
    return bytes;
  }
  if (!res.ok) throw new VitrineError(`${name}: GET ${key} answered ${res.status} ${res.statusText}; check the URL`, 'download_failed');
  const bytes = await readBody(res, (loaded, total) =>
    progress({ status: 'progress', name, file, loaded, total, progress: total ? (100 * loaded) / total : undefined }));
  if (sha256) {
    const actual = await sha256Hex(bytes);
    if (actual !== sha256) {
      throw new VitrineError(`${name}: SHA-256 mismatch (expected ${sha256}, got ${actual}); the file is corrupted or not the one expected`, 'sha256_mismatch');
    }
  }
  const kept = { 'content-type': 'application/octet-stream' };
  for (const h of ['etag', 'last-modified']) {
    const v = res.headers.get(h);
    if (v) kept[h] = v;
  }
  await store?.put(key, new Response(bytes, { headers: kept })).catch(() => {});
  progress({ status: 'done', name, file });
  return bytes;
}

/**
 * The body's bytes, reporting `(loaded, total)` as they arrive. `total` is 0 when unknown: a
 * `content-length` counts the encoded bytes of a compressed body while the stream yields decoded ones
 * (and a cross-origin response hides its `content-encoding`, so a length that is overrun is dropped).
 */
async function readBody(res, report) {
  const encoding = res.headers.get('content-encoding');
  let total = encoding && encoding !== 'identity' ? 0 : Number(res.headers.get('content-length')) || 0;
  if (!res.body) {
    // No stream to read (a 204, a synthetic Response): the whole body at once.
    const bytes = new Uint8Array(await res.arrayBuffer());
    report(bytes.length, bytes.length);
    return bytes;
  }
  const chunks = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded > total) total = 0;
    report(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}
