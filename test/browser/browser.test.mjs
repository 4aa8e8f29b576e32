// The web app in a real browser (Debian's chromium, driven by
// playwright-core), against a real server that TestBrowser starts (see
// harness_test.go for the environment). The tests run in order and share
// two pages, alice's and bob's, on one table; each saves a screenshot in
// TABLECAST_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.TABLECAST_URL;
const API_KEY = process.env.TABLECAST_API_KEY;
const CONTROL = process.env.TABLECAST_CONTROL;
const SHOTS = process.env.TABLECAST_SCREENSHOTS || 'screenshots';
const CHROMIUM = process.env.TABLECAST_CHROMIUM || '/usr/bin/chromium';
const WAIT = 10000; // the longest any state may take to show

if (!BASE || !CONTROL) throw new Error('run through TestBrowser (go test ./test/browser -run TestBrowser): TABLECAST_URL and TABLECAST_CONTROL are not set');
mkdirSync(SHOTS, { recursive: true });

let browser;
const open = []; // every context, closed at the end
const s = {}; // what the tests share: users, table, pages

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  for (const c of open) await c.close().catch(() => {});
  if (browser) await browser.close();
});

// ---- helpers ----

async function http(method, path, { token, body, base = BASE } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function control(path) {
  const res = await fetch(CONTROL + path, { method: 'POST' });
  if (!res.ok) throw new Error(`control ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

const devToken = async (user) => (await http('POST', '/api/dev/token', { body: { user_id: user } })).token;

/** A new browser context and page that records console errors and page errors. */
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 620 } });
  open.push(ctx);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  return page;
}

/** Opens a table through a deep link and waits for its rows. */
async function openTable(user, tableId) {
  const page = await newPage();
  const token = await devToken(user);
  await page.goto(`${BASE}/?token=${encodeURIComponent(token)}&table=${tableId}`);
  await page.locator('#table-view:not([hidden])').waitFor({ timeout: WAIT });
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: WAIT });
  page.token = token;
  return page;
}

const cell = (page, row, field) => page.locator(`#grid tbody tr[data-row="${row}"] td[data-field="${field}"]`);

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

function noErrors(page, allowed = []) {
  const bad = page.errors.filter((e) => !allowed.some((re) => re.test(e)));
  assert.deepEqual(bad, [], 'console errors');
}

// ---- the scenarios ----

test('sign in with a name, create a workspace and a table, invite bob', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.getByLabel('Your user name').fill('alice');
  await page.getByRole('button', { name: 'Enter' }).click();
  await page.locator('#picker:not([hidden])').waitFor({ timeout: WAIT });
  await page.getByLabel('New workspace').fill('Acme');
  await page.getByRole('button', { name: 'Create' }).first().click();
  await page.locator('#workspace-title', { hasText: 'Acme' }).waitFor({ timeout: WAIT });
  await page.getByLabel('Invite a user').fill('bob');
  await page.getByRole('button', { name: 'Invite' }).click();
  await page.locator('#members', { hasText: 'bob (editor)' }).waitFor({ timeout: WAIT });
  await page.getByLabel('New table').fill('Tasks');
  await page.locator('#new-table button').click();
  await page.locator('#table-name', { hasText: 'Tasks' }).waitFor({ timeout: WAIT });
  const url = new URL(page.url());
  s.table = Number(url.searchParams.get('table'));
  assert.ok(s.table > 0, `the address names the table: ${page.url()}`);
  await page.locator('#empty:not([hidden])').waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Add row' }).click();
  await page.locator('#grid tbody tr').first().waitFor({ timeout: WAIT });
  await shot(page, '01-new-table');
  noErrors(page);
  await page.context().close();

  // Three rows to work with, written as another program would.
  s.aliceToken = await devToken('alice');
  const fields = await http('GET', `/api/tables/${s.table}/fields`, { token: s.aliceToken });
  s.field = String(fields.results[0].id);
  const rows = await http('GET', `/api/tables/${s.table}/rows`, { token: s.aliceToken });
  s.rows = rows.results.map((r) => r.id);
  for (const name of ['Write the docs', 'Fix the build']) {
    const r = await http('POST', `/api/tables/${s.table}/rows`, { token: s.aliceToken, body: { fields: { [s.field]: name } } });
    s.rows.push(r.id);
  }
});

test('keyboard: arrows move, Enter edits and saves, Escape cancels', async () => {
  const page = await openTable('alice', s.table);
  s.alice = page;
  await cell(page, s.rows[0], s.field).click();
  await page.keyboard.press('ArrowDown');
  const second = cell(page, s.rows[1], s.field);
  await assert.doesNotReject(second.and(page.locator('[aria-selected="true"]')).waitFor({ timeout: WAIT }));
  assert.equal(await second.evaluate((e) => e === document.activeElement), true, 'focus follows the active cell');
  await page.keyboard.press('Enter');
  const editor = second.locator('input');
  await editor.waitFor({ timeout: WAIT });
  assert.match(await editor.getAttribute('aria-label'), /^Edit Name, row 2$/);
  await page.keyboard.type(' now');
  await page.keyboard.press('Escape');
  await editor.waitFor({ state: 'detached', timeout: WAIT });
  assert.equal(await second.textContent(), 'Write the docs', 'Escape keeps the old value');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  await cell(page, s.rows[0], s.field).locator('input').fill('First task');
  await page.keyboard.press('Enter');
  await cell(page, s.rows[0], s.field).locator('input').waitFor({ state: 'detached', timeout: WAIT });
  // Saved through REST (the cell is marked saving until the answer): the server has it.
  await page.locator('td.saving').waitFor({ state: 'detached', timeout: WAIT });
  const row = await http('GET', `/api/tables/${s.table}/rows/${s.rows[0]}`, { token: s.aliceToken });
  assert.equal(row.fields[s.field], 'First task');
  assert.equal(await cell(page, s.rows[0], s.field).textContent(), 'First task');
  // Enter saved and moved down: the active cell is row 2's.
  await second.and(page.locator('[aria-selected="true"]')).waitFor({ timeout: WAIT });
  await shot(page, '02-keyboard');
  noErrors(page);
});

test('the row helpers: order, cell text, json0 on rows', async () => {
  const page = s.alice;
  const got = await page.evaluate(async () => {
    const { compareDecimal, cellText, applyJSON0 } = await import('/static/rows.js');
    const orders = ['10.5', '2', '-1.25', '2.0001', '-1.3', '0.99999999999999999999'];
    const sorted = [...orders].sort(compareDecimal);
    const doc = { fields: { 1: 'ab', 2: ['x'], 3: 5 }, order: '1.0' };
    const ok = applyJSON0(doc, [
      { p: ['fields', '1', 1], si: 'Z' }, { p: ['fields', '2', 1], li: 'y' }, { p: ['fields', '3'], na: 2 },
      { p: ['fields', '4'], oi: true }, { p: ['order'], od: '1.0', oi: '3.0' },
    ]);
    const unknown = applyJSON0({ fields: { 1: 'a' } }, [{ p: ['fields', '1'], t: 'text0', o: [] }]);
    const sel = { type: 'multiple_select', options: { choices: [{ id: 7, value: 'red' }, { id: 8, value: 'blue' }] } };
    return { sorted, ok, doc, unknown, texts: [cellText(sel, [8, 7]), cellText({ type: 'boolean' }, true), cellText({ type: 'text' }, null)] };
  });
  assert.deepEqual(got.sorted, ['-1.3', '-1.25', '0.99999999999999999999', '2', '2.0001', '10.5']);
  assert.equal(got.ok, true);
  assert.deepEqual(got.doc, { fields: { 1: 'aZb', 2: ['x', 'y'], 3: 7, 4: true }, order: '3.0' });
  assert.equal(got.unknown, false, 'an op it cannot apply makes the page refetch the row');
  assert.deepEqual(got.texts, ['blue, red', '✓', '']);
});

test('keyboard: the row delete button is reachable with the arrows', async () => {
  const page = s.alice;
  await cell(page, s.rows[0], s.field).click();
  await page.keyboard.press('ArrowLeft');
  const del = page.getByRole('button', { name: `Delete row ${s.rows[0]}` });
  assert.equal(await del.evaluate((e) => e === document.activeElement), true);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getByRole('button', { name: `Delete row ${s.rows[1]}` }).evaluate((e) => e === document.activeElement), true);
  await page.keyboard.press('ArrowRight');
  await cell(page, s.rows[1], s.field).and(page.locator('[aria-selected="true"]')).waitFor({ timeout: WAIT });
  assert.equal(await cell(page, s.rows[1], s.field).evaluate((e) => e === document.activeElement), true);
  noErrors(page);
});

test('two users: an edit in one appears in the other', async () => {
  s.bob = await openTable('bob', s.table);
  const { alice, bob } = s;
  const target = cell(alice, s.rows[2], s.field);
  await target.dblclick();
  await target.locator('input').fill('Fix the build today');
  const patch = alice.waitForRequest((r) => r.method() === 'PATCH', { timeout: WAIT });
  await alice.keyboard.press('Enter');
  // The write names the page's socket, so the page is not sent its own op.
  assert.match((await patch).headers()['x-websocket-id'] || '', /^c_/);
  await cell(bob, s.rows[2], s.field).filter({ hasText: /^Fix the build today$/ }).waitFor({ timeout: WAIT });
  assert.equal(await cell(alice, s.rows[2], s.field).textContent(), 'Fix the build today');
  await shot(bob, '03-edit-seen-by-bob');
  noErrors(alice);
  noErrors(bob);
});

test("presence: each sees the other's active cell as a coloured outline", async () => {
  const { alice, bob } = s;
  await cell(alice, s.rows[1], s.field).click();
  const seenByBob = cell(bob, s.rows[1], s.field);
  await seenByBob.and(bob.locator('td.peer[data-peer-names="alice"]')).waitFor({ timeout: WAIT });
  const color = await seenByBob.evaluate((e) => getComputedStyle(e).getPropertyValue('--peer-color').trim());
  assert.match(color, /hsl/, 'the outline has the user colour');
  await bob.locator('#people li[data-user="alice"]').waitFor({ timeout: WAIT });
  await cell(bob, s.rows[0], s.field).click();
  await cell(alice, s.rows[0], s.field).and(alice.locator('td.peer[data-peer-names="bob"]')).waitFor({ timeout: WAIT });
  // Alice moves on: the outline follows her in bob's grid.
  await alice.keyboard.press('ArrowDown');
  await cell(bob, s.rows[2], s.field).and(bob.locator('td.peer')).waitFor({ timeout: WAIT });
  assert.equal(await bob.locator('td.peer').count(), 1, 'one outline per person');
  await shot(bob, '04-presence');
  noErrors(alice);
  noErrors(bob);
});

test('a row added in one appears in the other', async () => {
  const { alice, bob } = s;
  const before = await alice.locator('#grid tbody tr').count();
  await bob.getByRole('button', { name: 'Add row' }).click();
  await alice.locator('#grid tbody tr').nth(before).waitFor({ timeout: WAIT });
  assert.equal(await alice.locator('#grid tbody tr').count(), before + 1);
  const id = Number(await bob.locator('#grid tbody tr').last().getAttribute('data-row'));
  assert.equal(await alice.locator(`#grid tbody tr[data-row="${id}"]`).count(), 1);
  s.rows.push(id);
  // Bob types into it; alice sees the text.
  await bob.keyboard.type('Added by bob');
  await bob.keyboard.press('Enter');
  await cell(alice, id, s.field).filter({ hasText: /^Added by bob$/ }).waitFor({ timeout: WAIT });
  // And deletes the first row: gone for alice too.
  await bob.getByRole('button', { name: `Delete row ${s.rows[0]}` }).click();
  await alice.locator(`#grid tbody tr[data-row="${s.rows[0]}"]`).waitFor({ state: 'detached', timeout: WAIT });
  s.rows.shift();
  await shot(alice, '05-row-added');
  noErrors(alice);
  noErrors(bob);
});

test('a REST write made outside the browser appears in the grid', async () => {
  const { alice, bob } = s;
  await http('PATCH', `/api/tables/${s.table}/rows/${s.rows[0]}`, { token: s.aliceToken, body: { fields: { [s.field]: 'Written by a script' } } });
  const made = await http('POST', `/api/tables/${s.table}/rows`, { token: s.aliceToken, body: { fields: { [s.field]: 'Row from a script' } } });
  s.rows.push(made.id);
  for (const page of [alice, bob]) {
    await cell(page, s.rows[0], s.field).filter({ hasText: /^Written by a script$/ }).waitFor({ timeout: WAIT });
    await cell(page, made.id, s.field).filter({ hasText: /^Row from a script$/ }).waitFor({ timeout: WAIT });
  }
  await shot(alice, '06-rest-write');
  noErrors(alice);
  noErrors(bob);
});

test('the admin page shows the two connections', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/admin`);
  await page.getByLabel('API key (TABLECAST_API_KEY)').fill(API_KEY);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.locator('#s-connections', { hasText: /^2$/ }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#s-users').textContent(), '2');
  // Two subscribers of the table's records, first in the top channels.
  await page.locator('#channels tr', { hasText: `record_${s.table}` }).filter({ hasText: /2$/ }).waitFor({ timeout: WAIT });
  await page.locator('#nodes tr', { hasText: 'browser-node' }).waitFor({ timeout: WAIT });
  // Traffic: each write is an op to both pages, which the rate shows.
  for (let i = 0; i < 20; i++) {
    await http('PATCH', `/api/tables/${s.table}/rows/${s.rows[0]}`, { token: s.aliceToken, body: { fields: { [s.field]: `Count ${i}` } } });
  }
  await page.waitForFunction(() => parseFloat(document.getElementById('s-out-rate').textContent) > 0, null, { timeout: WAIT });
  await page.locator('#chart[data-samples="3"]').waitFor({ timeout: WAIT }); // a line to look at
  await page.screenshot({ path: join(SHOTS, '07-admin.png'), fullPage: true });
  noErrors(page);
  await page.context().close();
});

test('the admin page shows a paused webhook, skips it and discards its dead letter', async () => {
  // localhost resolves to a loopback address, refused at dial time: the
  // webhook pauses on its first event, without retries.
  const hook = await http('POST', `/api/tables/${s.table}/webhooks`, { token: s.aliceToken, body: { url: 'http://localhost:9/hook' } });
  await http('PATCH', `/api/tables/${s.table}/rows/${s.rows[0]}`, { token: s.aliceToken, body: { fields: { [s.field]: 'For the webhook' } } });
  const page = await newPage();
  await page.goto(`${BASE}/admin`);
  await page.getByLabel('API key (TABLECAST_API_KEY)').fill(API_KEY);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  const line = page.locator('#hooks tr', { hasText: 'localhost:9' });
  await line.filter({ hasText: 'address refused' }).waitFor({ timeout: WAIT });
  await line.getByRole('button', { name: 'Skip' }).click();
  await line.filter({ hasText: /active/ }).filter({ hasNotText: 'paused' }).waitFor({ timeout: WAIT });
  await line.getByRole('button', { name: 'Dead letters' }).click();
  const dead = page.locator('#dead-rows tr', { hasText: 'rows.updated' });
  await dead.filter({ hasText: `${s.table}:` }).waitFor({ timeout: WAIT });
  await page.screenshot({ path: join(SHOTS, '07b-admin-webhooks.png'), fullPage: true });
  await dead.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#dead-rows tr', { hasText: 'None' }).waitFor({ timeout: WAIT });
  await http('DELETE', `/api/webhooks/${hook.id}`, { token: s.aliceToken });
  noErrors(page);
  await page.context().close();
});

test('the server restarts: the page shows reconnecting, then recovered, with the edits made meanwhile', async () => {
  const { alice, bob } = s;
  await control('/stop');
  await alice.locator('#conn[data-state="reconnecting"]').waitFor({ timeout: WAIT });
  await bob.locator('#conn[data-state="reconnecting"]').waitFor({ timeout: WAIT });
  await shot(alice, '08-reconnecting');

  // Edits the pages cannot see: through a node on another port, while the
  // pages' own address is down.
  const side = await control('/start?side=1');
  await http('PATCH', `/api/tables/${s.table}/rows/${s.rows[1]}`, { token: s.aliceToken, base: side.url, body: { fields: { [s.field]: 'Edited while you were away' } } });
  const made = await http('POST', `/api/tables/${s.table}/rows`, { token: s.aliceToken, base: side.url, body: { fields: { [s.field]: 'Added while you were away' } } });
  await control('/stop?side=1');
  await control('/start');

  for (const page of [alice, bob]) {
    await page.locator('#conn[data-state="recovered"]').waitFor({ timeout: 15000 });
    assert.equal(await page.locator('#conn-text').textContent(), 'Recovered: 2 missed changes applied');
    await cell(page, s.rows[1], s.field).filter({ hasText: /^Edited while you were away$/ }).waitFor({ timeout: WAIT });
    await cell(page, made.id, s.field).filter({ hasText: /^Added while you were away$/ }).waitFor({ timeout: WAIT });
  }
  // Still live after the restart, and presence is back.
  await cell(bob, s.rows[0], s.field).click();
  await alice.locator('td.peer[data-peer-names="bob"]').waitFor({ timeout: WAIT });
  await http('PATCH', `/api/tables/${s.table}/rows/${s.rows[0]}`, { token: s.aliceToken, body: { fields: { [s.field]: 'After the restart' } } });
  await cell(alice, s.rows[0], s.field).filter({ hasText: /^After the restart$/ }).waitFor({ timeout: WAIT });
  await shot(alice, '09-recovered');
  // The browser reports the refused reconnection attempts while the server
  // was down; nothing else.
  const expected = [/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/];
  noErrors(alice, expected);
  noErrors(bob, expected);
});
