// The npm package's plumbing in Chromium, against a server that sees every request: the Worker answers
// only its listed methods, abort listeners live as long as their call and an abort reaches the Worker's
// download, dispose() waits for pending IndexedDB writes, an unpinned cached file is revalidated, and
// errors carry a stable `code`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { newPage } from './browser.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const CATALOG = await readFile(join(ROOT, 'www/data/products.vcat'));

let server;
let url;
let browser;
/** What the server saw: each request to /dyn/, and whether the slow download's connection closed. */
const seen = { requests: [], slowClosed: false, version: 1 };

async function handle(req, res) {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (path.startsWith('/dyn/')) {
    seen.requests.push({ path, ifNoneMatch: req.headers['if-none-match'] ?? null });
    if (path === '/dyn/catalog.vcat') {
      const etag = `"v${seen.version}"`;
      if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end();
      const body = seen.version === 1 ? CATALOG : Buffer.from('not a catalog any more');
      return res.writeHead(200, { etag, 'content-length': body.length, 'cache-control': 'no-cache' }).end(body);
    }
    if (path === '/dyn/slow.gguf') {
      // Headers and a first chunk, then nothing: only an abort ends this download.
      res.writeHead(200, { 'content-length': 10_000_000 });
      res.write(Buffer.alloc(1000));
      res.on('close', () => { seen.slowClosed = true; });
      return;
    }
    return res.writeHead(404).end();
  }
  if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><link rel="icon" href="data:,"><title>package</title>');
  const file = normalize(join(ROOT, path.startsWith('/pkg/') ? '' : 'www', path));
  if (!file.startsWith(ROOT)) return res.writeHead(400).end();
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
}

before(async () => {
  server = createServer((req, res) => handle(req, res).catch(() => res.writeHead(500).end()));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((ok) => server.close(ok));
});

async function open() {
  const page = await newPage(browser);
  await page.goto(url);
  return page;
}

