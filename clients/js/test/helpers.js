// Helpers for the client's tests: they run against a real tablecast server
// whose addresses the Go harness (test/browser) puts in the environment.

import { createHmac } from 'node:crypto';

export const BASE = process.env.TABLECAST_URL || '';
export const API_KEY = process.env.TABLECAST_API_KEY || '';
export const CONTROL = process.env.TABLECAST_CONTROL || '';
export const WS_URL = BASE.replace(/^http/, 'ws') + '/api/ws/socket';

/** The server's HS256 secret, to mint tokens with short lifetimes. */
export const JWT_SECRET = process.env.TABLECAST_TEST_JWT_SECRET || '';

/** An HS256 token for sub that expires ttl seconds from now (exp in whole seconds). */
export function mintToken(sub, ttl) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ sub, iat: now, exp: now + ttl, channels: ['*'] });
  return input + '.' + createHmac('sha256', JWT_SECRET).update(input).digest('base64url');
}

/** Why the tests cannot run, or '' when they can. */
export const skipReason = BASE
  ? ''
  : 'TABLECAST_URL is not set: run `go test ./test/browser -run TestJSClient` (or `npm test` here), which starts a server';

export async function http(method, path, { token, body, socket, base = BASE } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (socket) headers['X-WebSocket-Id'] = socket;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return data;
}

let users = 0;
/** A dev token for a new user (unique per test run). */
export async function newUser(prefix = 'u') {
  const id = `${prefix}${process.pid}x${++users}`;
  const { token } = await http('POST', '/api/dev/token', { body: { user_id: id, name: `Name of ${id}` } });
  return { id, token };
}

/** A workspace with one table (primary field "Name") for user, and bob as editor if given. */
export async function newTable(user, ...editors) {
  const ws = await http('POST', '/api/workspaces', { token: user.token, body: { name: 'WS' } });
  for (const e of editors) {
    await http('POST', `/api/workspaces/${ws.id}/members`, { token: user.token, body: { user_id: e.id, role: 'editor' } });
  }
  const table = await http('POST', `/api/workspaces/${ws.id}/tables`, { token: user.token, body: { name: 'Things' } });
  return { ws, table, field: String(table.fields[0].id) };
}

export function admin(method, path, body) {
  return fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r) => r.json());
}

/** Stops or starts the server through the harness (stop, start, start?side=1). */
export async function control(path) {
  const res = await fetch(CONTROL + path, { method: 'POST' });
  if (!res.ok) throw new Error(`control ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * Resolves with the first event of type for which pred holds; rejects after
 * ms with what was waited for.
 */
export function nextEvent(client, type, pred = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${type} event within ${ms} ms`)); }, ms);
    const off = client.on(type, (ev) => {
      if (!pred(ev)) return;
      clearTimeout(timer);
      off();
      resolve(ev);
    });
  });
}

/** Collects events of type into an array until stop() is called. */
export function collect(client, type) {
  const got = [];
  const off = client.on(type, (ev) => got.push(ev));
  got.stop = off;
  return got;
}
