package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// A submit on a hot document (hotdocs.go): prepared in memory; in the
// batch's transaction it checks the store and leaves its event, op log
// entry and row to the batch, which writes those of all its prepared
// submits together (txOps.flush).

// prepared is a submit worked out on a hot document: what its write
// stores, and its result but the offset.
type prepared struct {
	tableID     int64
	workspaceID int64
	sc          *schema
	upd         store.RowUpdate // but its values: vals, encoded when the batch writes the row
	vals        table.Values    // the cells the op changed, nil when none did
	payload     json.RawMessage // the rows_updated event
	docOp       store.DocOp     // its op log entry, but the offset
	logged      loggedOp
	res         event.SubmitResult
}

// hotWrite is a prepared submit's write, queued with the group commit
// (writeReq.hot): what prepare worked out, the document, the cold submit
// to fall back to, and what its write left.
type hotWrite struct {
	prepared
	doc  *hotDoc
	cold *coldSubmit
	// staged is the row as the write left it to the batch; nil when the
	// write fell back (or has not run).
	staged *rowWrite
	// pending: its event and op log entry are left to the batch too
	// (txOps.flushAppends).
	pending bool
	// result is the submit's result once its write succeeded.
	result event.SubmitResult
}

// prepare runs an op on a record through its hot document and queues its
// write with queue (Service.enqueue); the caller awaits the returned
// request with the returned group, and the request's hot.result is the
// submit's result once it succeeded. ok is false
// when the document cannot take the op (not loaded, stale, or an op that
// the ordinary submit must judge: an error, a resent op, a move); the
// caller then runs the ordinary submit (also while the record rests:
// hotRest). cold is that submit, which the
// write falls back to when the store no longer matches what the op was
// prepared against.
func (h *hotDocs) prepare(ctx context.Context, queue func(*writeReq) *groupCommit, a Actor, sub event.Submission,
	tableID int64, op json0.Op, cold *coldSubmit,
) (req *writeReq, group *groupCommit, ok bool) {
	d, resting := h.peek(tableID, sub.DocID)
	if resting {
		return nil, nil, false
	}
	known := false
	if d != nil {
		d.mu.Lock()
		known = d.editors[a.UserID]
		d.mu.Unlock()
	}
	if !known {
		// Only an editor's op may join the document's queue (a refused op
		// would leave the document stale for everyone's), and only an
		// editor's op loads a document.
		if _, role, err := tableAccess(ctx, h.store, a.UserID, tableID, store.RoleViewer); err != nil || rank(role) < rank(store.RoleEditor) {
			return nil, nil, false
		}
	}
	if d == nil {
		if d, ok = h.get(ctx, tableID, sub.DocID); !ok {
			return nil, nil, false
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead.Load() {
		return nil, nil, false
	}
	p, ok := h.workOut(d, a, sub, op)
	if !ok {
		return nil, nil, false
	}
	hw := &hotWrite{prepared: *p, doc: d, cold: cold}
	req = newWriteReq(ctx, a, func(w *writeTx) error { return h.write(w, hw) })
	req.hot = hw
	return req, queue(req), true
}

// workOut works out the submit on the document as it will be once its
// queued writes commit, and advances the document past it. ok is false,
// with the document unchanged, when the ordinary submit must run instead.
// The caller holds d.mu.
func (h *hotDocs) workOut(d *hotDoc, a Actor, sub event.Submission, op json0.Op) (*prepared, bool) {
	// In three steps, so that the locals of each are on the stack only
	// while it runs: a submit runs on the goroutine that read its frame,
	// whose stack starts small and is copied each time it must grow.
	p, op, ok := h.catchUp(d, sub, op)
	if !ok || checkRecordPaths(op, d.sc) != nil {
		return nil, false
	}
	before := docPart(d, op)
	after, op, err := json0.ApplyFilled(before, op)
	if err != nil || !h.advance(d, a, sub, op, before, after, p) {
		return nil, false
	}
	return p, true
}

// docPart is the part of a record's document that an op whose paths
// checkRecordPaths allowed can read or change: the cells it touches and
// the order, in maps of their own. Applying the op to it gives what applying
// it to the document gives, in those places, without copying the others:
// json0 copies the maps on the op's path, and a record's fields map holds
// every cell of the row. The part's maps are d's, used again by its next op
// (json0 never changes them: it copies); the caller holds d.mu.
func docPart(d *hotDoc, op json0.Op) map[string]any {
	whole, _ := d.doc.(map[string]any)
	fields, _ := whole["fields"].(map[string]any)
	if d.part == nil {
		d.partCells = make(map[string]any, 4)
		d.part = map[string]any{"fields": d.partCells}
	}
	clear(d.partCells)
	for _, c := range op {
		if first, _ := firstKey(c.P); first == "fields" && len(c.P) >= 2 {
			key, _ := c.P[1].(string)
			if v, ok := fields[key]; ok {
				d.partCells[key] = v
			}
		}
	}
	if order, ok := whole["order"]; ok {
		d.part["order"] = order
	}
	return d.part
}

// setPart makes the document hold what an op left in its part (docPart),
// in place: the caller holds d.mu, and the document's own maps are held
// by nothing else (the values in them are never changed in place).
func setPart(d *hotDoc, part map[string]any) {
	whole, _ := d.doc.(map[string]any)
	fields, _ := whole["fields"].(map[string]any)
	cells, _ := part["fields"].(map[string]any) // recordUpdate checked it
	for key, v := range cells {
		fields[key] = v
	}
	if order, ok := part["order"]; ok {
		whole["order"] = order
	}
}

// catchUp transforms the op against the document's ops since the
// version it was made against; the caller holds d.mu.
func (h *hotDocs) catchUp(d *hotDoc, sub event.Submission, op json0.Op) (*prepared, json0.Op, bool) {
	col := sub.Collection
	cur := d.row.Version
	v := cur
	if sub.HasV {
		if sub.V > cur || cur-sub.V > MaxTransformOps {
			return nil, nil, false
		}
		v = sub.V
	}
	var since []loggedOp
	switch {
	case v == cur:
	case v >= d.first:
		since = d.ops[v-d.first:]
	default:
		head, ok := h.ops.get(col, sub.DocID, v, d.first)
		if !ok {
			return nil, nil, false
		}
		since = append(head, d.ops...)
	}
	p := &prepared{tableID: d.key.table, workspaceID: d.workspaceID, sc: d.sc}
	if len(since) > 0 && !sub.NoMissed {
		p.res.Missed = make([]event.LoggedChange, len(since))
	}
	rb := json0.NewRebase(op, json0.Left)
	for i, l := range since {
		if (sub.Src != "" && l.src == sub.Src && l.seq == sub.Seq) || l.create || l.del {
			return nil, nil, false
		}
		if p.res.Missed != nil {
			p.res.Missed[i] = event.LoggedChange{V: l.version, Change: l.raw, Src: l.src, Seq: l.seq}
		}
		l, err := l.decode(col)
		if err != nil {
			return nil, nil, false
		}
		if err := rb.Past(l.op); err != nil {
			return nil, nil, false
		}
	}
	p.res.V, p.res.Transformed = cur, len(since)
	return p, rb.Op(), true
}

// advance validates the op as applied (after is the document after it),
// encodes its event and op log entry into p, and moves the document past
// it; the caller holds d.mu.
func (h *hotDocs) advance(d *hotDoc, a Actor, sub event.Submission, op json0.Op, before map[string]any, after any, p *prepared) bool {
	col, cur := sub.Collection, d.row.Version
	afterMap, _ := after.(map[string]any)
	if afterMap == nil {
		return false
	}
	upd, vals, changed, fix, err := recordUpdate(op, before, afterMap, d.sc, d.row)
	if err != nil || upd.Order != "" {
		// A move takes the store's form of the order: left to the
		// ordinary submit.
		return false
	}
	if len(fix) > 0 {
		if after, err = json0.Apply(after, fix); err != nil {
			return false
		}
		op = withFixup(op, fix)
		p.res.Fixup = fix
	}
	at := h.now().UTC().Truncate(time.Microsecond)
	upd.ID, upd.ExpectedVersion, upd.At = d.row.ID, cur, at
	row := d.row
	row.Version, row.UpdatedAt = cur+1, at
	opRaw, err := opJSON(op)
	if err != nil {
		return false
	}
	meta := event.TableMeta{TableID: d.key.table, WorkspaceID: d.workspaceID, Actor: a.UserID, Origin: a.Origin,
		Src: sub.Src, Seq: sub.Seq, Reply: submitReply(sub)}
	if meta.Reply.Fixup, err = fixupJSON(p.res.Fixup); err != nil {
		return false
	}
	// The event holds the op and the row's head, and the row whole only
	// from time to time, less often the wider the row
	// (event.WholeRowAfter): the unchanged cells are not encoded.
	var rowJSON []byte
	whole := event.WholeRowAfter(row.Version, at, d.wholeV, d.wholeAt, d.wholeBytes)
	if whole {
		if vals != nil {
			// A map of its own: d.row, the row before, is encoded
			// below. (A compact event's row takes the cells in place,
			// at the end.)
			row.Fields = maps.Clone(d.row.Fields)
			if row.Fields == nil {
				row.Fields = table.Values{}
			}
			maps.Copy(row.Fields, vals)
		}
		if d.rowJSON == nil {
			if d.rowJSON, err = event.AppendRowJSON(nil, d.row); err != nil {
				return false
			}
		}
		if rowJSON, err = event.AppendRowJSON(make([]byte, 0, len(d.rowJSON)+64), row); err != nil {
			return false
		}
		if p.payload, err = submitEvent(meta, opRaw, rowJSON, d.rowJSON, changed, d.sc.decimals()); err != nil {
			return false
		}
		h.resize(d, 3*int64(len(rowJSON)))
	} else {
		if p.payload, err = compactSubmitEvent(meta, opRaw, event.HeadOf(row, d.row.UpdatedAt), changed, d.sc.decimals()); err != nil {
			return false
		}
		// The row's JSON is not known: about what the op added to it.
		h.resize(d, d.size.Load()+3*int64(len(opRaw)))
	}
	p.upd, p.vals = upd, vals
	raw := event.DocChange{Op: opRaw, Fix: meta.Reply.Fixup}.LogOp()
	p.docOp = store.DocOp{Collection: col, DocID: sub.DocID, Version: cur, Op: raw, Src: sub.Src, Seq: sub.Seq}
	p.logged = loggedOp{docID: sub.DocID, version: cur, op: op, decoded: true, raw: raw, src: sub.Src, seq: sub.Seq}

	// after, not afterMap: a fixup (the normalised value) was applied to
	// it since.
	afterMap, _ = after.(map[string]any)
	setPart(d, afterMap)
	if vals != nil && !whole {
		// The row's values map is the document's own (nothing else holds
		// it: events are encoded when made, a batch keeps the changed
		// cells apart): it takes the changed cells in place, rather than
		// a copy of every cell for each op.
		if row.Fields == nil {
			row.Fields = table.Values{}
		}
		maps.Copy(row.Fields, vals)
	}
	d.row, d.rowJSON = row, rowJSON
	if whole {
		d.wholeV, d.wholeAt, d.wholeBytes = row.Version, at, len(rowJSON)
		p.upd.WholeVersion, p.upd.WholeAt, p.upd.WholeBytes = d.wholeV, d.wholeAt, d.wholeBytes
	}
	d.ops = append(d.ops, p.logged)
	if len(d.ops) > hotOpsKept {
		n := len(d.ops) - hotOpsKept/2
		d.ops = append(d.ops[:0:0], d.ops[n:]...)
		d.first += int64(n)
	}
	return true
}

// write stores a prepared submit in the write transaction, or runs the
// ordinary submit when the store is not as the submit was prepared
// against: the document went stale, the row moved on, the fields changed.
// The row itself is written once for all the batch's prepared submits to
// it (rowWrite). It sets hw.result, and hw.staged when it wrote as prepared.
func (h *hotDocs) write(w *writeTx, hw *hotWrite) error {
	res, err := h.writePrepared(w, hw)
	hw.result = res
	return err
}

func (h *hotDocs) writePrepared(w *writeTx, hw *hotWrite) (event.SubmitResult, error) {
	p, d := &hw.prepared, hw.doc
	fallback := func() (res event.SubmitResult, err error) {
		// What the batch left unwritten goes first, outside the cold
		// submit's savepoint: its failure undoes itself only.
		if err := w.batch.flush(w.ctx, w.Tx); err != nil {
			return event.SubmitResult{}, err
		}
		err = w.Savepoint(w.ctx, func() error {
			res, err = hw.cold.write(w)
			return err
		})
		return res, err
	}
	if d.dead.Load() {
		return fallback()
	}
	t, err := w.tableAccessMemo(w.actor.UserID, p.tableID, store.RoleEditor)
	if err != nil {
		return event.SubmitResult{}, err
	}
	sc, err := w.schemaMemo(p.tableID)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if t.WorkspaceID != p.workspaceID || !sameSchema(sc, p.sc) {
		return fallback()
	}
	base := p.upd.ExpectedVersion
	rw := w.batch.rowWrite(d.key)
	if rw != nil && rw.version != base {
		// The batch's submits took the row elsewhere than this op expects.
		return fallback()
	}
	if rw == nil {
		// The batch has not written the row yet: the store says where it is.
		version, found, err := w.batch.storedVersion(w.ctx, w.Tx, d.key)
		if err != nil {
			return event.SubmitResult{}, err
		}
		if !found || version != base {
			return fallback()
		}
		rw = &rowWrite{key: d.key, stored: base, version: base}
	}
	stream := store.TableStream(p.tableID)
	w.logged = append(w.logged, loggedEntry{col: p.docOp.Collection, op: p.logged})
	w.events = append(w.events, store.Event{Stream: stream, Type: event.EventRowsUpdated, Payload: p.payload, CreatedAt: w.at})
	// The event and the op log entry are written with the batch's others
	// (txOps.flushAppends), which gives them their offset.
	w.batch.appends = append(w.batch.appends, pendingAppend{w: w, hw: hw})
	hw.pending = true
	next := &rowWrite{key: d.key, stored: rw.stored, version: base + 1, upd: p.upd, cells: rw.cells}
	if next.upd.WholeVersion == 0 { // the batch's last whole event of the row, if any
		next.upd.WholeVersion, next.upd.WholeAt, next.upd.WholeBytes = rw.upd.WholeVersion, rw.upd.WholeAt, rw.upd.WholeBytes
	}
	if p.vals != nil {
		// A map of its own: rw stays as it was if this write fails.
		next.cells = make(table.Values, len(rw.cells)+len(p.vals))
		maps.Copy(next.cells, rw.cells)
		maps.Copy(next.cells, p.vals)
	}
	hw.staged = next
	return p.res, nil
}

// setOffset gives a prepared submit's event and op log entry, the only
// ones of its write, their offset.
func (w *writeTx) setOffset(off uint64) {
	w.events[0].Offset = off
	w.logged[0].op.offset = off
}

// pendingAppend is a prepared submit whose event and op log entry the
// batch has yet to write (txOps.flushAppends).
type pendingAppend struct {
	w  *writeTx
	hw *hotWrite
}

// flushAppends writes the events and op log entries of the prepared
// submits that succeeded so far, in their order, and gives each its
// offset; their op log entries then join the batch's (txOps.add).
func (t *txOps) flushAppends(ctx context.Context, tx store.Tx) error {
	if len(t.appends) == 0 {
		return nil
	}
	evs := make([]store.NewEvent, len(t.appends))
	for i, a := range t.appends {
		e := a.w.events[0]
		// Written by the service's encoders (compactSubmitEvent,
		// submitEvent): the store need not validate them again, which for
		// an event holding the row whole would be a pass over the row.
		evs[i] = store.NewEvent{Stream: e.Stream, Type: e.Type, Payload: e.Payload, Encoded: true}
	}
	offs, err := tx.AppendEvents(ctx, evs)
	if err != nil {
		return err
	}
	ops := make([]store.DocOp, len(t.appends))
	for i, a := range t.appends {
		a.w.setOffset(offs[i])
		a.hw.result.Offset = offs[i]
		ops[i] = a.hw.docOp
		ops[i].Offset = offs[i]
	}
	if err := tx.AppendDocOps(ctx, ops); err != nil {
		return err
	}
	for _, a := range t.appends {
		t.add(a.w.logged)
	}
	t.appends = t.appends[:0]
	return nil
}

// flush writes what the batch's prepared submits left to it: their
// events and op log entries, then their rows. It runs before any other
// write of the batch, which may read or change them, and at its end.
func (t *txOps) flush(ctx context.Context, tx store.Tx) error {
	if t == nil {
		return nil
	}
	if err := t.flushAppends(ctx, tx); err != nil {
		return err
	}
	return t.flushRows(ctx, tx)
}

// rowWrite is a hot document's row as the batch's prepared submits left
// it. They do not update the row one by one: the batch writes it once,
// before anything else of the batch may read it and at the end
// (txOps.flushRows), from the version the first of them found.
type rowWrite struct {
	key     hotKey
	stored  int64           // the row's version in the store
	version int64           // its version after the prepared submits
	upd     store.RowUpdate // the last one's update (time), with the last whole event among them
	// cells are the cells they changed since the row was last written,
	// the last value of each: only those are encoded and written.
	cells table.Values
}

func (t *txOps) rowWrite(k hotKey) *rowWrite { return t.rows[k] }

// keep records a prepared submit's row once its write succeeded.
func (t *txOps) keep(rw *rowWrite) {
	if t.rows == nil {
		t.rows = make(map[hotKey]*rowWrite)
	}
	t.rows[rw.key] = rw
}

// expect notes a row the batch's prepared submits write: storedVersion
// reads the versions of all of a table's at once.
func (t *txOps) expect(k hotKey) {
	if t.want == nil {
		t.want = make(map[int64][]int64)
	}
	t.want[k.table] = append(t.want[k.table], k.id)
}

// storedVersion is the version of a row the batch's prepared submits have
// not written (since flushRows), as the store has it; found is false when
// it is not a row of its table. The first call for a table reads the
// versions of every row of it the batch expects, in one query, and they
// hold until flushRows, which runs before any other write of the batch
// could change them (the rows the prepared submits change are in rows
// meanwhile, and are not looked up here). On PostgreSQL the batch holds
// its table's lock, so no other transaction changes them either.
func (t *txOps) storedVersion(ctx context.Context, tx store.Tx, k hotKey) (version int64, found bool, err error) {
	vs, ok := t.versions[k.table]
	if !ok {
		ids := t.want[k.table]
		if !slices.Contains(ids, k.id) {
			ids = append(ids, k.id)
		}
		if vs, err = tx.RowVersions(ctx, k.table, ids); err != nil {
			return 0, false, err
		}
		if t.versions == nil {
			t.versions = make(map[int64]map[int64]int64)
		}
		t.versions[k.table] = vs
	}
	version, found = vs[k.id]
	return version, found, nil
}

// flushRows writes every row the batch's prepared submits changed, a
// table's together (Tx.WriteRows), and forgets them and the versions read
// for them: it runs before a write that may change them otherwise (an
// ordinary write, a submit that fell back), after which a prepared
// submit reads its row again.
func (t *txOps) flushRows(ctx context.Context, tx store.Tx) error {
	if t == nil {
		return nil
	}
	t.versions = nil
	if len(t.rows) == 0 {
		return nil
	}
	byTable := make(map[int64][]store.RowUpdate, 1)
	for k, rw := range t.rows {
		if rw.version == rw.stored {
			continue
		}
		upd := rw.upd
		upd.ID = k.id
		if len(rw.cells) > 0 {
			upd.Values, upd.Encoded = encodeValues(rw.cells), true
		}
		upd.ExpectedVersion, upd.Version = rw.stored, 0
		if rw.version > rw.stored+1 {
			upd.Version = rw.version
		}
		byTable[k.table] = append(byTable[k.table], upd)
	}
	for table, updates := range byTable {
		if err := tx.WriteRows(ctx, table, updates); err != nil {
			return fmt.Errorf("service: writing %d rows of table %d after their ops: %w", len(updates), table, err)
		}
	}
	t.rows = nil
	return nil
}

// compactSubmitEvent is a submit's compact RowsUpdated: the op and the
// row's head, no cells.
func compactSubmitEvent(meta event.TableMeta, op json.RawMessage, head event.RowHead, changed []int64, decimals event.Decimals) (json.RawMessage, error) {
	return event.AppendCompactRowsUpdated(make([]byte, 0, 320+len(op)), meta, op, head, changed, decimals)
}

// submitEvent is json.Marshal of a submit's RowsUpdated with its rows
// whole, from the rows' JSON.
func submitEvent(meta event.TableMeta, op, row, before json.RawMessage, changed []int64, decimals event.Decimals) (json.RawMessage, error) {
	head, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var places []byte
	if len(decimals) > 0 {
		if places, err = json.Marshal(decimals); err != nil {
			return nil, err
		}
	}
	ids, err := json.Marshal(changed)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(head)+len(op)+len(row)+len(before)+len(ids)+len(places)+80)
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"op":`...)
	b = append(b, op...)
	b = append(b, `,"rows":[`...)
	b = append(b, row...)
	b = append(b, `],"rows_before":[`...)
	b = append(b, before...)
	b = append(b, `],"updated_field_ids":`...)
	b = append(b, ids...)
	if places != nil {
		b = append(b, `,"decimals":`...)
		b = append(b, places...)
	}
	return append(b, '}'), nil
}

// sameSchema reports whether two readings of a table's fields are the
// same fields at the same versions.
func sameSchema(a, b *schema) bool {
	if a == b {
		return true
	}
	if len(a.list) != len(b.list) {
		return false
	}
	for i, f := range a.list {
		g := b.list[i]
		if f.ID != g.ID || f.Version != g.Version || f.Type != g.Type {
			return false
		}
	}
	return true
}
