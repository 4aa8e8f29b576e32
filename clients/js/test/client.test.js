// The client against a real server (see helpers.js for how it is reached).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { TablecastClient, TablecastError, connect, backoffDelay, State } from '../src/tablecast.js';
import { WS_URL, JWT_SECRET, mintToken, skipReason, http, newUser, newTable, admin, control, nextEvent, collect } from './helpers.js';

const opts = { skip: skipReason || false };

/** A connected client closed when the test ends. */
async function dial(t, token, extra = {}) {
  const c = await connect({ url: WS_URL, token, reconnectMin: 20, reconnectMax: 300, ...extra });
  t.after(() => c.close());
  return c;
}

describe('backoffDelay', () => {
  test('stays within full-jitter bounds', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceil = Math.min(100 * 2 ** (attempt - 1), 10000);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, 100, 10000);
        assert.ok(d >= 0 && d <= ceil, `attempt ${attempt}: ${d} outside [0, ${ceil}]`);
      }
    }
  });
});

describe('arguments', () => {
  test('bad options and names are TablecastError invalid_argument', async () => {
    assert.throws(() => new TablecastClient({ url: 'ftp://x', WebSocket: class {} }), { name: 'TablecastError', code: 'invalid_argument' });
    assert.throws(() => new TablecastClient({ url: 'ws://x', tokenMode: 'header', WebSocket: class {} }), { code: 'invalid_argument' });
    assert.throws(() => new TablecastClient({ url: 'ws://x', sessionId: 'has space', WebSocket: class {} }), { code: 'invalid_argument' });
    const c = new TablecastClient({ url: 'ws://127.0.0.1:9', WebSocket: class {} });
    await assert.rejects(c.subscribe('bad name!'), { code: 'invalid_argument' });
    await assert.rejects(c.submit('record_1', '1', { op: [] }), { code: 'invalid_argument' });
    await assert.rejects(c.presence('c', undefined, [1]), { code: 'invalid_argument' });
    await assert.rejects(c.subscribe('news'), { code: 'not_connected' });
    await assert.rejects(c.submit('record_1', '1', { v: 0, op: [] }), { code: 'not_connected' });
  });
});

describe('connecting', opts, () => {
  test('token in a connect message (the default)', async (t) => {
    const u = await newUser();
    const states = [];
    const c = new TablecastClient({ url: WS_URL, token: u.token });
    t.after(() => c.close());
    c.on('state', (e) => states.push(e.state));
    const info = await c.connect();
    assert.equal(info.user_id, u.id);
    assert.match(info.connection_id, /^c_/);
    assert.equal(c.connectionId, info.connection_id);
    assert.equal(c.state, State.Connected);
    assert.deepEqual(states, ['connecting', 'connected']);
    assert.ok((await c.ping()) >= 0);
  });

  test('token in the query string, a session id, a token function', async (t) => {
    const u = await newUser();
    const c = await dial(t, async () => u.token, { tokenMode: 'query', sessionId: 'tab-1' });
    assert.equal(c.info.user_id, u.id);
    assert.equal(c.info.session_id, 'tab-1');
  });

  test('a refused token rejects connect with auth_failed and closes', async () => {
    const c = new TablecastClient({ url: WS_URL, token: 'not.a.jwt' });
    const closed = nextEvent(c, 'closed');
    await assert.rejects(c.connect(), (err) => {
      assert.ok(err instanceof TablecastError);
      assert.equal(err.code, 'auth_failed');
      assert.equal(err.status, 401);
      return true;
    });
    assert.equal((await closed).error.code, 'auth_failed');
    assert.equal(c.state, State.Closed);
    await assert.rejects(c.connect(), { code: 'auth_failed' });
  });

  test('close rejects what waits and stops for good', async (t) => {
    const u = await newUser();
    const c = await dial(t, u.token);
    const { table } = await newTable(u);
    await c.subscribe(`record_${table.id}`);
    c.close();
    assert.equal(c.state, State.Closed);
    assert.equal(c.connectionId, null);
    await assert.rejects(c.ping(), { code: 'closed' });
    await assert.rejects(c.submit(`record_${table.id}`, '1', { v: 0, create: { fields: {} } }), { code: 'closed' });
  });
});

