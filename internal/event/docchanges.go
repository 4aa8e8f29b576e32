package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/tablecast/tablecast/internal/table"
)

// The store's rows, fields, views and tables are versioned documents for
// the dialects that speak documents (the native protocol and ShareDB):
// record_T, field_T and view_T of table T, table_W of workspace W. Their
// data:
//
//   - a record: {"id", "order", "fields": {"<field id>": value}}, every field
//     of the table present (an empty cell holds its default value);
//   - a field, a view, a table: its REST shape without "version" (the
//     document's version is the op's v, not part of the data).
//
// Every event that changes documents is turned, once, into DocChanges: the
// op log records them in the event's transaction, and the dialects render
// them. The same change therefore reaches every client, and a submit
// transformed against the log sees exactly what the clients saw.

// DocChange is one document's change.
type DocChange struct {
	Collection string
	DocID      int64
	// V is the version the change applies to (the document is at V+1
	// after it; a create applies to 0). HasV is false for an event written
	// before documents had versions, still in the outbox after an upgrade.
	V    int64
	HasV bool
	// Exactly one of Op (a JSON array of json0 components), Create (the
	// document's data) and Del.
	Op     json.RawMessage
	Create json.RawMessage
	Del    bool
	// Fix, on a submitted op, is the fixup the server added to it
	// (SubmitResult.Fixup): the op log keeps it, so that the submitter
	// resending the op is told it again.
	Fix json.RawMessage
}

// LogOp is the change as the op log keeps it: {"op":[...]} (with
// "fix":[...] after it for an op the server fixed up), {"create":data} or
// {"del":true}.
func (c DocChange) LogOp() json.RawMessage {
	switch {
	case c.Del:
		return json.RawMessage(`{"del":true}`)
	case c.Create != nil:
		return append(append([]byte(`{"create":`), c.Create...), '}')
	}
	b := append([]byte(`{"op":`), c.Op...)
	if len(c.Fix) > 0 {
		b = append(append(b, `,"fix":`...), c.Fix...)
	}
	return append(b, '}')
}

// RecordDoc is a record document's data.
type RecordDoc struct {
	ID     int64        `json:"id"`
	Order  string       `json:"order"`
	Fields table.Values `json:"fields"`
}

// RecordDocOf returns the data of a row's document.
func RecordDocOf(r Row) RecordDoc { return RecordDoc{ID: r.ID, Order: r.Order, Fields: r.Fields} }

// docData returns v's JSON without its "version" member, as a map of its
// members (for diffs) and as JSON.
func docData(v any) (map[string]json.RawMessage, json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, err
	}
	delete(m, "version")
	out, err := json.Marshal(m)
	return m, out, err
}

// DocData is the document data of a field, view or table: its REST shape
// without "version".
func DocData(v any) (json.RawMessage, error) {
	_, b, err := docData(v)
	return b, err
}

