// tablecast.js: the JavaScript client of tablecast's native protocol
// (docs/protocol.md). An ES module with no dependencies (its parts are in
// tablecast/): it runs in browsers and in Node (22+, or 20 with
// --experimental-websocket, or any WebSocket class passed as
// options.WebSocket).
//
// What it keeps for you across reconnects:
//   - subscriptions, each resumed from its collection's last offset and epoch
//     (data.since), with duplicates dropped by offset;
//   - submits not yet acknowledged, resent in order with the same src, seq
//     and v (the server acknowledges a resent change as a duplicate);
//   - your presence in each channel, announced again.
// And, given getToken, it renews the token ahead of its exp on the open
// connection (a refresh message) and asks for a fresh one on every
// reconnect.

import { CloseCode, TablecastError, serverError, retryable } from './tablecast/errors.js';
import {
  SESSION_RE, DEFAULTS, randomId, backoffDelay, socketURL, checkName, channelKey,
} from './tablecast/options.js';
import { TokenRenewal } from './tablecast/token.js';
import { Heartbeat } from './tablecast/heartbeat.js';

export { CloseCode, TablecastError, backoffDelay };

/** Connection states, in the order a client usually goes through them. */
export const State = Object.freeze({
  Idle: 'idle',
  Connecting: 'connecting',
  Connected: 'connected',
  Reconnecting: 'reconnecting',
  Closed: 'closed',
});

/**
 * A connection to a tablecast server. See index.d.ts for the full contract.
 */
export class TablecastClient {
  constructor(options = {}) {
    this._opts = { ...DEFAULTS, ...options };
    const o = this._opts;
    if (o.tokenMode !== 'connect' && o.tokenMode !== 'query') {
      throw new TablecastError('invalid_argument', `tablecast: tokenMode must be "connect" or "query", got ${JSON.stringify(o.tokenMode)}`);
    }
    if (o.sessionId !== undefined && !SESSION_RE.test(o.sessionId)) {
      throw new TablecastError('invalid_argument', 'tablecast: sessionId must be 1-64 of [A-Za-z0-9_-]');
    }
    this._WS = o.WebSocket || globalThis.WebSocket;
    if (typeof this._WS !== 'function') {
      throw new TablecastError('invalid_argument', 'tablecast: no WebSocket class: pass options.WebSocket (Node 20 needs --experimental-websocket)');
    }
    socketURL(o.url, '', o.tokenMode, ''); // validate now, not at the first attempt
    o.reconnectMin = Math.max(1, o.reconnectMin);
    o.reconnectMax = Math.max(o.reconnectMin, o.reconnectMax);

    this._state = State.Idle;
    this._listeners = new Map();
    this._conn = null; // the current socket's record, or null
    this._info = null; // the last connected data
    this._nextId = 0;
    this._pending = new Map(); // request id -> {resolve, reject, hook, timer, submit?}
    this._subs = new Map(); // channelKey -> {collection, document}
    this._streams = new Map(); // collection -> {offset, epoch, refs}
    this._presence = new Map(); // channelKey -> {collection, document, state}
    this._submits = []; // unacknowledged submits, in the order they were made
    this._src = o.src || randomId();
    this._seq = 0;
    this._attempt = 0;
    this._retryTimer = null;
    this._subRetries = new Set(); // {timer, resolve?} of subscriptions refused for now (503)
    this._heartbeat = new Heartbeat(this);
    this._renewal = new TokenRenewal(this);
    this._waiters = []; // calls waiting for a connection: {resolve, reject}
    this._everConnected = false;
    this._closeError = null;
    this._onVisible = this._onVisible.bind(this);
  }

  // ---- state ----

  /** The connection state: idle, connecting, connected, reconnecting, closed. */
  get state() { return this._state; }
  /** The current connection's id (for X-WebSocket-Id), or null between connections. */
  get connectionId() { return this._conn && this._conn.ready && this._info ? this._info.connection_id : null; }
  /** The connected data of the current (or last) connection. */
  get info() { return this._info; }
  /** The src sent with every submit of this client. */
  get src() { return this._src; }
  /** How many submits wait for their acknowledgement. */
  get pendingSubmits() { return this._submits.length; }

  /** The resume position of a subscribed collection, or undefined. */
  position(collection) {
    const s = this._streams.get(collection);
    return s ? { offset: s.offset, epoch: s.epoch } : undefined;
  }

