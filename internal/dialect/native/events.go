package native

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/table"
)

var _ hub.EventRenderer = renderer{}

// RenderEvent implements hub.EventRenderer: the table store's events become
// `op` messages on the documents they change, one frame per document,
// encoded once and shared by every subscriber of that document.
//
//   - rows: record_T; a created row is {"v":0,"create":<snapshot>}, a
//     changed cell is a json0 od/oi on ["fields","<field id>"] against the
//     row's version before the change, a deleted row is {"v":N,"del":true};
//   - fields and views: field_T and view_T, created with their REST shape
//     ({"v":0,"create":...}), replaced whole on update (json0 od/oi at the
//     root, v the version before), deleted ({"v":<last version>,"del":true});
//     a field_updated also replaces the other fields it changed (the former
//     primary field), and field_updated and field_deleted the views they
//     rewrote, each at its own version;
//   - tables: table_W, the same way.
//
// Events that change no document (membership) render nothing.
func (renderer) RenderEvent(p *hub.Publication) ([]hub.Output, error) {
	r := eventRender{p: p, ts: timestamp(p.Time)}
	var err error
	switch p.Event {
	case service.EventRowsCreated:
		err = r.rowsCreated()
	case service.EventRowsUpdated:
		err = r.rowsUpdated()
	case service.EventRowsDeleted:
		err = r.rowsDeleted()
	case service.EventFieldCreated, service.EventFieldUpdated, service.EventFieldDeleted:
		err = r.field()
	case service.EventViewCreated, service.EventViewUpdated, service.EventViewDeleted:
		err = r.view()
	case service.EventTableCreated, service.EventTableUpdated, service.EventTableDeleted:
		err = r.table()
	}
	if err != nil {
		return nil, fmt.Errorf("native: render %s: %w", p.Event, err)
	}
	return r.outs, nil
}

type eventRender struct {
	p    *hub.Publication
	ts   string
	outs []hub.Output
}

// opData is the data of an `op` message.
type opData struct {
	V      *int64  `json:"v,omitempty"`
	Op     []json0 `json:"op,omitempty"`
	Create any     `json:"create,omitempty"`
	Del    bool    `json:"del,omitempty"`
	Source string  `json:"source"`
	UserID string  `json:"user_id"`
}

// json0 is one json0 component (only the forms events produce).
type json0 struct {
	P  []any           `json:"p"`
	OD json.RawMessage `json:"od,omitempty"`
	OI json.RawMessage `json:"oi,omitempty"`
}

// recordSnapshot is a record document's data.
type recordSnapshot struct {
	ID     int64  `json:"id"`
	Order  string `json:"order"`
	Fields any    `json:"fields"`
}

func (r *eventRender) add(collection, document string, d opData, meta service.TableMeta) {
	d.Source, d.UserID = meta.Origin, meta.Actor
	if d.Source == "" {
		d.Source = "server"
	}
	r.outs = append(r.outs, hub.Output{
		Collection: collection,
		Document:   document,
		Frame: encode(&outbound{Type: TypeOp, Collection: collection, Document: document,
			Offset: &r.p.Offset, Data: d, Timestamp: r.ts}),
	})
}

func version(v int64) *int64 { return &v }

func (r *eventRender) rowsCreated() error {
	var ev service.RowsCreated
	if err := json.Unmarshal(r.p.Data, &ev); err != nil {
		return err
	}
	col := "record_" + strconv.FormatInt(ev.TableID, 10)
	for _, row := range ev.Rows {
		r.add(col, strconv.FormatInt(row.ID, 10), opData{
			V:      version(0),
			Create: recordSnapshot{ID: row.ID, Order: row.Order, Fields: row.Fields},
		}, ev.TableMeta)
	}
	return nil
}

func (r *eventRender) rowsUpdated() error {
	var ev service.RowsUpdated
	if err := json.Unmarshal(r.p.Data, &ev); err != nil {
		return err
	}
	col := "record_" + strconv.FormatInt(ev.TableID, 10)
	before := make(map[int64]service.Row, len(ev.RowsBefore))
	for _, row := range ev.RowsBefore {
		before[row.ID] = row
	}
	for _, row := range ev.Rows {
		old := before[row.ID]
		var comps []json0
		for _, fid := range ev.UpdatedFieldIDs {
			oldV, hadOld := old.Fields[fid]
			newV, hasNew := row.Fields[fid]
			if (hadOld && hasNew && string(oldV) == string(newV)) || (!hadOld && !hasNew) {
				continue
			}
			c := json0{P: []any{"fields", strconv.FormatInt(fid, 10)}}
			if hadOld {
				c.OD = oldV
			}
			if hasNew {
				c.OI = newV
			}
			comps = append(comps, c)
		}
		if len(comps) == 0 {
			continue
		}
		r.add(col, strconv.FormatInt(row.ID, 10), opData{V: version(row.Version - 1), Op: comps}, ev.TableMeta)
	}
	return nil
}

func (r *eventRender) rowsDeleted() error {
	var ev service.RowsDeleted
	if err := json.Unmarshal(r.p.Data, &ev); err != nil {
		return err
	}
	col := "record_" + strconv.FormatInt(ev.TableID, 10)
	for _, row := range ev.Rows {
		r.add(col, strconv.FormatInt(row.ID, 10), opData{V: version(row.Version), Del: true}, ev.TableMeta)
	}
	return nil
}