test('the worker answers only its listed methods, init once and nothing after dispose', async () => {
  const page = await open();
  const answers = await page.evaluate(async () => {
    const worker = new Worker('/pkg/worker.js', { type: 'module' });
    let next = 1;
    const call = (method, args = []) => new Promise((resolve) => {
      const id = next++;
      const on = ({ data }) => {
        if (data.id !== id) return;
        worker.removeEventListener('message', on);
        resolve(data.error ? `error ${data.error.code}` : 'ok');
      };
      worker.addEventListener('message', on);
      worker.postMessage({ id, method, args });
    });
    const out = {};
    for (const m of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'track']) out[`${m} before init`] = await call(m, [{ type: 'view', productId: 'x' }]);
    out.init = await call('init', [{ persist: false, cache: false }]);
    out['init again'] = await call('init', [{ persist: false }]);
    for (const m of ['constructor', 'toString', 'valueOf', '#init', 'call', 'then']) out[m] = await call(m);
    out.track = await call('track', [{ type: 'view', productId: 'x' }]);
    out.dispose = await call('dispose');
    out['track after dispose'] = await call('track', [{ type: 'view', productId: 'x' }]);
    worker.terminate();
    return out;
  });
  assert.deepEqual(answers, {
    'constructor before init': 'error unknown_method',
    'toString before init': 'error unknown_method',
    '__proto__ before init': 'error unknown_method',
    'hasOwnProperty before init': 'error unknown_method',
    'track before init': 'error unknown_method',
    init: 'ok',
    'init again': 'error unknown_method',
    constructor: 'error unknown_method',
    toString: 'error unknown_method',
    valueOf: 'error unknown_method',
    '#init': 'error unknown_method',
    call: 'error unknown_method',
    then: 'error unknown_method',
    track: 'ok',
    dispose: 'ok',
    'track after dispose': 'error disposed',
  });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('abort listeners are removed when their calls settle', async () => {
  const page = await open();
  const counts = await page.evaluate(async () => {
    const { Vitrine } = await import('/pkg/index.js');
    const controller = new AbortController();
    const { signal } = controller;
    const live = new Set();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (type, fn, opts) => { if (type === 'abort') live.add(fn); add(type, fn, opts); };
    signal.removeEventListener = (type, fn, opts) => { if (type === 'abort') live.delete(fn); remove(type, fn, opts); };
    const v = await Vitrine.create({ catalog: { vectors: '/data/products.vcat' }, persist: false, cache: false, signal });
    const afterCreate = live.size;
    for (let i = 0; i < 5; i++) await v.forYou({ signal });
    await v.rank({ placement: 'teleport' }, { signal }).catch(() => {});
    const afterCalls = live.size;
    await v.dispose();
    return { afterCreate, afterCalls };
  });
  assert.deepEqual(counts, { afterCreate: 0, afterCalls: 0 }, 'listeners left on the page\'s signal');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('an abort reaches the worker: its download stops', async () => {
  const page = await open();
  seen.slowClosed = false;
  const aborted = await page.evaluate(async () => {
    const { Vitrine } = await import('/pkg/index.js');
    const controller = new AbortController();
    let started;
    const downloading = new Promise((resolve) => { started = resolve; });
    const creating = Vitrine.create({
      model: '/dyn/slow.gguf',
      persist: false,
      cache: false,
      signal: controller.signal,
      progress_callback: (e) => { if (e.status === 'progress' && e.name === 'model') started(); },
    });
    await downloading;
    controller.abort();
    return creating.then(() => 'resolved', (err) => err.name);
  });
  assert.equal(aborted, 'AbortError');
  // The worker's fetch must stop too: the server sees the connection close.
  for (let i = 0; i < 100 && !seen.slowClosed; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(seen.slowClosed, 'the worker kept downloading after the abort');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('dispose() waits for the calls made before it and their IndexedDB writes', async () => {
  const page = await open();
  const result = await page.evaluate(async () => {
    const { Vitrine } = await import('/pkg/index.js');
    const options = { catalog: { vectors: '/data/products.vcat' }, storeName: 'dispose-test', cache: false };
    const v = await Vitrine.create(options);
    const tracked = ['85123A', '71053', '84406B'].map((productId) => v.track({ type: 'view', productId }));
    const disposing = v.dispose();
    const isPromise = disposing instanceof Promise;
    await disposing;
    await Promise.all(tracked);
    const later = await v.track({ type: 'view', productId: '85123A' }).then(() => 'ok', (e) => e.code);
    const again = await Vitrine.create(options);
    const events = (await again.export()).events.map((e) => e.productId);
    await again.dispose();
    return { isPromise, later, events };
  });
  assert.deepEqual(result, { isPromise: true, later: 'disposed', events: ['85123A', '71053', '84406B'] });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('an unpinned cached file is revalidated with its ETag, and a changed file replaces it', async () => {
  const page = await open();
  seen.requests = [];
  seen.version = 1;
  const load = () => page.evaluate(async () => {
    const { Vitrine } = await import('/pkg/index.js');
    const events = [];
    try {
      const v = await Vitrine.create({ catalog: { vectors: '/dyn/catalog.vcat' }, persist: false, progress_callback: (e) => events.push(e) });
      const vectors = (await v.diagnostics()).catalogVectors;
      await v.dispose();
      return { vectors, events };
    } catch (err) {
      return { error: `${err.name} ${err.code}`, events };
    }
  });
  const first = await load();
  assert.ok(first.vectors > 100, JSON.stringify(first).slice(0, 300));
  const second = await load();
  assert.equal(second.vectors, first.vectors);
  assert.deepEqual(seen.requests.map((r) => r.ifNoneMatch), [null, '"v1"'], 'the second load asks whether "v1" is current');
  const done = second.events.find((e) => e.name === 'catalog' && e.status === 'done');
  assert.deepEqual(done, { status: 'done', name: 'catalog', file: 'catalog.vcat', cached: true });
  // Chromium has relaxed SIMD, so host.js's probe picks that build (Safari would get vitrine_bg.wasm).
  assert.ok(first.events.some((e) => e.name === 'engine' && e.file === 'vitrine_relaxed_bg.wasm'), JSON.stringify(first.events.slice(0, 3)));

  seen.version = 2; // the file changed on the server
  const third = await load();
  assert.equal(third.error, 'VitrineError catalog', 'the new bytes are used (and refused: they are not a catalog)');
  assert.equal(seen.requests.at(-1).ifNoneMatch, '"v1"');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('errors carry a stable code, in the worker and on the page', async () => {
  const page = await open();
  const codes = await page.evaluate(async () => {
    const { Vitrine, VitrineError } = await import('/pkg/index.js');
    const out = {};
    for (const worker of [true, false]) {
      const v = await Vitrine.create({ catalog: { vectors: '/data/products.vcat' }, persist: false, cache: false, worker });
      const code = (p) => p.then(() => 'ok', (e) => `${e instanceof VitrineError} ${e.code}`);
      out[worker ? 'worker' : 'page'] = {
        event: await code(v.track({ type: 'hover', productId: '1' })),
        placement: await code(v.rank({ placement: 'teleport' })),
        rules: await code(v.forYou({ rules: { limt: 3 } })),
        copy: await code(v.pickCopy('banner', [])),
        ok: await code(v.forYou()),
        disposed: (await v.dispose(), await code(v.forYou())),
      };
    }
    out.option = await Vitrine.create({ device: 'gpu' }).then(() => 'ok', (e) => `${e instanceof VitrineError} ${e.code}`);
    out.download = await Vitrine.create({ catalog: { vectors: '/dyn/none.vcat' }, cache: false, persist: false }).then(() => 'ok', (e) => e.code);
    return out;
  });
  const expected = { event: 'true invalid_input', placement: 'true invalid_input', rules: 'true invalid_input', copy: 'true invalid_input', ok: 'ok', disposed: 'true disposed' };
  assert.deepEqual(codes, { worker: expected, page: expected, option: 'true invalid_option', download: 'download_failed' });
  assert.deepEqual(page.errors, []);
  await page.close();
});
