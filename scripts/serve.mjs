// Serves the demo: www/ at /, the built npm package pkg/ at /pkg/ and the shipped models at /models/
// (what `npm run demo` and the Playwright tests both use, so the tests see exactly what a person sees).
// Usage: node scripts/serve.mjs [--port 8080] [--host 127.0.0.1]   (or PORT / HOST in the environment)
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const MOUNTS = [
  ['/pkg/', join(ROOT, 'pkg')],
  ['/models/', join(ROOT, 'models')],
  ['/', join(ROOT, 'www')],
];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm', // needed for WebAssembly.instantiateStreaming
  '.ts': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gguf': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/** Maps a URL path to a file under one of the mounts, refusing anything that escapes it. */
function resolvePath(urlPath, mounts) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + sep)) return null;
    return file;
  }
  return null;
}

async function handle(req, res, mounts) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end('method not allowed\n');
    return;
  }
  let file = resolvePath(req.url ?? '/', mounts);
  if (!file) {
    res.writeHead(400).end('bad path\n');
    return;
  }
  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file);
    }
    // The demo is rebuilt often: always revalidate (the package's model cache does it with this date).
    const modified = info.mtime.toUTCString();
    const since = Date.parse(req.headers['if-modified-since'] ?? '');
    if (since >= Math.floor(info.mtimeMs / 1000) * 1000) {
      res.writeHead(304, { 'last-modified': modified, 'cache-control': 'no-cache' }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'last-modified': modified,
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/**
 * Starts the demo server; resolves to `{ url, close() }` once it listens. Port 0 picks a free port.
 * `mounts` adds `[urlPrefix, directory]` pairs in front of the defaults (the benchmark serves its peers).
 */
export function startServer({ port = 8080, host = '127.0.0.1', mounts = [] } = {}) {
  const all = [...mounts.map(([prefix, dir]) => [prefix, resolve(ROOT, dir)]), ...MOUNTS];
  const server = createServer((req, res) => {
    handle(req, res, all).catch(() => res.writeHead(500).end());
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      ok({ url: `http://${host}:${bound}/`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

function flag(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(flag('port') ?? process.env.PORT ?? 8080);
  const host = flag('host') ?? process.env.HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid port: ${flag('port') ?? process.env.PORT}`);
    process.exit(2);
  }
  startServer({ port, host }).then(
    ({ url }) => console.log(`Vitrine demo: ${url}  (Ctrl-C to stop)`),
    (err) => {
      console.error(`cannot listen on ${host}:${port}: ${err.message} — try --port <other>`);
      process.exit(1);
    },
  );
}