// Changes turns an event's payload (a pointer to its struct, as
// Decode returns, or the struct) into the changes of the documents it
// touches, in a fixed order.
func Changes(payload any) ([]DocChange, error) {
	var d docDiffer
	switch ev := payload.(type) {
	case *RowsCreated:
		return d.rowsCreated(ev)
	case RowsCreated:
		return d.rowsCreated(&ev)
	case *RowsUpdated:
		return d.rowsUpdated(ev)
	case RowsUpdated:
		return d.rowsUpdated(&ev)
	case *RowsDeleted:
		return d.rowsDeleted(ev), nil
	case RowsDeleted:
		return d.rowsDeleted(&ev), nil
	case *FieldCreated:
		return d.created(FieldCollection(ev.TableID), ev.Field.ID, ev.Field)
	case FieldCreated:
		return d.created(FieldCollection(ev.TableID), ev.Field.ID, ev.Field)
	case *FieldUpdated:
		return d.fieldUpdated(ev)
	case FieldUpdated:
		return d.fieldUpdated(&ev)
	case *FieldDeleted:
		return d.fieldDeleted(ev)
	case FieldDeleted:
		return d.fieldDeleted(&ev)
	case *ViewCreated:
		return d.created(ViewCollection(ev.TableID), ev.View.ID, ev.View)
	case ViewCreated:
		return d.created(ViewCollection(ev.TableID), ev.View.ID, ev.View)
	case *ViewUpdated:
		return d.replaced(ViewCollection(ev.TableID), ev.View.ID, ev.View.Version, ev.ViewBefore, ev.View, ev.Op)
	case ViewUpdated:
		return d.replaced(ViewCollection(ev.TableID), ev.View.ID, ev.View.Version, ev.ViewBefore, ev.View, ev.Op)
	case *ViewDeleted:
		return d.deleted(ViewCollection(ev.TableID), ev.ViewID, ev.View.Version), nil
	case ViewDeleted:
		return d.deleted(ViewCollection(ev.TableID), ev.ViewID, ev.View.Version), nil
	case *TableCreated:
		return d.created(TableCollection(ev.WorkspaceID), ev.Table.ID, TableDoc(ev.Table))
	case TableCreated:
		return d.created(TableCollection(ev.WorkspaceID), ev.Table.ID, TableDoc(ev.Table))
	case *TableUpdated:
		return d.replaced(TableCollection(ev.WorkspaceID), ev.Table.ID, ev.Table.Version, TableDoc(ev.TableBefore), TableDoc(ev.Table), nil)
	case TableUpdated:
		return d.replaced(TableCollection(ev.WorkspaceID), ev.Table.ID, ev.Table.Version, TableDoc(ev.TableBefore), TableDoc(ev.Table), nil)
	case *TableDeleted:
		return d.deleted(TableCollection(ev.WorkspaceID), ev.Table.ID, ev.Table.Version), nil
	case TableDeleted:
		return d.deleted(TableCollection(ev.WorkspaceID), ev.Table.ID, ev.Table.Version), nil
	}
	return nil, nil
}

// DocChanges decodes a stored event and returns the changes of the
// documents it touches (none for membership and workspace events).
func DocChanges(typ string, data []byte) ([]DocChange, error) {
	if typ == EventRowsUpdated {
		// A submit's event carries its op: the rows' cells need not be
		// read (the common case when clients edit through ops).
		if ch, ok := submitChange(data); ok {
			return []DocChange{ch}, nil
		}
	}
	v, err := Decode(typ, data)
	if err != nil {
		return nil, err
	}
	return Changes(v)
}

// submitChange reads the document change of a submit's rows_updated from
// the start of its JSON: the table, the op, then the one row's id and
// version, which lead it. ok is false for any other rows_updated (or
// members in another order), which the caller decodes whole.
func submitChange(data []byte) (DocChange, bool) {
	if ch, ok, done := scanSubmitChange(data); done {
		return ch, ok
	}
	return decodeSubmitChange(data)
}

// decodeSubmitChange is submitChange through encoding/json.
func decodeSubmitChange(data []byte) (DocChange, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return DocChange{}, false
	}
	var tableID int64
	var op json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return DocChange{}, false
		}
		switch tok {
		case "table_id":
			err = dec.Decode(&tableID)
		case "op":
			err = dec.Decode(&op)
		case "row", "rows":
			if op == nil || tableID <= 0 {
				return DocChange{}, false
			}
			id, version, ok := firstRowID(dec, tok == "rows")
			if !ok {
				return DocChange{}, false
			}
			return DocChange{Collection: RecordCollection(tableID), DocID: id, V: version - 1, HasV: version > 0, Op: op}, true
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return DocChange{}, false
		}
	}
	return DocChange{}, false
}

