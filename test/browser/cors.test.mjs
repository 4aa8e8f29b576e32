// CORS in a real browser: a page of another web app, served by
// TestBrowserCORS from another origin (see cors_test.go), writes rows
// through tablecast's REST API and sees them arrive on its socket; a page
// from an origin not in TABLECAST_ALLOWED_ORIGINS cannot read the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = process.env.TABLECAST_URL;
const API_KEY = process.env.TABLECAST_API_KEY;
const PAGE = process.env.TABLECAST_PAGE;
const BLOCKED = process.env.TABLECAST_PAGE_BLOCKED;
const TOKEN = process.env.TABLECAST_TOKEN;
const CHROMIUM = process.env.TABLECAST_CHROMIUM || '/usr/bin/chromium';
const WAIT = 10000;

if (!BASE || !PAGE || !BLOCKED || !TOKEN) throw new Error('run through TestBrowserCORS (go test ./test/browser -run TestBrowserCORS)');

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => { if (browser) await browser.close(); });

async function openPage(url) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${url}?api=${encodeURIComponent(BASE)}&token=${encodeURIComponent(TOKEN)}`);
  await page.locator('#state', { hasText: 'ready' }).waitFor({ timeout: WAIT });
  return page;
}

test('a page on an allowed origin writes rows and sees them on its socket', async () => {
  const page = await openPage(PAGE);
  assert.notEqual(new URL(PAGE).origin, new URL(BASE).origin, 'the page must be on another origin');
  const { field, row, ops } = await page.evaluate(() => window.writeAndListen());
  assert.equal(ops.length, 3);
  assert.deepEqual(ops[0].create.fields, { [field]: 'written from another origin' });
  assert.equal(ops[0].create.id, row);
  assert.deepEqual(ops[1].op, [{ p: ['fields', field], od: 'written from another origin', oi: 'edited from another origin' }]);
  assert.equal(ops[2].del, true);
  // The admin API too, with the API key.
  const stats = await page.evaluate((key) => window.call('GET', '/api/ws/stats', undefined, key), API_KEY);
  assert.equal(typeof stats.connections, 'number');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a page on an origin not listed cannot read the API', async () => {
  const page = await openPage(BLOCKED);
  const outcome = await page.evaluate(() => window.tryRead());
  assert.match(outcome, /^blocked/);
  await page.context().close();
});
