// Shared set-up for the end-to-end tests: the demo server (the same code `npm run demo` runs) and a
// headless system Chromium driven by playwright-core (no browser download: CHROME_PATH or Debian's).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Starts the demo server on a free port and a headless Chromium; returns both and a `close()`.
 * `mounts` serves extra `[urlPrefix, directory]` pairs (the benchmark's peer engine and model).
 */
export async function openDemo({ extraFlags = [], mounts = [] } = {}) {
  const server = await startServer({ port: 0, mounts });
  const browser = await chromium.launch({
    executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
    headless: true,
    args: [...FLAGS, ...extraFlags],
  });
  return {
    url: server.url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens a page that records console errors and uncaught exceptions into `page.errors`. */
export async function newPage(browser) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(msg.text());
  });
  page.on('pageerror', (err) => page.errors.push(String(err)));
  return page;
}

/** Opens the demo at `url` and waits until its engine is ready and it has drawn once. */
export async function demoReady(page, url, timeout = 60_000) {
  await page.goto(url);
  await page.waitForSelector('body[data-engine]', { timeout });
  assert.equal(await page.getAttribute('body', 'data-engine'), 'ready', await page.textContent('#engine-status'));
  await page.waitForSelector('body[data-updated]', { timeout });
}

/** Navigates the demo to `hash` and waits until it has re-ranked after the resulting event. */
export async function visitHash(page, hash, timeout = 30_000) {
  const before = await page.getAttribute('body', 'data-updated');
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((b) => document.body.dataset.updated !== b, before, { timeout });
}

/** Where a test keeps a screenshot as an artifact: test-results/<name> (created on first use). */
export function shotPath(name) {
  const dir = new URL('../../test-results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  return new URL(name, dir).pathname;
}
