'use strict';
// Helpers of the acceptance suite: the REST API, ShareDB connections (the
// unmodified client, at the version SHAREDB_PKG names), native and Baserow
// sockets, and waits on events (never on time).

const assert = require('node:assert/strict');
const WebSocket = require('ws');

const PKG = process.env.SHAREDB_PKG || 'sharedb';
const ShareDB = require(`${PKG}/lib/client`);
const VERSION = require(`${PKG}/package.json`).version;

const BASE = process.env.TABLECAST_HTTP;
if (!BASE) throw new Error('TABLECAST_HTTP is not set: run this suite through `go test ./test/sharedb/`');
const WS_BASE = BASE.replace(/^http/, 'ws');
const TOKENS = JSON.parse(process.env.TABLECAST_TOKENS || '{}');
const WAIT = 5000; // ms for anything that should happen at once

// ShareDB's client warns through its logger; the suite counts and shows them.
const warnings = [];
ShareDB.logger.setMethods({
  warn: (...args) => warnings.push(args.map(String).join(' ')),
  info: () => {},
  error: (...args) => warnings.push('error: ' + args.map(String).join(' ')),
});

// ------------------------------------------------------------------ REST

async function rest(user, method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${TOKENS[user]}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    const err = new Error(`${method} ${path}: ${res.status} ${text}`);
    err.status = res.status;
    throw err;
  }
  return text ? JSON.parse(text) : null;
}

let tableSeq = 0;

// A workspace of alice's with bob (editor) and carol (viewer), and a table
// with a text field "Name" (primary), a text field "Notes" and a number
// field "Score".
async function setupTable() {
  const ws = await rest('alice', 'POST', '/api/workspaces', { name: `sharedb ${++tableSeq}` });
  await rest('alice', 'POST', `/api/workspaces/${ws.id}/members`, { user_id: 'bob', role: 'editor' });
  await rest('alice', 'POST', `/api/workspaces/${ws.id}/members`, { user_id: 'carol', role: 'viewer' });
  const t = await rest('alice', 'POST', `/api/workspaces/${ws.id}/tables`, {
    name: 'people',
    fields: [{ name: 'Name', type: 'text' }, { name: 'Notes', type: 'text' }, { name: 'Score', type: 'number' }],
  });
  const f = {};
  for (const field of t.fields) f[field.name.toLowerCase()] = String(field.id);
  return { ws: ws.id, table: t.id, f, col: `record_${t.id}`, rec: `rec_${t.id}` };
}

async function createRow(t, fields, user = 'alice') {
  return rest(user, 'POST', `/api/tables/${t.table}/rows`, { fields });
}

// freeID returns a row id no row has (ids are global and their sequence
// moves past an id a client creates), for a create with the client's id.
async function freeID(t) {
  const r = await createRow(t, {});
  await rest('alice', 'DELETE', `/api/tables/${t.table}/rows/${r.id}`);
  return String(r.id + 1000);
}

async function getRow(t, id) {
  return rest('alice', 'GET', `/api/tables/${t.table}/rows/${id}`);
}

// A row as its document: {id, order, fields}.
function rowDoc(row) {
  return { id: row.id, order: row.order, fields: row.fields };
}

// ----------------------------------------------------------- connections

// Everything a test opens is closed when it ends.
function scope(t) {
  const closers = [];
  t.after(() => {
    for (const c of closers.reverse()) {
      try { c(); } catch (_) { /* already closed */ }
    }
  });
  return { add: (fn) => closers.push(fn) };
}

// connect opens a ShareDB connection as user and resolves once it is
// connected (handshake done).
function connect(sc, user, socket) {
  const ws = socket || new WebSocket(`${WS_BASE}/sharedb?token=${TOKENS[user]}`);
  const conn = new ShareDB.Connection(ws);
  sc.add(() => conn.close());
  conn.on('error', (e) => { conn.lastError = e; });
  conn.received = [];
  // Errors the server sent (ShareDB's client deletes them from the message).
  conn.on('receive', (req) => { if (req.data && req.data.error) conn.received.push({ ...req.data }); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${user}: not connected after ${WAIT} ms (state ${conn.state})`)), WAIT);
    conn.once('connected', () => { clearTimeout(timer); resolve(conn); });
  });
}

// call runs a callback-style method and resolves with its results; it
// fails after WAIT ms without a callback.
function call(obj, method, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${method}: no callback after ${WAIT} ms`)), WAIT);
    obj[method](...args, (err, ...res) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res);
    });
  });
}