// firstRowID reads the id and version that open the only row of a rows
// list (list) or a compact event's row head.
func firstRowID(dec *json.Decoder, list bool) (id, version int64, ok bool) {
	opens := []json.Delim{'[', '{'}
	if !list {
		opens = opens[1:]
	}
	for _, want := range opens {
		if tok, err := dec.Token(); err != nil || tok != want {
			return 0, 0, false
		}
	}
	var haveID, haveV bool
	for !haveID || !haveV {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, false
		}
		switch tok {
		case "id":
			haveID, err = true, dec.Decode(&id)
		case "version":
			haveV, err = true, dec.Decode(&version)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return 0, 0, false
		}
	}
	return id, version, true
}

// TableDoc is a table's document: its REST shape without its fields.
func TableDoc(t Table) Table {
	t.Fields = nil
	return t
}

type docDiffer struct {
	out []DocChange
}

func (d *docDiffer) rowsCreated(ev *RowsCreated) ([]DocChange, error) {
	col := RecordCollection(ev.TableID)
	for _, r := range ev.Rows {
		b, err := json.Marshal(RecordDocOf(r))
		if err != nil {
			return nil, err
		}
		d.out = append(d.out, DocChange{Collection: col, DocID: r.ID, HasV: true, Create: b})
	}
	return d.out, nil
}

// cellOp is one json0 component of a record change.
type cellOp struct {
	P  []string        `json:"p"`
	OD json.RawMessage `json:"od,omitempty"`
	OI json.RawMessage `json:"oi,omitempty"`
}

func (d *docDiffer) rowsUpdated(ev *RowsUpdated) ([]DocChange, error) {
	col := RecordCollection(ev.TableID)
	if h := ev.Row; h != nil && ev.Op != nil { // a submit's compact event
		ch := DocChange{Collection: col, DocID: h.ID, V: h.Version - 1, HasV: h.Version > 0, Op: ev.Op}
		if rp := ev.ReplyTo(col, h.ID); rp != nil {
			ch.Fix = rp.Fixup
		}
		return append(d.out, ch), nil
	}
	before := make(map[int64]Row, len(ev.RowsBefore))
	for _, r := range ev.RowsBefore {
		before[r.ID] = r
	}
	for _, r := range ev.Rows {
		ch := DocChange{Collection: col, DocID: r.ID, V: r.Version - 1, HasV: r.Version > 0}
		if ev.Op != nil && len(ev.Rows) == 1 {
			ch.Op = ev.Op // a submit: the op as it was applied
			if rp := ev.ReplyTo(col, r.ID); rp != nil {
				ch.Fix = rp.Fixup
			}
			d.out = append(d.out, ch)
			continue
		}
		old := before[r.ID]
		var comps []cellOp
		for _, fid := range ev.UpdatedFieldIDs {
			oldV, hadOld := old.Fields[fid]
			newV, hasNew := r.Fields[fid]
			if (hadOld && hasNew && SameJSON(oldV, newV)) || (!hadOld && !hasNew) {
				continue
			}
			c := cellOp{P: []string{"fields", strconv.FormatInt(fid, 10)}}
			if hadOld {
				c.OD = oldV
			}
			if hasNew {
				c.OI = newV
			}
			comps = append(comps, c)
		}
		if old.Order != "" && old.Order != r.Order {
			comps = append(comps, cellOp{P: []string{"order"}, OD: quote(old.Order), OI: quote(r.Order)})
		}
		if len(comps) == 0 {
			// The version moved with nothing visible changed (a value
			// rewritten as it was): the log still needs the version.
			ch.Op = json.RawMessage(`[]`)
		} else {
			b, err := json.Marshal(comps)
			if err != nil {
				return nil, err
			}
			ch.Op = b
		}
		d.out = append(d.out, ch)
	}
	return d.out, nil
}

func quote(s string) json.RawMessage { return json.RawMessage(strconv.Quote(s)) }

func (d *docDiffer) rowsDeleted(ev *RowsDeleted) []DocChange {
	col := RecordCollection(ev.TableID)
	for _, r := range ev.Rows {
		d.out = append(d.out, DocChange{Collection: col, DocID: r.ID, V: r.Version, HasV: r.Version > 0, Del: true})
	}
	return d.out
}

