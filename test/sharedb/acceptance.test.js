'use strict';
// Acceptance: the unmodified sharedb client against tablecast's /sharedb.
// Run through `go test ./test/sharedb/` (acceptance_test.go), once with
// SHAREDB_PKG=sharedb (the newest major) and once with sharedb4 (4.x, the
// version Teable pins).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const ReconnectingWebSocket = require('reconnecting-websocket');
const WebSocket = require('ws');
const L = require('./lib');

const opts = { timeout: 30000 };

test(`sharedb ${L.VERSION}: create, fetch, subscribe, submit, delete`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const a = await L.connect(sc, 'alice');
  const b = await L.connect(sc, 'bob');

  // A document id the client chose, under Teable's alias.
  const id = await L.freeID(tb);
  const doc = a.get(tb.rec, id);
  await L.call(doc, 'fetch');
  assert.equal(doc.type, null, 'a row that does not exist has no type');
  assert.equal(doc.version, 0);
  await L.call(doc, 'create', { fields: { [tb.f.name]: 'Ada' } });
  assert.equal(doc.version, 1);
  let row = await L.getRow(tb, id);
  assert.equal(row.fields[tb.f.name], 'Ada');
  assert.deepEqual(doc.data, L.rowDoc(row), "the creator's copy is the stored row (fixup)");

  // Another client, under the store's name, subscribes.
  const other = b.get(tb.col, id);
  await L.call(other, 'subscribe');
  assert.equal(other.version, 1);
  assert.deepEqual(other.data, doc.data);

  const op = L.once(other, 'op');
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.notes], od: null, oi: 'first note' }]);
  const [got] = await op;
  assert.deepEqual(got, [{ p: ['fields', tb.f.notes], od: null, oi: 'first note' }]);
  row = await L.converged(tb, id, doc, other);
  assert.equal(row.version, 2);
  assert.equal(row.fields[tb.f.notes], 'first note');

  // A row created over REST is fetched and subscribed to like any other.
  const made = await L.createRow(tb, { [tb.f.name]: 'Grace' });
  const rd = b.get(tb.rec, String(made.id));
  await L.call(rd, 'subscribe');
  assert.deepEqual(rd.data, L.rowDoc(made));
  assert.equal(rd.version, made.version);

  const del = L.once(other, 'del');
  await L.call(doc, 'del');
  await del;
  assert.equal(other.type, null);
  await assert.rejects(L.getRow(tb, id), (e) => e.status === 404);

  // Deleted: creating it again is refused (ids are not reused).
  const again = b.get(tb.col, id);
  const err = await L.callErr(again, 'create', { fields: {} });
  assert.equal(err.code, 'ERR_DOC_WAS_DELETED');
});

test(`sharedb ${L.VERSION}: concurrent edits of one cell and of different cells converge`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const made = await L.createRow(tb, { [tb.f.name]: 'x', [tb.f.notes]: 'n' });
  const id = String(made.id);
  const a = await L.connect(sc, 'alice');
  const b = await L.connect(sc, 'bob');
  const da = a.get(tb.rec, id);
  const db = b.get(tb.col, id);
  await Promise.all([L.call(da, 'subscribe'), L.call(db, 'subscribe')]);

  // Every op and ack reaches a subscribed client in version order: it
  // never has to fetch to fill a gap.
  const fetches = [];
  for (const conn of [a, b]) conn.on('send', (m) => { if (m.a === 'f' || m.a === 'bf') fetches.push(m); });
  const n = 25;
  const acks = [];
  for (let i = 0; i < n; i++) {
    // The same cell: both insert into Name at random places.
    const la = da.data.fields[tb.f.name].length;
    acks.push(L.call(da, 'submitOp', [{ p: ['fields', tb.f.name, Math.floor(Math.random() * (la + 1))], si: 'a' }]));
    const lb = db.data.fields[tb.f.name].length;
    acks.push(L.call(db, 'submitOp', [{ p: ['fields', tb.f.name, Math.floor(Math.random() * (lb + 1))], si: 'b' }]));
    // Different cells: alice the score, bob the notes.
    acks.push(L.call(da, 'submitOp', [{ p: ['fields', tb.f.score], od: da.data.fields[tb.f.score], oi: String(i) }]));
    acks.push(L.call(db, 'submitOp', [{ p: ['fields', tb.f.notes, 0], si: 'm' }]));
    if (i % 5 === 0) await new Promise((r) => setImmediate(r)); // let replies interleave
  }
  await Promise.all(acks);
  await Promise.all([L.nothingPending(a), L.nothingPending(b)]);
  const row = await L.converged(tb, id, da, db);
  const name = row.fields[tb.f.name];
  assert.equal(name.length, 1 + 2 * n, 'every insert applied once');
  assert.equal([...name].filter((c) => c === 'a').length, n);
  assert.equal([...name].filter((c) => c === 'b').length, n);
  assert.equal(row.fields[tb.f.notes], 'm'.repeat(n) + 'n');
  assert.equal(row.fields[tb.f.score], n - 1, 'scores sent as strings are numbers after their fixups');
  // A fresh client fetches the same.
  const c = await L.connect(sc, 'carol');
  const dc = c.get(tb.rec, id);
  await L.call(dc, 'fetch');
  assert.deepEqual(dc.data, da.data);
  assert.deepEqual(L.warnings.filter((w) => w.includes('Invalid version')), [], 'no ack with a version the client did not expect');
  assert.deepEqual(fetches, [], 'no fetch to fill a gap');
});

