// The package's TypeScript types: storefront code compiles under --strict, misuse does not, and no public
// type is `any`. index.d.ts builds on types.d.ts, generated from the Rust types (tests/typescript.rs checks
// that the committed file is current), so a Rust type that changes shape breaks this compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).pathname;

test('storefront code type-checks against index.d.ts and misuse is rejected', () => {
  try {
    execFileSync(`${ROOT}node_modules/.bin/tsc`, ['-p', `${ROOT}tests/types/tsconfig.json`], { encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
});

test('no public type is any', () => {
  for (const file of ['index.d.ts', 'types.d.ts']) {
    const dts = readFileSync(`${ROOT}pkg-template/${file}`, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    assert.doesNotMatch(dts, /\bany\b/, file);
  }
});
