// Subscriptions refused for now (503 with retry_after, while the server's
// broker is away) are retried by the client itself, with backoff. A fake
// WebSocket class plays the server: no real server is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { connect } from '../src/tablecast.js';

/** A server that refuses the first `refusals` subscribes of each connection. */
function fakeServer(refusals) {
  const seen = [];
  const sockets = [];
  class FakeWS {
    constructor() {
      this.refused = 0;
      sockets.push(this);
      setTimeout(() => this.onopen && this.onopen(), 0);
    }
    send(raw) {
      const m = JSON.parse(raw);
      seen.push({ m, at: Date.now() });
      const reply = (r) => setTimeout(() => this.onmessage && this.onmessage({ data: JSON.stringify(r) }), 0);
      if (m.type === 'connect') {
        reply({ type: 'connected', data: { connection_id: 'c1', user_id: 'u', session_id: 's', heartbeat_interval: 30, max_message_size: 65536 } });
      } else if (m.type === 'subscribe' && this.refused < refusals) {
        this.refused++;
        reply({ type: 'error', id: m.id, error: { code: 503, message: 'the channel\'s stream is temporarily unavailable: retry', retry_after: 0.05 } });
      } else if (m.type === 'subscribe') {
        reply({ type: 'subscribe', id: m.id, collection: m.collection, data: { offset: 7, epoch: 'e', recovered: true } });
      }
    }
    close() {}
    /** The connection drops. */
    drop() { setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: '' }), 0); }
  }
  return { FakeWS, seen, sockets };
}

test('subscribe retries a 503 after retry_after, then resolves', async () => {
  const { FakeWS, seen } = fakeServer(2);
  const c = await connect({ url: 'ws://fake/api/ws/socket', token: 't', WebSocket: FakeWS, reconnectMin: 10, reconnectMax: 20, pingInterval: 0, watchVisibility: false });
  try {
    const res = await c.subscribe('lobby');
    assert.deepEqual(res, { offset: 7, epoch: 'e', recovered: true });
    const subs = seen.filter((s) => s.m.type === 'subscribe');
    assert.equal(subs.length, 3, 'two refusals, then the subscription');
    assert.ok(subs[1].at - subs[0].at >= 45, 'the retry waited for retry_after');
  } finally {
    c.close();
  }
});

test('subscribe gives up on a 503 when the client closes', async () => {
  const { FakeWS } = fakeServer(1000);
  const c = await connect({ url: 'ws://fake/api/ws/socket', token: 't', WebSocket: FakeWS, reconnectMin: 10, reconnectMax: 20, pingInterval: 0, watchVisibility: false });
  const p = c.subscribe('lobby');
  setTimeout(() => c.close(), 120);
  await assert.rejects(p);
});

test('a resubscription refused with 503 after a reconnect is retried from the position held', async () => {
  const { FakeWS, seen, sockets } = fakeServer(0);
  const c = await connect({ url: 'ws://fake/api/ws/socket', token: 't', WebSocket: FakeWS, reconnectMin: 10, reconnectMax: 20, pingInterval: 0, watchVisibility: false });
  try {
    await c.subscribe('lobby');
    const recovered = new Promise((resolve) => c.on('recovered', resolve));
    const failed = [];
    c.on('resubscribe_failed', (ev) => failed.push(ev));
    FakeWS.prototype.refusalsLeft = 2;
    const send = FakeWS.prototype.send;
    FakeWS.prototype.send = function (raw) {
      const m = JSON.parse(raw);
      if (this !== sockets[0] && m.type === 'subscribe' && FakeWS.prototype.refusalsLeft > 0) {
        FakeWS.prototype.refusalsLeft--;
        seen.push({ m, at: Date.now() });
        setTimeout(() => this.onmessage({ data: JSON.stringify({ type: 'error', id: m.id, error: { code: 503, message: 'retry', retry_after: 0.02 } }) }), 0);
        return;
      }
      send.call(this, raw);
    };
    sockets[0].drop();
    const ev = await recovered;
    assert.equal(ev.collection, 'lobby');
    assert.deepEqual(failed, [], 'a 503 is not a failed resubscription');
    const resubs = seen.filter((s) => s.m.type === 'subscribe').slice(1);
    assert.equal(resubs.length, 3, 'two refusals, then the resubscription');
    for (const r of resubs) assert.deepEqual(r.m.data, { since: { offset: 7, epoch: 'e' } });
  } finally {
    c.close();
  }
});