test(`sharedb ${L.VERSION}: offline with pending ops and a lost ack, then reconnected, converges`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const r1 = await L.createRow(tb, { [tb.f.name]: 'one' });
  const r2 = await L.createRow(tb, { [tb.f.name]: 'two' });
  const id1 = String(r1.id);
  const id2 = String(r2.id);

  const rws = new ReconnectingWebSocket(`${L.WS_BASE}/sharedb?token=${L.TOKENS.alice}`, [],
    { WebSocket, minReconnectionDelay: 10, maxReconnectionDelay: 100, startClosed: false });
  sc.add(() => rws.close());
  const a = await L.connect(sc, 'alice', rws);
  const firstID = a.id;
  const b = await L.connect(sc, 'bob');
  const a1 = a.get(tb.rec, id1);
  const a2 = a.get(tb.rec, id2);
  const b1 = b.get(tb.rec, id1);
  const b2 = b.get(tb.rec, id2);
  await Promise.all([a1, a2, b1, b2].map((d) => L.call(d, 'subscribe')));

  // alice's op reaches the server, its ack does not: the socket drops.
  let dropped = false;
  a.on('receive', (req) => {
    const m = req.data;
    if (!dropped && m && m.a === 'op' && m.d === id1 && m.src === a.id && !m.error) {
      dropped = true;
      req.data = null; // the client never sees it
      rws.close();
    }
  });
  const offline = L.once(a, 'disconnected', 'alice offline');
  a1.submitOp([{ p: ['fields', tb.f.name, 0], si: 'A1-' }]);
  await offline;
  assert.ok(dropped, 'the ack was dropped');
  assert.ok(a1.hasWritePending(), 'the op is still pending for the client');

  // While alice is offline: she edits both rows, bob edits both rows.
  a1.submitOp([{ p: ['fields', tb.f.notes], od: null, oi: 'alice offline' }]);
  a2.submitOp([{ p: ['fields', tb.f.name, 3], si: '-A2' }]);
  await L.call(b1, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'B-' }]);
  await L.call(b2, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'B-' }]);
  await L.call(b1, 'submitOp', [{ p: ['fields', tb.f.score], od: null, oi: '7' }]);

  const sent = [];
  a.on('send', (m) => sent.push(m));
  const online = L.once(a, 'connected', 'alice back');
  rws.reconnect();
  await online;
  assert.equal(a.id, firstID, 'the client keeps its id (src) across the reconnect');
  await L.nothingPending(a);
  const row1 = await L.converged(tb, id1, a1, b1);
  await L.converged(tb, id2, a2, b2);
  assert.equal(row1.fields[tb.f.name], 'B-A1-one', "alice's resent op applied exactly once, transformed");
  assert.equal(row1.fields[tb.f.notes], 'alice offline');
  assert.equal((await L.getRow(tb, id2)).fields[tb.f.name], 'B-two-A2');
  // The client resubscribed both documents in one bulk message, by version.
  const bulk = sent.find((m) => m.a === 'bs');
  assert.ok(bulk, `a bs was sent: ${JSON.stringify(sent)}`);
  assert.equal(typeof bulk.b, 'object');
  assert.ok(!Array.isArray(bulk.b), 'bs with a map of versions');
});