describe('requests', opts, () => {
  test('server errors carry the status', async (t) => {
    const u = await newUser();
    const c = await dial(t, u.token);
    await assert.rejects(c.subscribe('record_999999'), { name: 'TablecastError', code: 'server_error', status: 404 });
    await assert.rejects(c.subscribe('news'), { code: 'server_error', status: 403 }); // no channels claim
    const { table } = await newTable(u);
    await assert.rejects(c.query('news'), { code: 'server_error', status: 400 });
    await assert.rejects(c.submit(`record_${table.id}`, '1', { v: 5, op: [] }), { code: 'server_error' });
    assert.equal(c.pendingSubmits, 0);
    assert.equal(c.state, State.Connected, 'errors leave the connection up');
  });

  test('subscribe, query and ops from REST writes, not echoed to the writer', async (t) => {
    const u = await newUser();
    const { table, field } = await newTable(u);
    const coll = `record_${table.id}`;
    const writer = await dial(t, u.token);
    const reader = await dial(t, u.token);
    const sub = await reader.subscribe(coll);
    assert.equal(sub.epoch, 'outbox1');
    await writer.subscribe(coll);
    const writerOps = collect(writer, 'op');

    const op = nextEvent(reader, 'op', (m) => m.data.create);
    const row = await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, socket: writer.connectionId, body: { fields: { [field]: 'one' } } });
    const m = await op;
    assert.equal(m.document, String(row.id));
    assert.equal(m.data.v, 0);
    assert.equal(m.data.create.fields[field], 'one');
    assert.equal(m.data.source, writer.connectionId);
    assert.equal(reader.position(coll).offset, m.offset);

    const change = nextEvent(reader, 'op', (x) => x.data.op);
    await http('PATCH', `/api/tables/${table.id}/rows/${row.id}`, { token: u.token, socket: writer.connectionId, body: { fields: { [field]: 'two' } } });
    const c2 = await change;
    assert.deepEqual(c2.data.op, [{ p: ['fields', field], od: 'one', oi: 'two' }]);
    assert.equal(c2.data.v, 1);

    const q = await reader.query(coll, { limit: 10 });
    assert.equal(q.results.length, 1);
    assert.equal(q.results[0].v, 2);
    assert.equal(q.results[0].data.fields[field], 'two');
    assert.ok(q.offset >= c2.offset);
    await writer.ping(); // anything echoed would have arrived before the pong
    assert.equal(writerOps.length, 0, 'the writer got its own changes back');

    await reader.unsubscribe(coll);
    assert.equal(reader.position(coll), undefined);
  });

  test('submit: ack with the version after, ops to the others', async (t) => {
    const u = await newUser();
    const { table, field } = await newTable(u);
    const coll = `record_${table.id}`;
    const a = await dial(t, u.token);
    const b = await dial(t, u.token);
    await b.subscribe(coll);
    const seen = nextEvent(b, 'op', (m) => m.document === '77' && m.data.op);
    let ack = await a.submit(coll, '77', { v: 0, create: { fields: { [field]: 'ab' } } });
    assert.deepEqual({ v: ack.v, duplicate: ack.duplicate }, { v: 1, duplicate: false });
    ack = await a.submit(coll, '77', { v: 1, op: [{ p: ['fields', field, 2], si: 'c' }] });
    assert.equal(ack.v, 2);
    const m = await seen;
    assert.equal(m.data.source, a.connectionId);
    const row = await http('GET', `/api/tables/${table.id}/rows/77`, { token: u.token });
    assert.equal(row.fields[field], 'abc');
  });
});

