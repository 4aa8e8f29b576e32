package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// orderForm is a row order as documents hold it: a decimal with 20
// fraction digits.
var orderForm = regexp.MustCompile(`^[0-9]{1,20}\.[0-9]{20}$`)

// record submits to a record_T document.
func (sd *submitDoc) record() (event.SubmitResult, error) {
	w, sub, ctx := sd.w, sd.sub, sd.w.ctx
	sc, err := w.schemaMemo(sd.t.ID)
	if err != nil {
		return event.SubmitResult{}, err
	}
	// A change reads and writes the cells its op touches and the row's
	// head, not the rest of the row, unless its event holds the row whole:
	// a create, a delete, or now and then (changeRecord).
	var row store.Row
	var touched []*table.Field
	if sub.Create == nil && !sub.Del {
		ids := opFieldIDs(sd.op, sc)
		for _, id := range ids {
			touched = append(touched, sc.byID[id])
		}
		row, err = w.RowCells(ctx, sd.t.ID, sub.DocID, ids)
	} else {
		row, err = w.Row(ctx, sd.t.ID, sub.DocID)
	}
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return event.SubmitResult{}, err
	}
	if sub.Create != nil {
		return sd.createRecord(sc, exists)
	}
	if !exists {
		return event.SubmitResult{}, sd.missing()
	}
	v, dup, n, err := sd.catchUp(row.Version)
	if err != nil || dup != nil {
		return deref(dup), err
	}
	if sub.Del {
		return sd.deleteRecord(sc, row, v, n)
	}
	return sd.changeRecord(sc, row, touched, v, n)
}

// deleteRecord deletes the row; its event holds the row as it was.
func (sd *submitDoc) deleteRecord(sc *schema, row store.Row, v int64, n int) (event.SubmitResult, error) {
	w := sd.w
	outs, err := rowsOut([]store.Row{row}, sc)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if _, err := w.DeleteRows(w.ctx, sd.t.ID, []int64{row.ID}); err != nil {
		return event.SubmitResult{}, err
	}
	err = w.emit(store.TableStream(sd.t.ID), event.EventRowsDeleted, event.RowsDeleted{
		TableMeta: w.tableMeta(sd.t), RowIDs: []int64{row.ID}, Rows: outs, Decimals: sc.decimals(),
	})
	return event.SubmitResult{V: v, Offset: sd.lastEvent(), Transformed: n}, err
}

// changeRecord applies the op to the row as read (its head and the cells
// of touched), writes what changed and emits rows_updated: compact, or
// holding the row whole, read again whole, when event.WholeRowAfter says.
func (sd *submitDoc) changeRecord(sc *schema, row store.Row, touched []*table.Field, v int64, n int) (event.SubmitResult, error) {
	w, sub, ctx := sd.w, sd.sub, sd.w.ctx
	var err error
	// The store keeps the row's last whole event (a field deletion that
	// took a cell from the row forgets it: the row's events do not say
	// the cell is gone, package rowimage).
	whole := event.WholeRowAfter(row.Version+1, w.at, row.WholeVersion, row.WholeAt, row.WholeBytes)
	fields := touched
	if whole {
		if row, err = w.Row(ctx, sd.t.ID, sub.DocID); err != nil {
			return event.SubmitResult{}, err
		}
		fields = sc.list
	}
	before, err := rowOutOf(row, fields)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if err := checkRecordPaths(sd.op, sc); err != nil {
		return event.SubmitResult{}, err
	}
	doc, err := asDoc(event.RecordDocOf(before))
	if err != nil {
		return event.SubmitResult{}, err
	}
	after, err := sd.apply(doc)
	if err != nil {
		return event.SubmitResult{}, err
	}
	upd, vals, changed, fix, err := recordUpdate(sd.op, doc.(map[string]any), after.(map[string]any), sc, before)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if vals != nil {
		upd.Values, upd.Encoded = encodeValues(vals), true
	}
	sd.op = withFixup(sd.op, fix)
	if w.reply != nil && fix != nil {
		r := *w.reply
		if r.Fixup, err = fixupJSON(fix); err != nil {
			return event.SubmitResult{}, err
		}
		w.reply = &r
	}
	upd.ID, upd.ExpectedVersion, upd.At = row.ID, row.Version, w.at
	if whole {
		// The row's size before the change: about its size after.
		upd.WholeVersion, upd.WholeAt, upd.WholeBytes = row.Version+1, w.at, len(row.Values)
	}

	opRaw, err := opJSON(sd.op)
	if err != nil {
		return event.SubmitResult{}, err
	}
	w.applied = sd.op
	ev := event.RowsUpdated{TableMeta: w.tableMeta(sd.t), Op: opRaw, UpdatedFieldIDs: changed, Decimals: sc.decimals()}
	if whole {
		rows, err := w.UpdateRows(ctx, sd.t.ID, []store.RowUpdate{upd})
		if err != nil {
			return event.SubmitResult{}, err
		}
		if ev.Rows, err = rowsOut(rows, sc); err != nil {
			return event.SubmitResult{}, err
		}
		ev.RowsBefore = []event.Row{before}
	} else { // compact: the op and the row's head (rowsupdated_compact.go in package event)
		if err := w.WriteRows(ctx, sd.t.ID, []store.RowUpdate{upd}); err != nil {
			return event.SubmitResult{}, err
		}
		out := row // the head as stored: the store keeps At to the microsecond
		out.Version, out.UpdatedAt = row.Version+1, w.at.UTC().Truncate(time.Microsecond)
		if upd.Order != "" { // read back in the store's form
			if out, err = w.RowCells(ctx, sd.t.ID, row.ID, nil); err != nil {
				return event.SubmitResult{}, err
			}
		}
		head := event.HeadOf(rowOut(out, nil, nil), before.UpdatedAt)
		ev.Row = &head
	}
	err = w.emit(store.TableStream(sd.t.ID), event.EventRowsUpdated, ev)
	return event.SubmitResult{V: v, Offset: sd.lastEvent(), Transformed: n, Fixup: fix}, err
}

