// options.js: the client's defaults, names and addresses, and the backoff
// between reconnects (part of tablecast.js, which re-exports backoffDelay).

import { TablecastError } from './errors.js';

const NAME_RE = /^[A-Za-z0-9_:-]{1,128}$/;
export const SESSION_RE = /^[A-Za-z0-9_-]{1,64}$/;

export const DEFAULTS = {
  tokenMode: 'connect',
  reconnect: true,
  reconnectMin: 100,
  reconnectMax: 10000,
  connectTimeout: 10000,
  requestTimeout: 15000,
  pingInterval: 25000,
  watchVisibility: true,
  refreshAhead: 30000,
};

/** The least time between two token renewals, in ms. */
export const MIN_REFRESH_DELAY = 100;

export function randomId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '').slice(0, 20);
  let s = '';
  for (let i = 0; i < 20; i++) s += Math.floor(Math.random() * 36).toString(36);
  return s;
}

/** Full-jitter backoff: uniform in [0, min(max, min*2^(attempt-1))]. */
export function backoffDelay(attempt, min, max) {
  let ceil = min;
  for (let i = 1; i < attempt && ceil < max; i++) ceil *= 2;
  ceil = Math.min(ceil, max);
  return Math.floor(Math.random() * (ceil + 1));
}

export function socketURL(raw, token, tokenMode, sessionId) {
  let base = raw;
  if (!base) {
    if (typeof location === 'undefined') throw new TablecastError('invalid_argument', 'tablecast: options.url is required outside a browser');
    base = '/api/ws/socket';
  }
  const u = new URL(base, typeof location === 'undefined' ? undefined : location.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TablecastError('invalid_argument', `tablecast: bad url ${raw}: the scheme must be ws, wss, http or https`);
  }
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/api/ws/socket';
  if (tokenMode === 'query' && token) u.searchParams.set('token', token);
  if (tokenMode === 'query' && sessionId) u.searchParams.set('session_id', sessionId);
  return u.toString();
}

export function checkName(what, v, optional) {
  if (optional && (v === undefined || v === null || v === '')) return;
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    throw new TablecastError('invalid_argument', `tablecast: ${what} must be 1-128 of [A-Za-z0-9_:-], got ${JSON.stringify(v)}`);
  }
}

export function channelKey(collection, document) {
  return document ? `${collection}\u0000${document}` : collection;
}
