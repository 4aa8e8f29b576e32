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
//   - fields and views: field_T and view_T, created with their REST shape,
//     replaced whole on update (json0 od/oi at the root), deleted;
//   - tables: table_W.
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
			if hadOld && hasNew && string(oldV) == string(newV) {
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

// whole renders a create, a whole replacement or a delete of a document that
// has no version of its own yet (fields, views, tables).
func (r *eventRender) whole(col, doc string, before, after any, created, deleted bool, meta service.TableMeta) error {
	switch {
	case created:
		r.add(col, doc, opData{V: version(0), Create: after}, meta)
	case deleted:
		r.add(col, doc, opData{Del: true}, meta)
	default:
		od, err := json.Marshal(before)
		if err != nil {
			return err
		}
		oi, err := json.Marshal(after)
		if err != nil {
			return err
		}
		r.add(col, doc, opData{Op: []json0{{P: []any{}, OD: od, OI: oi}}}, meta)
	}
	return nil
}

func (r *eventRender) field() error {
	col := func(meta service.TableMeta) string { return "field_" + strconv.FormatInt(meta.TableID, 10) }
	switch r.p.Event {
	case service.EventFieldCreated:
		var ev service.FieldCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.Field.ID, 10), nil, ev.Field, true, false, ev.TableMeta)
	case service.EventFieldUpdated:
		var ev service.FieldUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		if err := r.whole(col(ev.TableMeta), strconv.FormatInt(ev.Field.ID, 10), ev.FieldBefore, ev.Field, false, false, ev.TableMeta); err != nil {
			return err
		}
		return r.viewsChanged(ev.ViewsChanged, ev.TableMeta)
	default:
		var ev service.FieldDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		if err := r.whole(col(ev.TableMeta), strconv.FormatInt(ev.FieldID, 10), nil, nil, false, true, ev.TableMeta); err != nil {
			return err
		}
		return r.viewsChanged(ev.ViewsChanged, ev.TableMeta)
	}
}

// viewsChanged renders the views a field change rewrote, replaced whole (a
// json0 oi at the root; the event does not carry their previous state).
func (r *eventRender) viewsChanged(views []table.View, meta service.TableMeta) error {
	col := "view_" + strconv.FormatInt(meta.TableID, 10)
	for _, v := range views {
		r.add(col, strconv.FormatInt(v.ID, 10), opData{Op: []json0{{P: []any{}, OI: mustJSON(v)}}}, meta)
	}
	return nil
}

func (r *eventRender) view() error {
	col := func(meta service.TableMeta) string { return "view_" + strconv.FormatInt(meta.TableID, 10) }
	switch r.p.Event {
	case service.EventViewCreated:
		var ev service.ViewCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.View.ID, 10), nil, ev.View, true, false, ev.TableMeta)
	case service.EventViewUpdated:
		var ev service.ViewUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.View.ID, 10), ev.ViewBefore, ev.View, false, false, ev.TableMeta)
	default:
		var ev service.ViewDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.ViewID, 10), nil, nil, false, true, ev.TableMeta)
	}
}

func (r *eventRender) table() error {
	col := func(meta service.TableMeta) string { return "table_" + strconv.FormatInt(meta.WorkspaceID, 10) }
	switch r.p.Event {
	case service.EventTableCreated:
		var ev service.TableCreated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.Table.ID, 10), nil, ev.Table, true, false, ev.TableMeta)
	case service.EventTableUpdated:
		var ev service.TableUpdated
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.Table.ID, 10), ev.TableBefore, ev.Table, false, false, ev.TableMeta)
	default:
		var ev service.TableDeleted
		if err := json.Unmarshal(r.p.Data, &ev); err != nil {
			return err
		}
		return r.whole(col(ev.TableMeta), strconv.FormatInt(ev.Table.ID, 10), nil, nil, false, true, ev.TableMeta)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