// opFieldIDs are the ids of the table's fields whose cells op touches.
func opFieldIDs(op json0.Op, sc *schema) []int64 {
	var ids []int64
	for key := range touchedCells(op) {
		if id, err := strconv.ParseInt(key, 10, 64); err == nil && sc.byID[id] != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// withFixup is the op to keep and send on: the op as applied, then the
// server's fixup.
func withFixup(op, fix json0.Op) json0.Op {
	if len(fix) == 0 {
		return op
	}
	return json0.Compose(op, fix)
}

func deref(r *event.SubmitResult) event.SubmitResult {
	if r == nil {
		return event.SubmitResult{}
	}
	return *r
}

// checkRecordPaths checks that every component of an op on a record
// touches ["fields", "<id of a field of the table>", ...] or replaces
// ["order"].
func checkRecordPaths(op json0.Op, sc *schema) error {
	var e *table.ValidationError
	for i, c := range op {
		key := table.ItemKey("op", i) + ".p"
		first, _ := firstKey(c.P)
		switch {
		case first == "order" && len(c.P) == 1:
		case first == "fields" && len(c.P) >= 2:
			name, _ := c.P[1].(string)
			id, err := strconv.ParseInt(name, 10, 64)
			if err != nil || sc.byID[id] == nil || strconv.FormatInt(id, 10) != name {
				e = e.Add(key, "field "+strconv.Quote(name)+" does not exist in the table")
			}
		default:
			e = e.Add(key, `an op on a record may change ["fields","<field id>",...] and ["order"] only`)
		}
	}
	return e.Err()
}

// recordUpdate turns a record's data before and after an op into the
// store's update: the new order, and the cells that changed (nil when
// none did), each normalised by its field as REST does; the caller
// encodes them into the update, which merges them into the stored row.
// It returns the ids of the changed fields, and the fixup: for each cell whose value the field
// stores in another form (a number with more decimals than the field's,
// a select option by its value), the component that sets the stored form
// over the value the op left, so that the clients, which applied the op
// as sent, can come to hold what the store does. A value that no form
// makes valid is refused.
func recordUpdate(op json0.Op, before, after map[string]any, sc *schema, row event.Row) (store.RowUpdate, table.Values, []int64, json0.Op, error) {
	oldOrder := row.Order
	var e *table.ValidationError
	oldFields, _ := before["fields"].(map[string]any)
	newFields, ok := after["fields"].(map[string]any)
	if !ok {
		return store.RowUpdate{}, nil, nil, nil, validation("op", "fields must stay an object")
	}
	vals := table.Values{}
	var changed []int64
	var fix json0.Op
	// Only the cells the op touched can have changed (checkRecordPaths
	// allows ["fields","<id>",...] and ["order"] only): the others are
	// not looked at, whatever the row's width.
	for key := range touchedCells(op) {
		nv, ok := newFields[key]
		if !ok {
			if _, had := oldFields[key]; had {
				e = e.Add("fields."+key, "a cell cannot be removed: set it to null")
			}
			continue
		}
		id, err := strconv.ParseInt(key, 10, 64)
		f := sc.byID[id]
		if err != nil || f == nil {
			e = e.Add("fields."+key, "no such field")
			continue
		}
		if ov, had := oldFields[key]; had && json0.Equal(ov, nv) {
			continue
		}
		canon, cv, err := normalizeCell(f, nv)
		if err != nil {
			var ve *table.ValueError
			if errors.As(err, &ve) {
				e = e.Add("fields."+key, ve.Reason)
				continue
			}
			return store.RowUpdate{}, nil, nil, nil, err
		}
		if !json0.Equal(cv, nv) {
			fix = append(fix, json0.ObjectReplace([]any{"fields", key}, nv, cv))
		}
		if ov, had := oldFields[key]; had && json0.Equal(ov, cv) {
			continue // the op changed the cell's form only
		}
		vals[id] = canon
		changed = append(changed, id)
	}
	upd := store.RowUpdate{}
	if len(vals) == 0 {
		vals = nil // the changed cells only: the store writes those, whatever the row's width
	}
	newOrder, _ := after["order"].(string)
	if newOrder != oldOrder {
		if !orderForm.MatchString(newOrder) {
			e = e.Add("order", `must be a decimal with 20 fraction digits, such as "1.50000000000000000000"`)
		}
		upd.Order = newOrder
	}
	if err := e.Err(); err != nil {
		return store.RowUpdate{}, nil, nil, nil, err
	}
	slices.Sort(changed)
	if len(fix) > 1 {
		// the fixup in a fixed order: the ops sent are the same on every run
		slices.SortFunc(fix, func(a, b json0.Component) int { return strings.Compare(a.P[1].(string), b.P[1].(string)) })
	}
	return upd, vals, changed, fix, nil
}

// normalizeCell is the field's canonical value of a cell's value in the
// document (nv), as stored (canon) and as the document holds it (cv). A
// text cell's string is taken as it is (table.Field.NormalizeString:
// edits of long texts do not encode and decode them again).
func normalizeCell(f *table.Field, nv any) (canon json.RawMessage, cv any, err error) {
	if s, isString := nv.(string); isString {
		if canon, ok, err := f.NormalizeString(s); ok {
			if err != nil || s == "" {
				return canon, nil, err
			}
			return canon, s, nil
		}
	}
	raw, err := json.Marshal(nv)
	if err != nil {
		return nil, nil, err
	}
	if canon, err = f.Normalize(raw); err != nil {
		return nil, nil, err
	}
	return canon, cv, json.Unmarshal(canon, &cv)
}

// touchedCells returns the keys of the cells an op on a record touches.
func touchedCells(op json0.Op) map[string]bool {
	keys := make(map[string]bool, len(op))
	for _, c := range op {
		if first, _ := firstKey(c.P); first == "fields" && len(c.P) >= 2 {
			if key, ok := c.P[1].(string); ok {
				keys[key] = true
			}
		}
	}
	return keys
}

// newRecord is the data of a record create. id, when given, is the
// document's id, as a number or a string (Teable's RecordOpBuilder.creator
// writes {"id":"<document id>","fields":{}}).
type newRecord struct {
	ID     json.RawMessage            `json:"id"`
	Fields map[string]json.RawMessage `json:"fields"`
	Order  *string                    `json:"order"`
}

// createRecord creates the row the submission names, with that id.
func (sd *submitDoc) createRecord(sc *schema, exists bool) (event.SubmitResult, error) {
	w, sub, ctx := sd.w, sd.sub, sd.w.ctx
	logged, err := w.DocOps(ctx, sub.Collection, sub.DocID, 0, 1)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if exists {
		if sub.Src != "" && len(logged) == 1 && logged[0].Src == sub.Src && logged[0].Seq == sub.Seq {
			return event.SubmitResult{V: 0, Offset: logged[0].Offset, Duplicate: true}, nil
		}
		return event.SubmitResult{}, conflict(event.ErrDocExists, "%s/%d already exists", sub.Collection, sub.DocID)
	}
	if len(logged) > 0 {
		return event.SubmitResult{}, conflict(event.ErrDocDeleted, "%s/%d was deleted; its id is not reused", sub.Collection, sub.DocID)
	}
	if sub.HasV && sub.V != 0 {
		return event.SubmitResult{}, conflict(event.ErrVersionAhead, "%s/%d does not exist: a create is for version 0, not %d", sub.Collection, sub.DocID, sub.V)
	}
	var in newRecord
	dec := json.NewDecoder(bytes.NewReader(sub.Create))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return event.SubmitResult{}, validation("create", `must be {"fields":{...},"order"?}: `+jsonMessage(err))
	}
	var e *table.ValidationError
	if id := strings.Trim(string(bytes.TrimSpace(in.ID)), `"`); in.ID != nil && string(in.ID) != "null" && id != strconv.FormatInt(sub.DocID, 10) {
		e = e.Add("create.id", "must be the document's id")
	}
	vals, ve := table.NormalizeRow(sc.byID, in.Fields)
	e = e.Merge("create", ve)
	nr := store.NewRows{TableID: sd.t.ID, IDs: []int64{sub.DocID}, Values: []json.RawMessage{encodeValues(vals)}}
	if in.Order != nil {
		if !orderForm.MatchString(*in.Order) {
			e = e.Add("create.order", `must be a decimal with 20 fraction digits, such as "1.50000000000000000000"`)
		}
		nr.Orders = []string{*in.Order}
	}
	if err := e.Err(); err != nil {
		return event.SubmitResult{}, err
	}
	ins, err := w.InsertRows(ctx, nr)
	if errors.Is(err, store.ErrConflict) {
		return event.SubmitResult{}, validation("document", "id "+strconv.FormatInt(sub.DocID, 10)+" is not available")
	}
	if err != nil {
		return event.SubmitResult{}, err
	}
	rows, err := rowsOut(ins.Rows, sc)
	if err != nil {
		return event.SubmitResult{}, err
	}
	err = w.emit(store.TableStream(sd.t.ID), event.EventRowsCreated, event.RowsCreated{TableMeta: w.tableMeta(sd.t), Rows: rows, Decimals: sc.decimals()})
	return event.SubmitResult{V: 0, Offset: sd.lastEvent()}, err
}