test(`sharedb ${L.VERSION}: a live query with a filter gets rows entering, leaving and moving`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const r1 = await L.createRow(tb, { [tb.f.name]: 'r1', [tb.f.score]: '1' });
  const r2 = await L.createRow(tb, { [tb.f.name]: 'r2', [tb.f.score]: '5' });
  const r3 = await L.createRow(tb, { [tb.f.name]: 'r3', [tb.f.score]: '10' });
  const a = await L.connect(sc, 'alice');
  const filter = { filter_type: 'AND', filters: [{ field_id: Number(tb.f.score), type: 'higher_than', value: '3' }] };
  const sort = [{ field_id: Number(tb.f.score), order: 'asc' }];
  const q = a.createSubscribeQuery(tb.rec, { filter, sort });
  await L.once(q, 'ready', 'query ready');
  const ids = () => q.results.map((d) => d.id);
  const listed = async () => {
    const page = await L.rest('alice', 'GET', `/api/tables/${tb.table}/rows?filter=${encodeURIComponent(JSON.stringify(filter))}&sort=${encodeURIComponent(JSON.stringify(sort))}`);
    return page.results.map((r) => String(r.id));
  };
  assert.deepEqual(ids(), [String(r2.id), String(r3.id)]);
  assert.deepEqual(q.results[0].data.fields[tb.f.name], 'r2');

  const patch = (row, score) => L.rest('bob', 'PATCH', `/api/tables/${tb.table}/rows/${row.id}`, { fields: { [tb.f.score]: score } });

  // Entering.
  let ev = L.once(q, 'insert', 'insert');
  await patch(r1, '7');
  const [inserted, at] = await ev;
  assert.deepEqual(inserted.map((d) => d.id), [String(r1.id)]);
  assert.equal(at, 1);
  assert.deepEqual(ids(), await listed());
  assert.equal(q.results[1].data.fields[tb.f.score], 7);

  // Leaving.
  ev = L.once(q, 'remove', 'remove');
  await patch(r2, '0');
  const [removed] = await ev;
  assert.deepEqual(removed.map((d) => d.id), [String(r2.id)]);
  assert.deepEqual(ids(), await listed());

  // Moving: r1 goes past r3. Its op reaches its doc too.
  ev = L.once(q, 'move', 'move');
  const r1doc = q.results.find((d) => d.id === String(r1.id));
  const opSeen = L.once(r1doc, 'op', 'op of a document in the results');
  await patch(r1, '20');
  await Promise.all([ev, opSeen]);
  assert.deepEqual(ids(), [String(r3.id), String(r1.id)]);
  assert.deepEqual(ids(), await listed());
  assert.equal(r1doc.data.fields[tb.f.score], 20);
  assert.deepEqual(r1doc.data, L.rowDoc(await L.getRow(tb, r1.id)));

  // A row created by another ShareDB client enters too.
  const b = await L.connect(sc, 'bob');
  ev = L.once(q, 'insert', 'insert of a created row');
  const nd = b.get(tb.col, await L.freeID(tb));
  await L.call(nd, 'create', { fields: { [tb.f.name]: 'new', [tb.f.score]: '15' } });
  await ev;
  assert.deepEqual(ids(), await listed());

  // A fetch query answers once.
  const [results] = await L.call(a, 'createFetchQuery', tb.col, { filter, sort, limit: 1 }, {});
  assert.deepEqual(results.map((d) => d.id), [String(r3.id)]);

  // Fields are documents too: fld_T lists them.
  const [fields] = await L.call(a, 'createFetchQuery', `fld_${tb.table}`, {}, {});
  assert.deepEqual(fields.map((d) => d.data.name), ['Name', 'Notes', 'Score']);

  // A bad query is refused and the connection goes on.
  const bad = await L.callErr(a, 'createFetchQuery', tb.rec, { filter: { filters: [{ field_id: 999999, type: 'equal', value: 'x' }] } }, {});
  assert.equal(bad.code, 'ERR_MESSAGE_BADLY_FORMED');
  q.destroy();
});

