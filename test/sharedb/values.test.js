'use strict';
// Values as the clients hold them, the ack as ShareDB sends it, and ops
// normalised rather than refused: the unmodified sharedb client (7.x and
// 4.x, SHAREDB_PKG) against tablecast's /sharedb. Run through
// `go test ./test/sharedb/` (acceptance_test.go).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const ReconnectingWebSocket = require('reconnecting-websocket');
const WebSocket = require('ws');
const L = require('./lib');

const opts = { timeout: 30000 };

// A table with a number field of 2 decimals, a single select and a date.
async function setupValues() {
  const tb = await L.setupTable();
  const add = (body) => L.rest('alice', 'POST', `/api/tables/${tb.table}/fields`, body);
  const price = await add({ name: 'Price', type: 'number', options: { decimals: 2 } });
  const colour = await add({ name: 'Colour', type: 'single_select', options: { choices: [{ value: 'red' }, { value: 'green' }] } });
  const due = await add({ name: 'Due', type: 'date' });
  tb.f.price = String(price.id);
  tb.f.colour = String(colour.id);
  tb.f.due = String(due.id);
  tb.green = colour.options.choices.find((c) => c.value === 'green').id;
  return tb;
}

// received records every message a connection receives, as sent.
// pair makes a row with fields and opens it for alice and bob, both
// subscribed: alice on the record collection (through socket when given),
// bob on bobCollection (default the same).
async function pair(sc, tb, fields, { socket, bobCollection } = {}) {
  const made = await L.createRow(tb, fields);
  const id = String(made.id);
  const a = await L.connect(sc, 'alice', socket);
  const b = await L.connect(sc, 'bob');
  const da = a.get(tb.rec, id);
  const db = b.get(bobCollection || tb.rec, id);
  await Promise.all([L.call(da, 'subscribe'), L.call(db, 'subscribe')]);
  return { made, id, a, b, da, db };
}

function received(conn) {
  const got = [];
  conn.on('receive', (req) => { if (req.data) got.push(JSON.parse(JSON.stringify(req.data))); });
  return got;
}

test(`sharedb ${L.VERSION}: number cells are numbers, edited with oi and na`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await setupValues();
  const { id, a, da, db } = await pair(sc, tb, { [tb.f.name]: 'n' }, { bobCollection: tb.col });
  assert.equal(da.data.fields[tb.f.price], null, 'an empty number cell is null');

  // The report's op: a number, as Teable's clients send it (no od: empty).
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], oi: 32283 }]);
  let row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 32283, 'REST answers a number');
  await L.call(db, 'submitOp', [{ p: ['fields', tb.f.price], od: 32283, oi: 1.5 }]);
  await L.converged(tb, id, da, db);
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], na: 2 }]);
  row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 3.5);
  assert.equal(typeof da.data.fields[tb.f.price], 'number');

  // Both add to the same cell at once: both additions count.
  await Promise.all([
    L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], na: 1 }]),
    L.call(db, 'submitOp', [{ p: ['fields', tb.f.price], na: 10 }]),
  ]);
  row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 14.5);
});

test(`sharedb ${L.VERSION}: values in another form are stored in theirs and fixed up in the submitter's copy`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await setupValues();
  const { id, a, da, db } = await pair(sc, tb, { [tb.f.name]: 'v', [tb.f.price]: 1 });
  const raw = received(a);
  const theirs = [];
  db.on('op', (op) => theirs.push(op));

  // Too many decimals: applied, rounded, fixed up.
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], od: 1, oi: 2.555 }]);
  assert.equal(da.data.fields[tb.f.price], 2.56, "the submitter's copy after the ack's fixup");
  let row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 2.56);
  const ack = raw.find((m) => m.a === 'op' && m.src === a.id);
  assert.deepEqual(ack.fixup.map((f) => f.op), [[{ p: ['fields', tb.f.price], od: 2.555, oi: 2.56 }]]);

  // A number as a string, a select option by its name, a date in another
  // form: each stored in its form, each copy equal to the row.
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], od: 2.56, oi: '7.10' }]);
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.colour], od: null, oi: 'green' }]);
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.due], oi: '2026-03-04T23:30:00-02:00' }]);
  row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 7.1);
  assert.equal(row.fields[tb.f.colour], tb.green, 'a select holds the option id');
  assert.equal(row.fields[tb.f.due], '2026-03-05');
  assert.deepEqual(da.data, L.rowDoc(row));
  // The others received the stored form in the op.
  const last = theirs.flat().filter((c) => c.p[1] === tb.f.colour).pop();
  assert.equal(last.oi, tb.green);

  // A value no form makes valid is still refused and rolled back (the
  // client rolls back an ERR_OP_SUBMIT_REJECTED without an error).
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.price], od: 7.1, oi: 'lots' }]);
  assert.equal(a.received.at(-1).error.code, 'ERR_OP_SUBMIT_REJECTED');
  assert.match(a.received.at(-1).error.message, /must be a number/);
  assert.equal(da.data.fields[tb.f.price], 7.1);
});