test('submit: values in another form are fixed up; the reply comes after the ops below it', async (t) => {
  const u = await newUser();
  const { table, field } = await newTable(u);
  const price = await http('POST', `/api/tables/${table.id}/fields`, { token: u.token, body: { name: 'Price', type: 'number', options: { decimals: 2 } } });
  const p = String(price.id);
  const coll = `record_${table.id}`;
  const row = await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, body: { fields: { [field]: 'ab' } } });
  const doc = String(row.id);
  const a = await dial(t, u.token);
  const b = await dial(t, u.token);
  await a.subscribe(coll);
  const seen = [];
  a.on('op', (m) => { if (m.document === doc) seen.push(`op v${m.data.v}`); });

  // b changes the row first; a's op, made at the same version, is
  // transformed, stored with its number rounded, and acknowledged with a
  // fixup after b's op.
  await b.submit(coll, doc, { v: row.version, op: [{ p: ['fields', field], oi: 'replaced' }] });
  const ack = await a.submit(coll, doc, { v: row.version, op: [{ p: ['fields', p], oi: 2.555 }] });
  seen.push(`ack v${ack.v}`);
  assert.deepEqual(seen, [`op v${row.version}`, `ack v${row.version + 2}`]);
  assert.deepEqual(ack.fixup, [{ p: ['fields', p], od: 2.555, oi: 2.56 }]);
  const stored = await http('GET', `/api/tables/${table.id}/rows/${doc}`, { token: u.token });
  assert.equal(stored.fields[p], 2.56);
  assert.equal(stored.fields[field], 'replaced', 'oi without od replaced the filled cell');

  // A number as a string: stored as a number, fixed up.
  const again = await a.submit(coll, doc, { v: ack.v, op: [{ p: ['fields', p], od: 2.56, oi: '7' }] });
  assert.deepEqual(again.fixup, [{ p: ['fields', p], od: '7', oi: 7 }]);
  // Cleared: no fixup.
  const cleared = await a.submit(coll, doc, { v: again.v, op: [{ p: ['fields', p], od: 7, oi: null }] });
  assert.equal(cleared.fixup, undefined);
});

test('submit: a record added as Teable creates it, a field and a view renamed, Teable\'s filter refused', async (t) => {
  const u = await newUser();
  const { table, field } = await newTable(u);
  const c = await dial(t, u.token);
  const coll = `record_${table.id}`;
  const made = await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, body: { fields: {} } });
  const id = String(made.id + 1000);
  // Teable's RecordOpBuilder.creator: {id: <document id as a string>, fields: {}}
  const created = await c.submit(coll, id, { v: 0, create: { id, fields: {} } });
  assert.equal(created.v, 1);
  await c.submit(coll, id, { v: 1, op: [{ p: ['fields', field], oi: 'made' }] }); // empty cell: no od
  const row = await http('GET', `/api/tables/${table.id}/rows/${id}`, { token: u.token });
  assert.equal(row.fields[field], 'made');

  const renamed = await c.submit(`field_${table.id}`, field, { v: 1, op: [{ p: ['name'], oi: 'Title', od: 'Name' }] });
  assert.equal(renamed.v, 2);
  const view = await http('POST', `/api/tables/${table.id}/views`, { token: u.token, body: { name: 'Grid', type: 'grid' } });
  const vcoll = `view_${table.id}`;
  await c.submit(vcoll, String(view.id), { v: view.version, op: [{ p: ['name'], oi: 'Board', od: 'Grid' }] });
  await assert.rejects(
    c.submit(vcoll, String(view.id), { v: view.version + 1, op: [{ p: ['filter'], oi: { conjunction: 'and', filterSet: [] } }] }),
    (err) => err.code === 'server_error' && err.status === 400 && /may change/.test(err.message));
});