func (d *docDiffer) created(col string, id int64, v any) ([]DocChange, error) {
	b, err := DocData(v)
	if err != nil {
		return nil, err
	}
	d.out = append(d.out, DocChange{Collection: col, DocID: id, HasV: true, Create: b})
	return d.out, nil
}

// replaced renders an update that left the document at version after: the
// submitted op when there is one, else one od/oi component per top-level
// member that changed (so that concurrent edits of different members
// transform without losing either).
func (d *docDiffer) replaced(col string, id, after int64, before, now any, op json.RawMessage) ([]DocChange, error) {
	ch := DocChange{Collection: col, DocID: id, V: after - 1, HasV: after > 0}
	if op != nil {
		ch.Op = op
		d.out = append(d.out, ch)
		return d.out, nil
	}
	b, err := memberDiff(before, now)
	if err != nil {
		return nil, err
	}
	ch.Op = b
	d.out = append(d.out, ch)
	return d.out, nil
}

// memberDiff is the json0 op turning before's data into after's, one
// component per changed top-level member, by member name.
func memberDiff(before, after any) (json.RawMessage, error) {
	bm, _, err := docData(before)
	if err != nil {
		return nil, err
	}
	am, _, err := docData(after)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(am)+len(bm))
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	comps := []cellOp{}
	for _, k := range keys {
		o, had := bm[k]
		n, has := am[k]
		if had && has && SameJSON(o, n) {
			continue
		}
		c := cellOp{P: []string{k}}
		if had {
			c.OD = o
		}
		if has {
			c.OI = n
		}
		comps = append(comps, c)
	}
	return json.Marshal(comps)
}

func (d *docDiffer) deleted(col string, id, last int64) []DocChange {
	d.out = append(d.out, DocChange{Collection: col, DocID: id, V: last, HasV: last > 0, Del: true})
	return d.out
}

func (d *docDiffer) fieldUpdated(ev *FieldUpdated) ([]DocChange, error) {
	col := FieldCollection(ev.TableID)
	if _, err := d.replaced(col, ev.Field.ID, ev.Field.Version, ev.FieldBefore, ev.Field, ev.Op); err != nil {
		return nil, err
	}
	was := make(map[int64]table.Field, len(ev.RelatedBefore))
	for _, f := range ev.RelatedBefore {
		was[f.ID] = f
	}
	for _, f := range ev.RelatedFields {
		b, ok := was[f.ID]
		if !ok {
			return nil, fmt.Errorf("service: field_updated: related field %d without its state before", f.ID)
		}
		if _, err := d.replaced(col, f.ID, f.Version, b, f, nil); err != nil {
			return nil, err
		}
	}
	return d.viewsChanged(ev.TableID, ev.ViewsChanged, ev.ViewsBefore)
}

func (d *docDiffer) fieldDeleted(ev *FieldDeleted) ([]DocChange, error) {
	d.deleted(FieldCollection(ev.TableID), ev.FieldID, ev.Field.Version)
	return d.viewsChanged(ev.TableID, ev.ViewsChanged, ev.ViewsBefore)
}

func (d *docDiffer) viewsChanged(tableID int64, views, before []table.View) ([]DocChange, error) {
	col := ViewCollection(tableID)
	was := make(map[int64]table.View, len(before))
	for _, v := range before {
		was[v.ID] = v
	}
	for _, v := range views {
		b, ok := was[v.ID]
		if !ok {
			return nil, fmt.Errorf("service: view %d changed without its state before", v.ID)
		}
		if _, err := d.replaced(col, v.ID, v.Version, b, v, nil); err != nil {
			return nil, err
		}
	}
	return d.out, nil
}

// SameJSON reports whether two JSON values are equal, whatever their
// spacing (PostgreSQL's JSONB writes "[1, 2]").
func SameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