test(`sharedb ${L.VERSION}: presence reaches the other client and clears when it disconnects`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const channel = `__col_cell_user_${tb.table}`;
  const a = await L.connect(sc, 'alice');
  const b = await L.connect(sc, 'bob');
  const pa = a.getPresence(channel);
  await L.call(pa, 'subscribe');
  const pb = b.getPresence(channel);
  await L.call(pb, 'subscribe');

  const got = L.once(pa, 'receive', 'bob\'s presence');
  const local = pb.create('bob-cell');
  await L.call(local, 'submit', { recordId: '1', fieldId: tb.f.name });
  const [pid, value] = await got;
  assert.equal(pid, 'bob-cell');
  assert.deepEqual(value, { recordId: '1', fieldId: tb.f.name });
  assert.deepEqual(pa.remotePresences['bob-cell'], value);

  // A late subscriber gets the current presence at once.
  const c = await L.connect(sc, 'carol');
  const pc = c.getPresence(channel);
  const late = L.once(pc, 'receive', 'presence for a late subscriber');
  await L.call(pc, 'subscribe');
  assert.deepEqual((await late)[1], value);

  // bob goes away: his presence clears for the others.
  const left = L.once(pa, 'receive', 'bob leaving');
  b.close();
  const [leftID, leftValue] = await left;
  assert.equal(leftID, 'bob-cell');
  assert.equal(leftValue, null);
  assert.equal(pa.remotePresences['bob-cell'], undefined);

  // A channel of a table the user cannot see is refused.
  const err = await L.callErr(a.getPresence('__col_user_999999'), 'subscribe');
  assert.equal(err.code, 'ERR_FORBIDDEN');
});

test(`sharedb ${L.VERSION}: a viewer's submit is rolled back and nothing is stored`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const made = await L.createRow(tb, { [tb.f.name]: 'keep' });
  const c = await L.connect(sc, 'carol');
  const doc = c.get(tb.rec, String(made.id));
  await L.call(doc, 'subscribe');
  const before = structuredClone(doc.data);
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'evil ' }]); // rejected: called back without error
  assert.deepEqual(doc.data, before, 'the op was rolled back');
  assert.equal(doc.version, made.version);
  assert.equal(c.received.at(-1).error.code, 'ERR_OP_SUBMIT_REJECTED');
  const row = await L.getRow(tb, made.id);
  assert.equal(row.version, made.version);
  assert.equal(row.fields[tb.f.name], 'keep');
  // A viewer cannot create either.
  const free = await L.freeID(tb);
  const nd = c.get(tb.rec, free);
  await L.call(nd, 'create', { fields: {} });
  assert.equal(nd.type, null, 'the create was rolled back');
  await assert.rejects(L.getRow(tb, free), (e) => e.status === 404);
});

test(`sharedb ${L.VERSION}: REST writes and native submits reach ShareDB clients`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const made = await L.createRow(tb, { [tb.f.name]: 'rest' });
  const a = await L.connect(sc, 'alice');
  const doc = a.get(tb.rec, String(made.id));
  await L.call(doc, 'subscribe');

  let op = L.once(doc, 'op', 'the REST write');
  await L.rest('bob', 'PATCH', `/api/tables/${tb.table}/rows/${made.id}`, { fields: { [tb.f.notes]: 'from REST' } });
  const [restOp] = await op;
  assert.deepEqual(restOp, [{ p: ['fields', tb.f.notes], od: null, oi: 'from REST' }]);
  await L.converged(tb, made.id, doc);

  const n = await L.nativeSocket(sc, 'bob');
  op = L.once(doc, 'op', 'the native submit');
  n.send({ type: 'submit', id: 's1', collection: tb.col, document: String(made.id),
    data: { v: doc.version, op: [{ p: ['fields', tb.f.name, 4], si: ' native' }] } });
  const ack = await n.next((m) => m.id === 's1', 'native submit ack');
  assert.equal(ack.type, 'submit', JSON.stringify(ack));
  await op;
  const row = await L.converged(tb, made.id, doc);
  assert.equal(row.fields[tb.f.name], 'rest native');
});

test(`sharedb ${L.VERSION}: a ShareDB op reaches native and Baserow subscribers`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const made = await L.createRow(tb, { [tb.f.name]: 'seen' });
  const n = await L.nativeSocket(sc, 'bob');
  n.send({ type: 'subscribe', id: 'n1', collection: tb.col, document: String(made.id) });
  await n.next((m) => m.type === 'subscribe' && m.id === 'n1', 'native subscribe reply');
  const br = await L.baserowSocket(sc, 'carol');
  br.send({ page: 'table', table_id: tb.table });
  await br.next((m) => m.type === 'page_add', 'baserow page_add');

  const a = await L.connect(sc, 'alice');
  const doc = a.get(tb.rec, String(made.id));
  await L.call(doc, 'subscribe');
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.name, 4], si: ' by sharedb' }]);

  const nop = await n.next((m) => m.type === 'op' && m.document === String(made.id), 'native op');
  assert.deepEqual(nop.data.op, [{ p: ['fields', tb.f.name, 4], si: ' by sharedb' }]);
  assert.equal(nop.data.v, made.version);
  const bev = await br.next((m) => m.type === 'rows_updated', 'baserow rows_updated');
  assert.equal(bev.rows[0].id, made.id);
  assert.equal(bev.rows[0][`field_${tb.f.name}`], 'seen by sharedb');
});