describe('reconnecting', opts, () => {
  test('a kicked client reconnects when told to, resubscribes and recovers what it missed', async (t) => {
    const u = await newUser();
    const { table, field } = await newTable(u);
    const coll = `record_${table.id}`;
    const c = await dial(t, u.token);
    await c.subscribe(coll);
    const created = nextEvent(c, 'op', (m) => m.data.create);
    const row = await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, body: { fields: { [field]: 'x' } } });
    await created;
    const first = c.connectionId;

    const disconnected = nextEvent(c, 'disconnected');
    const reconnecting = nextEvent(c, 'reconnecting');
    const recovered = nextEvent(c, 'recovered', (e) => e.collection === coll);
    await admin('POST', '/api/ws/disconnect', { connection_id: first, reconnect: true });
    const d = await disconnected;
    assert.equal(d.code, 4003);
    assert.equal(d.reconnect, true);
    assert.equal((await reconnecting).attempt, 1);
    const ev = await recovered;
    assert.equal(ev.result.recovered, true);
    assert.notEqual(c.connectionId, first);

    const op = nextEvent(c, 'op', (m) => m.data.op);
    await http('PATCH', `/api/tables/${table.id}/rows/${row.id}`, { token: u.token, body: { fields: { [field]: 'y' } } });
    assert.equal((await op).data.op[0].oi, 'y');
  });

  test('a client kicked for good (4003, no reconnect) closes', async (t) => {
    const u = await newUser();
    const c = await dial(t, u.token);
    const closed = nextEvent(c, 'closed');
    await admin('POST', '/api/ws/disconnect', { connection_id: c.connectionId });
    const { error } = await closed;
    assert.equal(error.code, 'closed');
    assert.equal(error.closeCode, 4003);
    assert.equal(c.state, State.Closed);
  });

  test('across a server restart: missed changes replayed in order, submits made meanwhile sent, presence restored', async (t) => {
    const u = await newUser();
    const other = await newUser();
    const { table, field } = await newTable(u, other);
    const coll = `record_${table.id}`;
    const c = await dial(t, u.token);
    const watcher = await dial(t, other.token);
    await c.subscribe(coll);
    await watcher.subscribe(coll);
    const rows = [];
    for (const name of ['a', 'b']) {
      const seen = nextEvent(c, 'op', (m) => m.data.create && m.data.create.fields[field] === name);
      rows.push(await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, body: { fields: { [field]: name } } }));
      await seen;
    }
    const seenPresence = nextEvent(watcher, 'presence', (p) => p.user_id === u.id && p.state);
    await c.presence(coll, undefined, { cell: 'a' });
    await seenPresence;
    const before = c.position(coll);

    const reconnecting = nextEvent(c, 'reconnecting');
    await control('/stop');
    await reconnecting;
    assert.equal(c.state, State.Reconnecting);
    assert.equal(c.connectionId, null);

    // Writes the client cannot have seen: through a node on another port.
    const side = await control('/start?side=1');
    await http('PATCH', `/api/tables/${table.id}/rows/${rows[0].id}`, { token: u.token, base: side.url, body: { fields: { [field]: 'a2' } } });
    await http('DELETE', `/api/tables/${table.id}/rows/${rows[1].id}`, { token: u.token, base: side.url });
    await http('POST', `/api/tables/${table.id}/rows`, { token: u.token, base: side.url, body: { fields: { [field]: 'c' } } });
    await control('/stop?side=1');

    // A submit made while disconnected waits, and goes out on reconnect.
    const pending = c.submit(coll, '900', { v: 0, create: { fields: { [field]: 'made offline' } } });
    assert.equal(c.pendingSubmits, 1);

    const replayed = collect(c, 'op');
    const recovered = nextEvent(c, 'recovered', (e) => e.collection === coll, 10000);
    const presenceBack = nextEvent(watcher, 'presence', (p) => p.user_id === u.id && p.state && p.connection_id !== undefined, 10000);
    await control('/start');
    const ev = await recovered;
    replayed.stop();
    assert.equal(ev.result.recovered, true);
    assert.deepEqual(replayed.map((m) => [m.document, m.data.op ? 'op' : m.data.del ? 'del' : 'create']),
      [[String(rows[0].id), 'op'], [String(rows[1].id), 'del'], [replayed[2] && replayed[2].document, 'create']]);
    const offsets = replayed.map((m) => m.offset);
    assert.ok(offsets[0] > before.offset && offsets.every((o, i) => i === 0 || o > offsets[i - 1]), `offsets ${offsets} after ${before.offset}`);

    const ack = await pending;
    assert.equal(ack.v, 1);
    assert.equal(c.pendingSubmits, 0);
    const made = await http('GET', `/api/tables/${table.id}/rows/900`, { token: u.token });
    assert.equal(made.fields[field], 'made offline');

    const p = await presenceBack;
    assert.deepEqual(p.state, { cell: 'a' });
    assert.equal(p.connection_id, c.connectionId);
  });

  test('a submit whose reply was lost with its connection is resent and acknowledged as a duplicate', async (t) => {
    const u = await newUser();
    const { table, field } = await newTable(u);
    const coll = `record_${table.id}`;
    const c = await dial(t, u.token);
    await c.submit(coll, '5', { v: 0, create: { fields: { [field]: 'ab' } } });
    const connected = nextEvent(c, 'connected', (e) => e.reconnected);
    const p = c.submit(coll, '5', { v: 1, op: [{ p: ['fields', field, 0], si: 'X' }] });
    c.reconnect(); // the submit was written; its reply will not be read
    await connected;
    const ack = await p;
    assert.equal(ack.v, 2);
    assert.equal(ack.duplicate, true);
    const row = await http('GET', `/api/tables/${table.id}/rows/5`, { token: u.token });
    assert.equal(row.fields[field], 'Xab', 'applied once');
  });

  test('visibilitychange cuts the backoff short', async (t) => {
    const u = await newUser();
    // A stand-in for the browser's document, seen by the client when it connects.
    const doc = new EventTarget();
    doc.visibilityState = 'visible';
    globalThis.document = doc;
    t.after(() => { delete globalThis.document; });
    const c = await dial(t, u.token, { reconnectMin: 60000, reconnectMax: 60000 });
    // With the server down every attempt fails at once; wait for one that
    // is followed by a long pause (the jitter makes some short).
    const longPause = nextEvent(c, 'reconnecting', (e) => e.delay >= 5000, 10000);
    await control('/stop');
    await longPause;
    await control('/start');
    const back = nextEvent(c, 'connected', (e) => e.reconnected, 3000);
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    assert.equal(c.state, State.Reconnecting, 'a hidden page keeps waiting');
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await back;
    assert.equal(c.state, State.Connected);
  });
});