// Fields, views and tables have versions as rows do (1 when created, +1 on
// each update), so their ops are versioned the same way: a create applies to
// v 0, a whole replacement to the version before it (the version after - 1),
// a delete to the last version. An event written before versions existed
// (still in the outbox after an upgrade) carries version 0: its update and
// delete ops are then sent without v rather than with a wrong one.

// versionBefore is the v of an update that left the document at version
// after; nil when after is unknown.
func versionBefore(after int64) *int64 {
	if after < 1 {
		return nil
	}
	return version(after - 1)
}

// versionLast is the v of a delete of a document last at version last; nil
// when it is unknown.
func versionLast(last int64) *int64 {
	if last < 1 {
		return nil
	}
	return version(last)
}

// created renders a document's creation: {"v":0,"create":<data>}.
func (r *eventRender) created(col, doc string, after any, meta service.TableMeta) {
	r.add(col, doc, opData{V: version(0), Create: after}, meta)
}

// replaced renders a document replaced whole by an update that left it at
// version after: one json0 component at the root, od the document before
// (left out when before is nil: not known) and oi the document after.
func (r *eventRender) replaced(col, doc string, after int64, before, data any, meta service.TableMeta) error {
	c := json0{P: []any{}}
	if before != nil {
		od, err := json.Marshal(before)
		if err != nil {
			return err
		}
		c.OD = od
	}
	oi, err := json.Marshal(data)
	if err != nil {
		return err
	}
	c.OI = oi
	r.add(col, doc, opData{V: versionBefore(after), Op: []json0{c}}, meta)
	return nil
}

// deleted renders a document's deletion at its last version.
func (r *eventRender) deleted(col, doc string, last int64, meta service.TableMeta) {
	r.add(col, doc, opData{V: versionLast(last), Del: true}, meta)
}

func docID(n int64) string { return strconv.FormatInt(n, 10) }

func (r *eventRender) field() error {
	col := func(meta service.TableMeta) string { return "field_" + docID(meta.TableID) }
	switch r.p.Event {
	case service.EventFieldCreated:
		var ev service.FieldCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.created(col(ev.TableMeta), docID(ev.Field.ID), ev.Field, ev.TableMeta)
		return nil
	case service.EventFieldUpdated:
		var ev service.FieldUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		c := col(ev.TableMeta)
		if err := r.replaced(c, docID(ev.Field.ID), ev.Field.Version, ev.FieldBefore, ev.Field, ev.TableMeta); err != nil {
			return err
		}
		// The other fields the change updated (the former primary field).
		was := make(map[int64]table.Field, len(ev.RelatedBefore))
		for _, f := range ev.RelatedBefore {
			was[f.ID] = f
		}
		for _, f := range ev.RelatedFields {
			var old any
			if b, ok := was[f.ID]; ok {
				old = b
			}
			if err := r.replaced(c, docID(f.ID), f.Version, old, f, ev.TableMeta); err != nil {
				return err
			}
		}
		return r.viewsChanged(ev.ViewsChanged, ev.ViewsBefore, ev.TableMeta)
	default:
		var ev service.FieldDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.deleted(col(ev.TableMeta), docID(ev.FieldID), ev.Field.Version, ev.TableMeta)
		return r.viewsChanged(ev.ViewsChanged, ev.ViewsBefore, ev.TableMeta)
	}
}

// viewsChanged renders the views a field change rewrote as updates, replaced
// whole at their new versions: od is the view as it was when the event
// carries it (views_before), else left out.
func (r *eventRender) viewsChanged(views, before []table.View, meta service.TableMeta) error {
	col := "view_" + docID(meta.TableID)
	was := make(map[int64]table.View, len(before))
	for _, v := range before {
		was[v.ID] = v
	}
	for _, v := range views {
		var old any
		if b, ok := was[v.ID]; ok {
			old = b
		}
		if err := r.replaced(col, docID(v.ID), v.Version, old, v, meta); err != nil {
			return err
		}
	}
	return nil
}

func (r *eventRender) view() error {
	col := func(meta service.TableMeta) string { return "view_" + docID(meta.TableID) }
	switch r.p.Event {
	case service.EventViewCreated:
		var ev service.ViewCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.created(col(ev.TableMeta), docID(ev.View.ID), ev.View, ev.TableMeta)
		return nil
	case service.EventViewUpdated:
		var ev service.ViewUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.replaced(col(ev.TableMeta), docID(ev.View.ID), ev.View.Version, ev.ViewBefore, ev.View, ev.TableMeta)
	default:
		var ev service.ViewDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.deleted(col(ev.TableMeta), docID(ev.ViewID), ev.View.Version, ev.TableMeta)
		return nil
	}
}

func (r *eventRender) table() error {
	col := func(meta service.TableMeta) string { return "table_" + docID(meta.WorkspaceID) }
	switch r.p.Event {
	case service.EventTableCreated:
		var ev service.TableCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.created(col(ev.TableMeta), docID(ev.Table.ID), ev.Table, ev.TableMeta)
		return nil
	case service.EventTableUpdated:
		var ev service.TableUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.replaced(col(ev.TableMeta), docID(ev.Table.ID), ev.Table.Version, ev.TableBefore, ev.Table, ev.TableMeta)
	default:
		var ev service.TableDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		r.deleted(col(ev.TableMeta), docID(ev.Table.ID), ev.Table.Version, ev.TableMeta)
		return nil
	}
}