test(`sharedb ${L.VERSION}: refusals are ShareDB errors and the connection survives`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const made = await L.createRow(tb, { [tb.f.name]: 'safe' });
  const a = await L.connect(sc, 'alice');

  let err = await L.callErr(a.get('notes_1', '1'), 'fetch');
  assert.equal(err.code, 'ERR_UNKNOWN_COLLECTION');
  err = await L.callErr(a.get('rec_999999', '1'), 'subscribe');
  assert.equal(err.code, 'ERR_UNKNOWN_COLLECTION', 'a table that does not exist');
  // A create there fails; the client's hard rollback then fails to fetch
  // too, which it reports on the doc.
  const unknown = a.get('notes_1', '2');
  const docErr = L.once(unknown, 'error', 'the hard rollback error');
  err = await L.callErr(unknown, 'create', { x: 1 });
  assert.equal(err.code, 'ERR_UNKNOWN_COLLECTION');
  assert.equal((await docErr)[0].code, 'ERR_HARD_ROLLBACK_FETCH_FAILED');

  // A malformed op (a path records do not have) is rejected and rolled back.
  const doc = a.get(tb.rec, String(made.id));
  await L.call(doc, 'subscribe');
  await L.call(doc, 'submitOp', [{ p: ['id'], od: made.id, oi: 5 }]);
  assert.equal(a.received.at(-1).error.code, 'ERR_OP_SUBMIT_REJECTED');
  assert.equal(doc.data.id, made.id);
  // A value the field refuses, too.
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.score], od: null, oi: 'not a number' }]);
  assert.equal(a.received.at(-1).error.code, 'ERR_OP_SUBMIT_REJECTED');
  assert.equal(doc.data.fields[tb.f.score], null);
  // A document id that is not an integer cannot be created.
  await L.call(a.get(tb.rec, 'abc'), 'create', { fields: {} });
  assert.equal(a.received.at(-1).error.code, 'ERR_OP_SUBMIT_REJECTED');

  // Still working.
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.name, 4], si: '!' }]);
  const row = await L.converged(tb, made.id, doc);
  assert.equal(row.fields[tb.f.name], 'safe!');
  a.ping();
  await L.once(a, 'pong', 'pong');
});

test(`sharedb ${L.VERSION}: snapshots at a version and at a time`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await L.setupTable();
  const a = await L.connect(sc, 'alice');
  const id = await L.freeID(tb);
  const doc = a.get(tb.rec, id);
  await L.call(doc, 'create', { fields: { [tb.f.name]: 'v1' } });
  const created = structuredClone(doc.data);
  // A time after the create and before the op: the clock is all there is
  // to wait on (the op log keeps times to the millisecond).
  const between = Date.now() + 1;
  await new Promise((r) => setTimeout(r, 3));
  await L.call(doc, 'submitOp', [{ p: ['fields', tb.f.name, 2], si: '+' }]);
  const [v1] = await L.call(a, 'fetchSnapshot', tb.rec, id, 1);
  assert.equal(v1.v, 1);
  assert.deepEqual(v1.data, created);
  const [now] = await L.call(a, 'fetchSnapshot', tb.rec, id, null);
  assert.equal(now.v, 2);
  assert.deepEqual(now.data, doc.data);
  const [byTime] = await L.call(a, 'fetchSnapshotByTimestamp', tb.rec, id, Date.now() + 1000);
  assert.equal(byTime.v, 2);
  assert.deepEqual(byTime.data, doc.data);
  const [before] = await L.call(a, 'fetchSnapshotByTimestamp', tb.rec, id, between);
  assert.equal(before.v, 1);
  assert.deepEqual(before.data, created);
  const [never] = await L.call(a, 'fetchSnapshotByTimestamp', tb.rec, id, between - 60000);
  assert.equal(never.v, 0);
  assert.equal(never.type, null);
  const err = await L.callErr(a, 'fetchSnapshot', tb.rec, id, 99);
  assert.equal(err.code, 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT');
});