test(`sharedb ${L.VERSION}: oi without od replaces an empty and a filled cell`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await setupValues();
  const { id, da, db } = await pair(sc, tb, { [tb.f.name]: 'filled' });
  const ops = [];
  db.on('op', (op) => ops.push(...op));
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.notes], oi: 'was empty' }]);
  await L.call(da, 'submitOp', [{ p: ['fields', tb.f.name], oi: 'replaced' }]);
  const row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.notes], 'was empty');
  assert.equal(row.fields[tb.f.name], 'replaced');
  // The others receive the op with the od of what was there: it inverts.
  assert.deepEqual(ops, [
    { p: ['fields', tb.f.notes], oi: 'was empty', od: null },
    { p: ['fields', tb.f.name], oi: 'replaced', od: 'filled' },
  ]);
});

test(`sharedb ${L.VERSION}: the ack is ShareDB's, with no echo, after the ops below it`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await setupValues();
  const { id, a, b, da, db } = await pair(sc, tb, { [tb.f.name]: 'x' });
  const raw = received(a);
  let sent = 0;
  a.on('send', (m) => { if (m.a === 'op') sent++; });
  const n = 20;
  const acks = [];
  for (let i = 0; i < n; i++) {
    acks.push(L.call(da, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'a' }]));
    acks.push(L.call(db, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'b' }]));
  }
  await Promise.all(acks);
  await L.converged(tb, id, da, db);
  const mine = raw.filter((m) => m.a === 'op' && m.src === a.id);
  assert.equal(mine.length, sent, 'one ack per op sent (the client composes what waits), and no echo');
  for (const m of mine) {
    assert.deepEqual(Object.keys(m).sort(), ['a', 'c', 'd', 'seq', 'src', 'v'], `ack ${JSON.stringify(m)}`);
    assert.equal(m.c, tb.rec);
    assert.equal(m.d, id);
  }
  // Versions arrive in order, acks and others' ops together: 1 + 2n of them.
  const vs = raw.filter((m) => m.a === 'op' && m.d === id).map((m) => m.v);
  assert.deepEqual(vs, [...vs].sort((x, y) => x - y), 'in version order');
  assert.equal(new Set(vs).size, vs.length, 'each version once');
  assert.deepEqual(L.warnings.filter((w) => w.includes('Invalid version')), []);
});

test(`sharedb ${L.VERSION}: an ack with a fixup lost with the socket: the resent op applies once and is fixed up`, opts, async (t) => {
  const sc = L.scope(t);
  const tb = await setupValues();
  const rws = new ReconnectingWebSocket(`${L.WS_BASE}/sharedb?token=${L.TOKENS.alice}`, [],
    { WebSocket, minReconnectionDelay: 10, maxReconnectionDelay: 100, startClosed: false });
  sc.add(() => rws.close());
  const { made, id, a, da, db } = await pair(sc, tb, { [tb.f.name]: 'x' }, { socket: rws });

  // The server sends the ack (with its fixup); the socket drops before the
  // client reads it.
  let dropped = false;
  a.on('receive', (req) => {
    const m = req.data;
    if (!dropped && m && m.a === 'op' && m.d === id && m.src === a.id && !m.error) {
      dropped = true;
      assert.ok(m.fixup, 'the ack carried a fixup');
      req.data = null;
      rws.close();
    }
  });
  const offline = L.once(a, 'disconnected', 'alice offline');
  da.submitOp([{ p: ['fields', tb.f.price], oi: 0.125 }]);
  da.submitOp([{ p: ['fields', tb.f.notes], oi: 'after' }]);
  await offline;
  assert.ok(dropped);
  await L.call(db, 'submitOp', [{ p: ['fields', tb.f.name, 0], si: 'B' }]);
  const online = L.once(a, 'connected', 'alice back');
  rws.reconnect();
  await online;
  await L.nothingPending(a);
  const row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 0.13, 'rounded once');
  assert.equal(row.fields[tb.f.notes], 'after');
  assert.equal(row.fields[tb.f.name], 'Bx');
  // two versions: alice's (the client composed her two edits into one op
  // before sending it) and bob's
  assert.equal(row.version, made.version + 2, 'each op applied once');
});