describe('presence', opts, () => {
  test('others see my state, and my leaving', async (t) => {
    const a = await newUser('pa');
    const b = await newUser('pb');
    const { table } = await newTable(a, b);
    const coll = `record_${table.id}`;
    const ca = await dial(t, a.token);
    const cb = await dial(t, b.token);
    await cb.subscribe(coll);
    const joined = nextEvent(cb, 'presence', (p) => p.user_id === a.id && p.state);
    await ca.presence(coll, undefined, { row: 1, field: '1' });
    const p = await joined;
    assert.equal(p.collection, coll);
    assert.equal(p.connection_id, ca.connectionId);
    assert.deepEqual(p.state, { row: 1, field: '1' });
    const left = nextEvent(cb, 'presence', (x) => x.user_id === a.id && x.state === null);
    await ca.presence(coll, undefined, null);
    await left;
  });
});

describe('tokens', { skip: skipReason || (JWT_SECRET ? false : 'TABLECAST_TEST_JWT_SECRET is not set') }, () => {
  let n = 0;
  const userId = () => `tok${process.pid}x${++n}`;

  test('getToken renews the token ahead of exp: the connection outlives its first token', async (t) => {
    const id = userId();
    let calls = 0;
    const getToken = () => { calls++; return mintToken(id, 2); };
    const c = await dial(t, undefined, { getToken });
    assert.equal(calls, 1);
    assert.ok(c.info.expires_in > 0 && c.info.expires_in <= 2, `expires_in ${c.info.expires_in}`);
    const refreshed = collect(c, 'token_refreshed');
    const dropped = collect(c, 'disconnected');
    t.after(() => { refreshed.stop(); dropped.stop(); });

    // A twin on a fixed token of the same lifetime: its 4001 is the sign
    // that the first token's exp (plus the server's leeway) has passed.
    const twin = await dial(t, mintToken(id, 2), { reconnect: false });
    await nextEvent(twin, 'disconnected', (e) => e.code === 4001, 10000);

    assert.equal(dropped.length, 0, 'the renewed connection was dropped');
    assert.ok(refreshed.length >= 1, 'no token_refreshed event');
    assert.ok(calls >= 2, `getToken called ${calls} times`);
    assert.equal(c.state, State.Connected);
    assert.ok((await c.ping()) >= 0);
  });

  test('getToken is asked again on reconnect', async (t) => {
    const id = userId();
    let calls = 0;
    const c = await dial(t, undefined, { getToken: async () => { calls++; return mintToken(id, 3600); } });
    const again = nextEvent(c, 'connected', (e) => e.reconnected);
    c.reconnect();
    await again;
    assert.equal(calls, 2);
  });

  test("refresh with another user's token is refused (401) and the connection stays", async (t) => {
    const id = userId();
    const c = await dial(t, mintToken(id, 60));
    await assert.rejects(c.refresh(mintToken(userId(), 60)), { code: 'server_error', status: 401 });
    assert.ok((await c.ping()) >= 0);
    const expiresIn = await c.refresh(mintToken(id, 3600));
    assert.ok(expiresIn > 3500 && expiresIn <= 3600, `expires_in ${expiresIn}`);
  });
});
