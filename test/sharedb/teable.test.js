'use strict';
// Ops as Teable builds them: @teable/core's own op builders (RecordOpBuilder,
// FieldOpBuilder, ViewOpBuilder; the version is pinned in package-lock.json)
// submitted through the unmodified sharedb client (SHAREDB_PKG) on Teable's
// collection names (rec_T, fld_T, viw_T). Each applies and converges with
// the store, or is refused with a ShareDB error that says why (the refused
// ones are listed in docs/protocol.md). Run through `go test ./test/sharedb/`.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { RecordOpBuilder, FieldOpBuilder, ViewOpBuilder } = require('@teable/core');
const L = require('./lib');

const opts = { timeout: 30000 };
const TEABLE = require('@teable/core/package.json').version;

async function setup(sc) {
  const tb = await L.setupTable();
  const price = await L.rest('alice', 'POST', `/api/tables/${tb.table}/fields`,
    { name: 'Price', type: 'number', options: { decimals: 2 } });
  tb.f.price = String(price.id);
  const a = await L.connect(sc, 'alice');
  const b = await L.connect(sc, 'bob');
  return { tb, a, b };
}

// setCell submits Teable's setRecord op for one cell, from the client's copy.
function setCell(doc, fieldId, newCellValue) {
  const op = RecordOpBuilder.editor.setRecord.build({ fieldId, newCellValue, oldCellValue: doc.data.fields[fieldId] });
  return L.call(doc, 'submitOp', [op]);
}

test(`@teable/core ${TEABLE} with sharedb ${L.VERSION}: setRecord on empty, filled and cleared cells`, opts, async (t) => {
  const sc = L.scope(t);
  const { tb, a, b } = await setup(sc);
  const made = await L.createRow(tb, { [tb.f.name]: 'first' });
  const id = String(made.id);
  const da = a.get(tb.rec, id);
  const db = b.get(tb.rec, id);
  await Promise.all([L.call(da, 'subscribe'), L.call(db, 'subscribe')]);

  await setCell(da, tb.f.notes, 'was empty'); // {p, oi}: no od for an empty cell
  await setCell(da, tb.f.price, 12.5);
  await setCell(db, tb.f.name, 'renamed'); // {p, od, oi}
  let row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.notes], 'was empty');
  assert.equal(row.fields[tb.f.price], 12.5);
  assert.equal(row.fields[tb.f.name], 'renamed');

  await setCell(da, tb.f.price, 3.14159); // more decimals than the field's: fixed up
  await setCell(da, tb.f.notes, null); // cleared: {p, od, oi: null}
  row = await L.converged(tb, id, da, db);
  assert.equal(row.fields[tb.f.price], 3.14);
  assert.equal(row.fields[tb.f.notes], null);
  assert.deepEqual(da.data, L.rowDoc(row));
});

test(`@teable/core ${TEABLE} with sharedb ${L.VERSION}: a record added with the creator, then edited`, opts, async (t) => {
  const sc = L.scope(t);
  const { tb, a, b } = await setup(sc);
  const id = await L.freeID(tb);
  const doc = a.get(tb.rec, id);
  await L.call(doc, 'fetch');
  // Teable's creator writes {id, fields: {}}; the ack's fixup gives the
  // creator the stored row (defaults, order).
  await L.call(doc, 'create', RecordOpBuilder.creator.build({ id, fields: { [tb.f.name]: 'ignored by the builder' } }));
  let row = await L.getRow(tb, id);
  assert.deepEqual(doc.data, L.rowDoc(row));
  const other = b.get(tb.col, id);
  await L.call(other, 'subscribe');
  await setCell(doc, tb.f.name, 'created by Teable');
  row = await L.converged(tb, id, doc, other);
  assert.equal(row.fields[tb.f.name], 'created by Teable');
});

test(`@teable/core ${TEABLE} with sharedb ${L.VERSION}: a field renamed, a view's name changed, the rest refused`, opts, async (t) => {
  const sc = L.scope(t);
  const { tb, a, b } = await setup(sc);
  const view = await L.rest('alice', 'POST', `/api/tables/${tb.table}/views`, { name: 'Grid', type: 'grid' });

  // Field: setFieldProperty name, on fld_T.
  const fa = a.get(`fld_${tb.table}`, tb.f.notes);
  const fb = b.get(`field_${tb.table}`, tb.f.notes);
  await Promise.all([L.call(fa, 'subscribe'), L.call(fb, 'subscribe')]);
  await L.call(fa, 'submitOp', [FieldOpBuilder.editor.setFieldProperty.build({ key: 'name', oldValue: fa.data.name, newValue: 'Remarks' })]);
  const listOf = (x) => (Array.isArray(x) ? x : x.results || x.fields || x.views);
  const fields = listOf(await L.rest('alice', 'GET', `/api/tables/${tb.table}/fields`));
  const stored = fields.find((f) => String(f.id) === tb.f.notes);
  assert.equal(stored.name, 'Remarks');
  await L.atVersion(fb, stored.version);
  assert.equal(fb.data.name, 'Remarks');
  assert.equal(fa.version, stored.version);

  // View: setViewProperty name, on viw_T.
  const va = a.get(`viw_${tb.table}`, String(view.id));
  await L.call(va, 'subscribe');
  await L.call(va, 'submitOp', [ViewOpBuilder.editor.setViewProperty.build({ key: 'name', oldValue: va.data.name, newValue: 'Board' })]);
  const views = listOf(await L.rest('alice', 'GET', `/api/tables/${tb.table}/views`));
  const v = views.find((x) => x.id === view.id);
  assert.equal(v.name, 'Board');
  assert.equal(va.version, v.version);

  // Teable's view properties tablecast's views do not have (filter as
  // Teable writes it, columnMeta) and a field property it does not have:
  // refused with a ShareDB error saying what may change, rolled back.
  const refused = async (doc, op) => {
    const before = JSON.stringify(doc.data);
    await L.call(doc, 'submitOp', [op]);
    const err = a.received.at(-1).error;
    assert.equal(err.code, 'ERR_OP_SUBMIT_REJECTED');
    assert.match(err.message, /may change/);
    assert.equal(JSON.stringify(doc.data), before, 'rolled back');
  };
  await refused(va, ViewOpBuilder.editor.setViewProperty.build({ key: 'filter', newValue: { conjunction: 'and', filterSet: [] }, oldValue: null }));
  await refused(fa, FieldOpBuilder.editor.setFieldProperty.build({ key: 'description', newValue: 'about', oldValue: null }));
  // columnMeta is not a member of tablecast's view documents (hidden fields
  // are hidden_field_ids): the client's own json0 cannot apply the op, and
  // nothing is sent.
  const err = await L.callErr(va, 'submitOp', [ViewOpBuilder.editor.updateViewColumnMeta.build({ fieldId: tb.f.name, newColumnMeta: { hidden: true }, oldColumnMeta: null })]);
  assert.match(err.message, /not an object/);
});