// callErr runs a callback-style method that should fail and resolves with
// its error.
function callErr(obj, method, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${method}: no callback after ${WAIT} ms`)), WAIT);
    obj[method](...args, (err) => {
      clearTimeout(timer);
      if (err) resolve(err);
      else reject(new Error(`${method} did not fail`));
    });
  });
}

// until resolves when check() holds, testing it after each of the events;
// it fails after WAIT ms.
function until(emitter, events, check, what) {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const onEvent = () => {
      if (check()) {
        done();
        resolve();
      }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}`)); }, WAIT);
    const done = () => {
      clearTimeout(timer);
      for (const e of events) emitter.removeListener(e, onEvent);
    };
    for (const e of events) emitter.on(e, onEvent);
  });
}

// once resolves with the arguments of the next event (of several names).
function once(emitter, event, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.removeListener(event, on); reject(new Error(`timed out waiting for ${what || event}`)); }, WAIT);
    const on = (...args) => { clearTimeout(timer); resolve(args); };
    emitter.once(event, on);
  });
}

// atVersion waits until doc reaches version v.
function atVersion(doc, v) {
  return until(doc, ['op', 'load', 'create', 'del', 'no write pending'], () => doc.version >= v,
    `${doc.collection}/${doc.id} at version ${v} (at ${doc.version})`);
}

// nothingPending waits until the connection has nothing in flight.
function nothingPending(conn) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for nothing pending')), WAIT);
    conn.whenNothingPending(() => { clearTimeout(timer); resolve(); });
  });
}

// converged checks that every doc equals the stored row, at its version.
async function converged(t, id, ...docs) {
  const row = await getRow(t, id);
  for (const d of docs) await atVersion(d, row.version);
  for (const d of docs) {
    assert.equal(d.version, row.version, `${d.collection}/${d.id} version`);
    assert.deepEqual(d.data, rowDoc(row), `${d.collection}/${d.id} data`);
  }
  return row;
}

// ------------------------------------------------- native and Baserow sockets

// jsonSocket opens a WebSocket of JSON messages with a queue to wait on.
function jsonSocket(sc, url) {
  const ws = new WebSocket(url);
  sc.add(() => ws.terminate());
  const queue = [];
  const waiters = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    queue.push(m);
    for (const w of waiters.slice()) w();
  });
  const api = {
    ws,
    send: (m) => ws.send(JSON.stringify(m)),
    // next resolves with the first queued message that match() accepts
    // (removing it), waiting for it.
    next(match, what) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const i = queue.findIndex(match);
          if (i < 0) return false;
          const [m] = queue.splice(i, 1);
          done();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(queue)}`)); }, WAIT);
        const done = () => { clearTimeout(timer); const k = waiters.indexOf(look); if (k >= 0) waiters.splice(k, 1); };
        if (!look()) waiters.push(look);
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(api));
    ws.once('error', reject);
  });
}

async function nativeSocket(sc, user) {
  const s = await jsonSocket(sc, `${WS_BASE}/api/ws/socket?token=${TOKENS[user]}`);
  await s.next((m) => m.type === 'connected', 'native connected');
  return s;
}

async function baserowSocket(sc, user) {
  const s = await jsonSocket(sc, `${WS_BASE}/ws/core/?jwt_token=${TOKENS[user]}`);
  const auth = await s.next((m) => m.type === 'authentication', 'baserow authentication');
  assert.equal(auth.success, true);
  return s;
}

module.exports = {
  ShareDB, VERSION, PKG, BASE, WS_BASE, TOKENS, WAIT, warnings,
  rest, setupTable, createRow, freeID, getRow, rowDoc,
  scope, connect, call, callErr, until, once, atVersion, nothingPending, converged,
  nativeSocket, baserowSocket, jsonSocket,
};
