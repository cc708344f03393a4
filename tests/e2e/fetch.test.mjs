// The package's downloader (pkg-template/fetch.js) in Node against a real HTTP server: progress stays
// within 0–100 % for a compressed body, a body-less answer does not break it, and every event names its
// file as transformers.js's do. (The Cache API parts run in Chromium: tests/e2e/package.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import { fetchBytes } from '../../pkg-template/fetch.js';

// Compressible and large enough to arrive in several chunks.
const RAW = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `item ${i % 97};`).join(''));
const GZ = gzipSync(RAW);
let server;
let base;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/gz/catalog.vcat') {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': GZ.length });
      res.end(GZ);
    } else if (req.url === '/plain/catalog.vcat') {
      res.writeHead(200, { 'content-length': RAW.length });
      res.end(RAW);
    } else if (req.url === '/empty/segments.json') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((ok) => server.close(ok)));

async function load(path) {
  const events = [];
  const bytes = await fetchBytes(`${base}${path}`, { name: 'catalog', progress: (e) => events.push(e), cache: false });
  return { bytes, events };
}

test('a gzip body with its compressed content-length never reports over 100 %', async () => {
  assert.ok(GZ.length < RAW.length / 10, 'the body compresses');
  const { bytes, events } = await load('/gz/catalog.vcat');
  assert.deepEqual(Buffer.from(bytes), RAW);
  const progress = events.filter((e) => e.status === 'progress');
  assert.ok(progress.length > 0);
  for (const e of progress) {
    assert.ok(e.progress === undefined || (e.progress >= 0 && e.progress <= 100), JSON.stringify(e));
    assert.ok(e.total === 0 || e.loaded <= e.total, JSON.stringify(e));
  }
  assert.equal(progress.at(-1).loaded, RAW.length);
});

test('an uncompressed body reports its exact progress up to 100 %', async () => {
  const { bytes, events } = await load('/plain/catalog.vcat');
  assert.equal(bytes.length, RAW.length);
  const last = events.filter((e) => e.status === 'progress').at(-1);
  assert.deepEqual([last.loaded, last.total, last.progress], [RAW.length, RAW.length, 100]);
});

test('an answer without a body (204) yields no bytes instead of a TypeError', async () => {
  const { bytes, events } = await load('/empty/segments.json');
  assert.equal(bytes.length, 0);
  assert.deepEqual(events.map((e) => e.status), ['initiate', 'progress', 'done']);
});

test('every progress event names the file, as transformers.js does', async () => {
  const { events } = await load('/plain/catalog.vcat');
  assert.ok(events.length >= 3);
  for (const e of events) assert.equal(e.file, 'catalog.vcat', JSON.stringify(e));
  assert.ok(events.every((e) => e.name === 'catalog'));
});

test('a failed download rejects with a download_failed code', async () => {
  await assert.rejects(load('/missing/model.gguf'), (err) => err.name === 'VitrineError' && err.code === 'download_failed' && /404/.test(err.message));
});
