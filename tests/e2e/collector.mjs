// A real collector binary for the end-to-end tests: started on a free port with an admin token, its
// address read from its one stderr line, and small helpers for the admin API.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
export const TOKEN = 'e2e-admin-token';

/** Path of a debug binary of this workspace, built once if missing. */
export function binary(name, pkg) {
  const bin = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', name);
  if (!existsSync(bin)) execFileSync('cargo', ['build', '-q', '-p', pkg], { cwd: ROOT, stdio: 'inherit' });
  return bin;
}

/** Starts `vitrine-collector`; resolves to `{ url, admin(path, body), register(...), stop() }`. */
export async function startCollector(db, extra = []) {
  const bin = binary('vitrine-collector', 'vitrine-collector');
  const child = spawn(bin, ['--db', db, '--addr', '127.0.0.1:0', '--admin-token', TOKEN, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      // Only a whole line counts: stderr may arrive in pieces ("…on http://127" then ".0.0.1:…").
      const m = err.match(/vitrine-collector on (http:\/\/[\d.]+:\d+) \(.*\n/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited (${code}): ${err}`)));
  });
  const admin = async (path, body) => {
    const res = await fetch(url + path, {
      method: body === undefined && !/release|\/end$/.test(path) ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  return {
    url,
    admin,
    async register(id, variants, mode = 'ab', k = 10) {
      const r = await admin('/v1/admin/experiments', { id, slot: id, variants, mode, k });
      if (r.status !== 201) throw new Error(`register ${id}: ${JSON.stringify(r.body)}`);
    },
    async totals() {
      return (await admin('/v1/admin/totals')).body;
    },
    stop: () => child.kill('SIGINT'),
  };
}
