// Downloads for the engine host: model and catalog bytes, with progress, cached in the Cache API and
// verified by SHA-256 when the page gives the expected digest.

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

/**
 * Fetches `url` as bytes. `name` keys the progress events; `sha256` (hex), when given, is checked and a
 * mismatch throws (a cached copy that fails is dropped and fetched again once).
 */
export async function fetchBytes(url, { name, sha256, signal, progress, cache = true }) {
  const key = new URL(url, globalThis.location?.href).href;
  const store = cache ? await openCache() : null;
  const cached = await store?.match(key).catch(() => undefined);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if (!sha256 || (await sha256Hex(bytes)) === sha256) {
      progress({ status: 'done', name, cached: true });
      return bytes;
    }
    await store.delete(key);
  }
  progress({ status: 'initiate', name });
  const res = await fetch(key, { signal, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${name}: GET ${key} answered ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || 0;
  const chunks = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress({ status: 'progress', name, loaded, total, progress: total ? (100 * loaded) / total : undefined });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  if (sha256) {
    const actual = await sha256Hex(bytes);
    if (actual !== sha256) throw new Error(`${name}: SHA-256 mismatch (expected ${sha256}, got ${actual}); the file is corrupted or not the one expected`);
  }
  await store?.put(key, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
  progress({ status: 'done', name });
  return bytes;
}