  _setState(next) {
    const previous = this._state;
    if (previous === next) return;
    this._state = next;
    this._emit('state', { state: next, previous });
  }

  // ---- events ----

  /** Adds a listener; returns a function that removes it. */
  on(type, fn) {
    let set = this._listeners.get(type);
    if (!set) this._listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const set = this._listeners.get(type);
    if (set) set.delete(fn);
  }

  _emit(type, ev) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(ev);
      } catch (err) {
        // A listener's bug must not break the client's bookkeeping; report
        // it where uncaught errors go.
        setTimeout(() => { throw err; });
      }
    }
  }

  // ---- connecting ----

  /**
   * Connects. Resolves with the connected data once a connection is up;
   * while the server cannot be reached it keeps trying (with reconnect on).
   * Rejects with auth_failed when the server refuses the token, or closed
   * when close() is called first.
   */
  connect() {
    if (this._state === State.Closed) {
      return Promise.reject(this._closeError || new TablecastError('closed', 'tablecast: client closed'));
    }
    if (this._state === State.Connected) return Promise.resolve(this._info);
    const p = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (this._state === State.Idle) {
      this._watch(true);
      this._setState(State.Connecting);
      this._open();
    }
    return p;
  }

  /** The function that gives a fresh token (getToken, or token as a function), or null. */
  _tokenFn() {
    const o = this._opts;
    if (typeof o.getToken === 'function') return o.getToken;
    return typeof o.token === 'function' ? o.token : null;
  }

  async _token() {
    const fn = this._tokenFn();
    if (fn) return (await fn()) || '';
    return this._opts.token || '';
  }

  async _open() {
    const gen = {}; // identifies this attempt
    this._attemptGen = gen;
    let token;
    try {
      token = await this._token();
    } catch (err) {
      if (this._attemptGen !== gen || this._state === State.Closed) return;
      this._lost(null, { code: 0, reason: 'token: ' + (err && err.message), reconnect: true, error: err });
      return;
    }
    if (this._attemptGen !== gen || this._state === State.Closed) return;
    const o = this._opts;
    let ws;
    try {
      ws = new this._WS(socketURL(o.url, token, o.tokenMode, o.sessionId));
    } catch (err) {
      this._lost(null, { code: 0, reason: String(err && err.message), reconnect: true, error: err });
      return;
    }
    const conn = { ws, ready: false, since: Date.now(), pingPending: false, goodbye: null, refused: null, timer: null };
    this._conn = conn;
    conn.timer = setTimeout(() => {
      this._drop(conn, { code: 0, reason: 'connect timeout', reconnect: true });
    }, o.connectTimeout);
    ws.onopen = () => {
      if (this._conn !== conn) return;
      if (o.tokenMode === 'connect' && token) {
        const data = { token };
        if (o.sessionId) data.session_id = o.sessionId;
        this._write(conn, { type: 'connect', data });
      }
    };
    ws.onmessage = (ev) => this._frame(conn, ev.data);
    // Browsers follow an error with a close event; some WebSocket classes
    // (Node 20's) do not, so an error ends the connection too, unless the
    // close event comes first.
    ws.onerror = () => setTimeout(() => this._closed(conn, 1006, 'connection failed'), 0);
    ws.onclose = (ev) => this._closed(conn, ev.code, ev.reason);
  }

  _closed(conn, code, reason) {
    if (this._conn !== conn) return;
    const g = conn.goodbye;
    const info = {
      code: g ? g.code : code,
      reason: g ? g.reason : reason || '',
      reconnect: g ? g.reconnect : code !== 1000 && code !== CloseCode.Kicked,
    };
    if (conn.refused) {
      info.error = conn.refused;
      info.reconnect = this._tokenFn() !== null; // a fixed token will not get better
    }
    const ws = conn.ws;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this._lost(conn, info);
  }

  _write(conn, msg) {
    try {
      conn.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false; // closing: the close event follows
    }
  }

  /** Tears a connection down from this side and handles it as lost. */
  _drop(conn, info) {
    if (this._conn !== conn) return;
    const ws = conn.ws;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(1000); } catch { /* already closed */ }
    this._lost(conn, info);
  }

  /** A connection ended (or an attempt failed): clean up, then retry or stop. */
  _lost(conn, info) {
    if (conn) {
      clearTimeout(conn.timer);
      if (this._conn === conn) this._conn = null;
    }
    this._heartbeat.stop();
    this._renewal.stop();
    const wasReady = conn && conn.ready;
    const lost = new TablecastError('connection_lost', `tablecast: connection lost${info.code ? ` (${info.code}${info.reason ? ' ' + info.reason : ''})` : ''}`, { closeCode: info.code || undefined, reason: info.reason || undefined });
    for (const [id, p] of this._pending) {
      this._pending.delete(id);
      clearTimeout(p.timer);
      if (!p.submit) p.reject(lost); // a submit stays queued and is resent
    }
    if (this._state === State.Closed) return;
    if (wasReady) {
      this._emit('disconnected', { code: info.code, reason: info.reason, reconnect: info.reconnect, error: info.error });
    }
    if (!this._opts.reconnect || !info.reconnect) {
      const err = info.error instanceof TablecastError ? info.error
        : new TablecastError('closed', `tablecast: connection closed${info.code ? ` (${info.code}${info.reason ? ' ' + info.reason : ''})` : ''}`, { closeCode: info.code || undefined, reason: info.reason || undefined });
      this._finish(err);
      return;
    }
    if (wasReady && Date.now() - conn.since >= this._opts.reconnectMax) this._attempt = 0;
    this._attempt++;
    let delay = backoffDelay(this._attempt, this._opts.reconnectMin, this._opts.reconnectMax);
    if (info.code === CloseCode.RateLimited) {
      const half = Math.floor(this._opts.reconnectMax / 2);
      delay = half + Math.floor(Math.random() * (this._opts.reconnectMax - half + 1));
    }
    this._setState(this._everConnected ? State.Reconnecting : State.Connecting);
    this._emit('reconnecting', { attempt: this._attempt, delay, code: info.code, reason: info.reason });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._open();
    }, delay);
  }

  _frame(conn, raw) {
    if (this._conn !== conn) return;
    if (typeof raw !== 'string') return; // the protocol has no binary frames
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      return;
    }
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
    if (!conn.ready) {
      this._handshake(conn, m);
      return;
    }
    this._dispatch(conn, m);
  }

  _handshake(conn, m) {
    switch (m.type) {
      case 'connected':
        clearTimeout(conn.timer);
        conn.ready = true;
        conn.since = Date.now();
        this._ready(conn, m.data || {});
        return;
      case 'error': {
        const e = m.error || {};
        if (e.code === 401) conn.refused = new TablecastError('auth_failed', `tablecast: token refused: ${e.message || 'unauthorized'}`, { status: 401 });
        return; // the server closes (4001)
      }
      case 'disconnect':
        conn.goodbye = m.data || null;
        return;
    }
  }

  _ready(conn, info) {
    const reconnected = this._everConnected;
    this._everConnected = true;
    this._attempt = 0;
    this._info = info;
    this._setState(State.Connected);
    this._emit('connected', { info, reconnected });
    this._restore(conn);
    this._heartbeat.start();
    this._renewal.note(info.expires_in);
    const waiters = this._waiters;
    this._waiters = [];
    for (const w of waiters) w.resolve(info);
  }

  /** Resubscribes from each collection's position, then presence, then submits. */
  _restore(conn) {
    const subs = [...this._subs.values()].sort((a, b) =>
      a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : (a.document || '') < (b.document || '') ? -1 : 1);
    for (const sub of subs) this._resubscribe(conn, sub, 1);
    for (const p of this._presence.values()) {
      const msg = { type: 'presence', collection: p.collection, data: p.state };
      if (p.document) msg.document = p.document;
      this._send(conn, msg, {
        resolve: () => {},
        reject: (err) => this._emit('server_error', { error: err, collection: p.collection, document: p.document }),
      });
    }
    for (const s of this._submits) this._sendSubmit(conn, s);
  }

  /** Restores one subscription from its collection's position. */
  _resubscribe(conn, sub, attempt) {
    const s = this._streams.get(sub.collection);
    const data = s && s.epoch !== undefined ? { since: { offset: s.offset, epoch: s.epoch } } : undefined;
    const msg = { type: 'subscribe', collection: sub.collection, data };
    if (sub.document) msg.document = sub.document;
    this._send(conn, msg, {
      hook: (reply, err) => this._resubscribed(conn, sub, attempt, reply, err),
      resolve: () => {},
      reject: () => {},
    });
  }

  _resubscribed(conn, sub, attempt, reply, err) {
    if (err && err.code === 'connection_lost') return; // the next connection tries again
    const key = channelKey(sub.collection, sub.document);
    if (this._subs.get(key) !== sub) return; // unsubscribed meanwhile
    const ev = { collection: sub.collection, document: sub.document || undefined };
    if (retryable(err)) {
      // Refused for now: again after the backoff, on this connection (a
      // reconnect meanwhile restores it anyway).
      const delay = Math.max(err.retryAfter || 0, backoffDelay(attempt, this._opts.reconnectMin, this._opts.reconnectMax));
      const entry = { timer: setTimeout(() => {
        this._subRetries.delete(entry);
        if (this._conn !== conn || this._subs.get(key) !== sub) return;
        this._resubscribe(conn, sub, attempt + 1);
      }, delay) };
      this._subRetries.add(entry);
      return;
    }
    if (err) {
      this._forget(key);
      ev.error = err;
      this._emit('resubscribe_failed', ev);
      return;
    }
    const res = reply.data || {};
    this._advanceTo(sub.collection, res);
    ev.result = res;
    this._emit(res.recovered ? 'recovered' : 'not_recovered', ev);
  }

  _onVisible() {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    if (this._retryTimer) {
      // Back in view (or back online): try now instead of after the backoff.
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      this._open();
    } else if (this._state === State.Connected && this._conn && !this._conn.pingPending) {
      this._heartbeat.ping(this._conn, 5000); // a sleeping laptop's socket may be dead
    }
  }

  _watch(on) {
    if (!this._opts.watchVisibility) return;
    const f = on ? 'addEventListener' : 'removeEventListener';
    if (typeof document !== 'undefined' && document[f]) document[f]('visibilitychange', this._onVisible);
    if (typeof window !== 'undefined' && window[f]) window[f]('online', this._onVisible);
  }

  // ---- token renewal (tablecast/token.js) ----

  /** Whether conn is still this client's open, connected socket. */
  _isCurrent(conn) {
    return this._conn === conn && this._state === State.Connected;
  }

  /**
   * Renews the open connection's token (same user). Resolves with the new
   * token's seconds to exp (undefined when it has none); a refused token
   * rejects with server_error status 401, and the old exp still applies.
   */
  async refresh(token) {
    if (typeof token !== 'string' || token === '') {
      throw new TablecastError('invalid_argument', 'tablecast: refresh needs a token');
    }
    const conn = await this._connected();
    const reply = await this._request({ type: 'refresh', data: { token } });
    const expiresIn = reply && reply.data ? reply.data.expires_in : undefined;
    if (this._conn === conn) this._renewal.note(expiresIn);
    return expiresIn;
  }

  // ---- ping (tablecast/heartbeat.js) ----

  /** Sends a ping and resolves with the round-trip time in milliseconds. */
  async ping() {
    const start = Date.now();
    await this._request({ type: 'ping', timestamp: start });
    return Date.now() - start;
  }

  // ---- requests ----

  _send(conn, msg, p) {
    const id = String(++this._nextId);
    msg.id = id;
    this._pending.set(id, p);
    if (!this._write(conn, msg)) {
      this._pending.delete(id);
      return null;
    }
    return id;
  }

  /** Waits until connected: at once when connected, else for the next connection. */
  _connected() {
    if (this._state === State.Connected && this._conn && this._conn.ready) return Promise.resolve(this._conn);
    if (this._state === State.Closed || this._state === State.Idle) {
      return Promise.reject(this._state === State.Closed && this._closeError ? this._closeError
        : new TablecastError('not_connected', `tablecast: not connected (${this._state}): call connect() first`));
    }
    return new Promise((resolve, reject) => this._waiters.push({ resolve: () => resolve(this._conn), reject }));
  }

  /**
   * Sends msg (a fresh id replaces any) and resolves with the reply. Waits
   * for the connection while reconnecting. hook runs when the reply is
   * dispatched, before any later message.
   */
  async _request(msg, hook) {
    const conn = await this._connected();
    return new Promise((resolve, reject) => {
      const p = { resolve, reject, hook, timer: null };
      const timeout = this._opts.requestTimeout;
      const id = this._send(conn, msg, p);
      if (id === null) {
        reject(new TablecastError('connection_lost', 'tablecast: connection lost'));
        return;
      }
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          // The request stays known so that a late reply is not taken for a message.
          p.resolve = p.reject = () => {};
          reject(new TablecastError('timeout', `tablecast: no reply to ${msg.type} within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  _dispatch(conn, m) {
    if (m.id && this._pending.has(m.id)) {
      const p = this._pending.get(m.id);
      this._pending.delete(m.id);
      clearTimeout(p.timer);
      let err = null;
      if (m.type === 'error') {
        const e = m.error || {};
        err = serverError(e);
      }
      if (p.hook) p.hook(m, err);
      if (err) p.reject(err);
      else p.resolve(m);
      return;
    }
    switch (m.type) {
      case 'op':
      case 'message':
        if (!this._advance(m)) return; // a duplicate
        this._emit(m.type, m);
        return;
      case 'presence':
        this._emit('presence', {
          collection: m.collection,
          document: m.document,
          ...(m.data || {}),
        });
        return;
      case 'unsubscribe': {
        const key = channelKey(m.collection, m.document);
        const sub = this._subs.get(key);
        if (sub && m.data && m.data.reconnect) {
          // It could not be kept for now: again from the position held.
          this._resubscribe(conn, sub, 1);
          return;
        }
        this._forget(key);
        this._emit('unsubscribed', { collection: m.collection, document: m.document, reason: (m.data && m.data.reason) || 'unknown' });
        return;
      }
      case 'disconnect':
        conn.goodbye = m.data || null;
        return;
      case 'error': {
        const e = m.error || {};
        this._emit('server_error', { error: serverError(e) });
        return;
      }
      default:
        return; // late replies, pongs of abandoned pings
    }
  }

  /** Records an op's or message's offset; false for a duplicate. */
  _advance(m) {
    if (typeof m.offset !== 'number') return true;
    const s = this._streams.get(m.collection);
    if (!s) return true;
    if (m.offset <= s.offset) return false;
    s.offset = m.offset;
    return true;
  }

  _advanceTo(collection, res) {
    const s = this._streams.get(collection);
    if (!s) return;
    if (s.epoch !== res.epoch) {
      s.epoch = res.epoch;
      s.offset = res.offset;
    } else if (res.offset > s.offset) {
      s.offset = res.offset;
    }
  }

  _forget(key) {
    const sub = this._subs.get(key);
    if (!sub) return;
    this._subs.delete(key);
    const s = this._streams.get(sub.collection);
    if (s && --s.refs <= 0) this._streams.delete(sub.collection);
  }

  // ---- the protocol's requests ----

  /**
   * Subscribes to a collection, or to one of its documents. The client
   * remembers it and restores it after every reconnect from the last offset
   * it saw. options.since asks the server to replay what came after it.
   */
  async subscribe(collection, document, options = {}) {
    checkName('collection', collection);
    checkName('document', document, true);
    const msg = { type: 'subscribe', collection };
    if (document) msg.document = document;
    if (options.since) msg.data = { since: { offset: options.since.offset, epoch: options.since.epoch } };
    const key = channelKey(collection, document);
    let reply;
    for (let attempt = 1; ; attempt++) {
      try {
        reply = await this._request(msg, (r, err) => {
          if (err) return;
          if (!this._subs.has(key)) {
            this._subs.set(key, { collection, document: document || '' });
            let s = this._streams.get(collection);
            if (!s) this._streams.set(collection, (s = { offset: 0, epoch: undefined, refs: 0 }));
            s.refs++;
          }
          this._advanceTo(collection, r.data || {});
        });
        break;
      } catch (err) {
        // Refused for now (503): again after the backoff, at least retry_after.
        if (!retryable(err) || this._state === State.Closed) throw err;
        const delay = Math.max(err.retryAfter || 0, backoffDelay(attempt, this._opts.reconnectMin, this._opts.reconnectMax));
        await new Promise((resolve) => {
          const entry = { resolve, timer: setTimeout(() => { this._subRetries.delete(entry); resolve(); }, delay) };
          this._subRetries.add(entry);
        });
        if (this._state === State.Closed) throw this._closeError || err;
      }
    }
    const d = reply.data || {};
    return { offset: d.offset, epoch: d.epoch, recovered: !!d.recovered };
  }

  /** Ends a subscription; it is forgotten at once, connected or not. */
  async unsubscribe(collection, document) {
    checkName('collection', collection);
    checkName('document', document, true);
    const key = channelKey(collection, document);
    this._forget(key);
    if (this._state !== State.Connected) return;
    const msg = { type: 'unsubscribe', collection };
    if (document) msg.document = document;
    await this._request(msg, (_r, err) => { if (!err) this._forget(key); });
  }

  /** Queries the documents of a store collection (record_T). */
  async query(collection, data = {}) {
    checkName('collection', collection);
    const reply = await this._request({ type: 'query', collection, data });
    return reply.data;
  }

  /**
   * Changes one document of record_T, field_T or view_T: data is
   * {v, op} or {v, create} or {v, del: true}. Resolves with {v, duplicate,
   * offset, fixup?} once acknowledged, across reconnects if need be: a
   * submit made while disconnected, or whose reply was lost with its
   * connection, is resent with the same src, seq and v. fixup, when the
   * server stored a value in another form than it was sent (a number
   * rounded to its decimals, a select option named by its value), is the
   * json0 op to apply over the op for the copy to equal the stored
   * document. A connection subscribed to the document gets the reply after
   * the ops below its version and before those above it.
   */
  submit(collection, document, data) {
    try {
      checkName('collection', collection);
      checkName('document', document);
      if (!data || typeof data !== 'object' || typeof data.v !== 'number') {
        throw new TablecastError('invalid_argument', 'tablecast: submit data must be an object with a numeric v');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this._state === State.Closed || this._state === State.Idle) {
      return Promise.reject(this._state === State.Closed && this._closeError ? this._closeError
        : new TablecastError('not_connected', `tablecast: not connected (${this._state}): call connect() first`));
    }
    return new Promise((resolve, reject) => {
      const seq = ++this._seq;
      const entry = { collection, document, data: { ...data, src: this._src, seq }, resolve, reject };
      this._submits.push(entry);
      if (this._state === State.Connected && this._conn && this._conn.ready) this._sendSubmit(this._conn, entry);
    });
  }

  _sendSubmit(conn, entry) {
    const settle = () => {
      const i = this._submits.indexOf(entry);
      if (i >= 0) this._submits.splice(i, 1);
    };
    this._send(conn, { type: 'submit', collection: entry.collection, document: entry.document, data: entry.data }, {
      submit: true,
      resolve: (m) => {
        settle();
        const d = m.data || {};
        const ack = { v: d.v, duplicate: !!d.duplicate, offset: m.offset };
        if (d.fixup) ack.fixup = d.fixup;
        entry.resolve(ack);
      },
      reject: (err) => {
        settle();
        entry.reject(err);
      },
    });
  }

  /**
   * Sets this client's presence in a channel (a JSON object of at most
   * 1 KiB), or leaves with null. It is announced again after a reconnect.
   */
  async presence(collection, document, state) {
    checkName('collection', collection);
    checkName('document', document, true);
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new TablecastError('invalid_argument', 'tablecast: presence state must be an object or null');
    }
    const key = channelKey(collection, document);
    if (state === null) this._presence.delete(key);
    else this._presence.set(key, { collection, document: document || '', state });
    if (this._state !== State.Connected) return; // sent when connected
    const msg = { type: 'presence', collection, data: state };
    if (document) msg.document = document;
    await this._request(msg);
  }

  /** Drops the current connection and connects again at once (e.g. after a token change). */
  reconnect() {
    if (this._state === State.Closed || this._state === State.Idle) return;
    if (this._conn) {
      this._drop(this._conn, { code: 0, reason: 'reconnect requested', reconnect: true });
      if (this._retryTimer) {
        clearTimeout(this._retryTimer);
        this._retryTimer = null;
        this._open();
      }
    } else if (this._retryTimer) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      this._open();
    }
  }

  /** Closes the connection for good. Pending calls reject with code closed. */
  close() {
    if (this._state === State.Closed) return;
    this._finish(new TablecastError('closed', 'tablecast: client closed'));
  }

  _finish(err) {
    this._closeError = err;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    for (const r of this._subRetries) {
      clearTimeout(r.timer);
      if (r.resolve) r.resolve();
    }
    this._subRetries.clear();
    this._attemptGen = null;
    this._heartbeat.stop();
    this._renewal.stop();
    this._watch(false);
    const conn = this._conn;
    this._conn = null;
    this._setState(State.Closed);
    if (conn) {
      clearTimeout(conn.timer);
      const ws = conn.ws;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
    for (const [id, p] of this._pending) {
      this._pending.delete(id);
      clearTimeout(p.timer);
      if (!p.submit) p.reject(err);
    }
    const submits = this._submits;
    this._submits = [];
    for (const s of submits) s.reject(err);
    const waiters = this._waiters;
    this._waiters = [];
    for (const w of waiters) w.reject(err);
    this._emit('closed', { error: err });
  }
}

/** Creates a client and connects it; resolves once connected. */
export async function connect(options) {
  const c = new TablecastClient(options);
  await c.connect();
  return c;
}
