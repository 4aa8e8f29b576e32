package baserow

import (
	"encoding/json"

	"github.com/tablecast/tablecast/internal/dialect/publicview"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/table"
)

// tableEvent is one decoded store event of a table's stream, with what every
// page's rendering shares.
type tableEvent struct {
	p       *hub.Publication
	tableID int64

	rowsCreated *event.RowsCreated
	rowsUpdated *event.RowsUpdated
	rowsDeleted *event.RowsDeleted
	fieldCreate *event.FieldCreated
	fieldUpdate *event.FieldUpdated
	fieldDelete *event.FieldDeleted
	viewCreate  *event.ViewCreated
	viewUpdate  *viewUpdated
	viewDelete  *event.ViewDeleted
	tableUpdate *event.TableUpdated
	tableDelete *event.TableDeleted

	// defs are the table's definitions the event is rendered with (nil
	// when they could not be read: values then go as stored).
	defs *publicview.TableDefs
	rw   rowWriter
}

// meta is the head of the event's payload.
func (ev *tableEvent) meta() *event.TableMeta {
	switch {
	case ev.rowsCreated != nil:
		return &ev.rowsCreated.TableMeta
	case ev.rowsUpdated != nil:
		return &ev.rowsUpdated.TableMeta
	case ev.rowsDeleted != nil:
		return &ev.rowsDeleted.TableMeta
	case ev.fieldCreate != nil:
		return &ev.fieldCreate.TableMeta
	case ev.fieldUpdate != nil:
		return &ev.fieldUpdate.TableMeta
	case ev.fieldDelete != nil:
		return &ev.fieldDelete.TableMeta
	case ev.viewCreate != nil:
		return &ev.viewCreate.TableMeta
	case ev.viewUpdate != nil:
		return &ev.viewUpdate.TableMeta
	case ev.viewDelete != nil:
		return &ev.viewDelete.TableMeta
	case ev.tableUpdate != nil:
		return &ev.tableUpdate.TableMeta
	case ev.tableDelete != nil:
		return &ev.tableDelete.TableMeta
	}
	return &event.TableMeta{}
}

// fields are the table's fields the event is rendered with (nil: unknown).
func (ev *tableEvent) fields() map[int64]*table.Field {
	if ev.defs == nil {
		return nil
	}
	return ev.defs.Fields
}

// viewUpdated is view_updated, read with password_changed: set when the
// update gave the view a new password (tokens of the old one are void).
type viewUpdated struct {
	event.ViewUpdated
	PasswordChanged bool `json:"password_changed"`
}

// decodeEvent reads the payload of an event this dialect renders; known is
// false for the others (membership, workspaces).
func decodeEvent(p *hub.Publication, tableID int64, data []byte) (ev *tableEvent, known bool, err error) {
	ev = &tableEvent{p: p, tableID: tableID}
	var v any
	switch p.Event {
	case event.EventRowsCreated:
		ev.rowsCreated = new(event.RowsCreated)
		v = ev.rowsCreated
	case event.EventRowsUpdated:
		ev.rowsUpdated = new(event.RowsUpdated)
		v = ev.rowsUpdated
	case event.EventRowsDeleted:
		ev.rowsDeleted = new(event.RowsDeleted)
		v = ev.rowsDeleted
	case event.EventFieldCreated:
		ev.fieldCreate = new(event.FieldCreated)
		v = ev.fieldCreate
	case event.EventFieldUpdated:
		ev.fieldUpdate = new(event.FieldUpdated)
		v = ev.fieldUpdate
	case event.EventFieldDeleted:
		ev.fieldDelete = new(event.FieldDeleted)
		v = ev.fieldDelete
	case event.EventViewCreated:
		ev.viewCreate = new(event.ViewCreated)
		v = ev.viewCreate
	case event.EventViewUpdated:
		ev.viewUpdate = new(viewUpdated)
		v = ev.viewUpdate
	case event.EventViewDeleted:
		ev.viewDelete = new(event.ViewDeleted)
		v = ev.viewDelete
	case event.EventTableUpdated:
		ev.tableUpdate = new(event.TableUpdated)
		v = ev.tableUpdate
	case event.EventTableDeleted:
		ev.tableDelete = new(event.TableDeleted)
		v = ev.tableDelete
	default:
		return nil, false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, true, err
	}
	switch {
	case ev.rowsCreated != nil:
		ev.rw.places = ev.rowsCreated.Decimals
	case ev.rowsUpdated != nil:
		ev.rw.places = ev.rowsUpdated.Decimals
	case ev.rowsDeleted != nil:
		ev.rw.places = ev.rowsDeleted.Decimals
	}
	return ev, true, nil
}

// tableFrame renders the event for the table page: Baserow's message for
// it, and for a field change that rewrote views, a view_updated for each
// (one output: the frames of one event reach a socket together).
func (ev *tableEvent) tableFrame() ([]byte, error) {
	var w buf
	off := ev.p.Offset
	switch {
	case ev.rowsCreated != nil:
		e := ev.rowsCreated
		w.open(event.EventRowsCreated)
		w.key("table_id")
		w.int(ev.tableID)
		w.key("rows")
		ev.rw.rows(&w, e.Rows, nil)
		w.raw(`,"metadata":{},"before_row_id":`)
		if e.BeforeRowID != nil {
			w.int(*e.BeforeRowID)
		} else {
			w.raw("null")
		}
		w.eventID(off)
	case ev.rowsUpdated != nil:
		ev.rowsUpdatedMsg(&w, ev.rowsUpdated.RowsBefore, ev.rowsUpdated.Rows)
	case ev.rowsDeleted != nil:
		ev.rowsDeletedMsg(&w, ev.rowsDeleted.RowIDs, ev.rowsDeleted.Rows)
	case ev.fieldCreate != nil:
		w.open(event.EventFieldCreated)
		w.key("field")
		if err := w.value(fieldShape(ev.fieldCreate.Field, ev.meta().WorkspaceID, false)); err != nil {
			return nil, err
		}
		w.raw(`,"related_fields":[]`)
		w.eventID(off)
	case ev.fieldUpdate != nil:
		e := ev.fieldUpdate
		w.open(event.EventFieldUpdated)
		w.key("field_id")
		w.int(e.Field.ID)
		w.key("field")
		if err := w.value(fieldShape(e.Field, e.WorkspaceID, false)); err != nil {
			return nil, err
		}
		w.key("related_fields")
		if err := w.value(fieldShapes(e.RelatedFields, e.WorkspaceID, false)); err != nil {
			return nil, err
		}
		w.eventID(off)
		return ev.withViews(w.frame(), e.ViewsChanged)
	case ev.fieldDelete != nil:
		e := ev.fieldDelete
		w.open(event.EventFieldDeleted)
		w.key("table_id")
		w.int(ev.tableID)
		w.key("field_id")
		w.int(e.FieldID)
		w.raw(`,"related_fields":[]`)
		w.eventID(off)
		return ev.withViews(w.frame(), e.ViewsChanged)
	case ev.viewCreate != nil:
		w.open(event.EventViewCreated)
		w.key("view")
		if err := w.value(viewOut(ev.viewCreate.View, true)); err != nil {
			return nil, err
		}
		w.eventID(off)
	case ev.viewUpdate != nil:
		return ev.viewChangeFrames(ev.viewUpdate.ViewBefore, ev.viewUpdate.View, ev.fields())
	case ev.viewDelete != nil:
		w.open(event.EventViewDeleted)
		w.key("table_id")
		w.int(ev.tableID)
		w.key("view_id")
		w.int(ev.viewDelete.ViewID)
		w.eventID(off)
	case ev.tableUpdate != nil, ev.tableDelete != nil:
		// Every member's socket has them from the workspace's stream
		// (workspace.go), the table page's included: not twice.
		return nil, nil
	default:
		return nil, nil
	}
	return w.frame(), nil
}

// withViews appends a view_updated frame for each view to frames, each
// with its filters and sortings: a field change that rewrote views (a
// deleted field's filters gone, a select's filters reconciled) gives the
// lists whole, which the front end takes in place of those it holds (it
// may already have dropped a deleted field's filters itself).
func (ev *tableEvent) withViews(frames []byte, views []table.View) ([]byte, error) {
	for _, v := range views {
		var w buf
		w.open(event.EventViewUpdated)
		w.key("view_id")
		w.int(v.ID)
		w.key("view")
		if err := w.value(viewOut(v, true)); err != nil {
			return nil, err
		}
		w.eventID(ev.p.Offset)
		frames = append(frames, w.frame()...)
	}
	return frames, nil
}

// rowsUpdatedMsg writes rows_updated for the table's rows (before and after,
// in the same order).
func (ev *tableEvent) rowsUpdatedMsg(w *buf, before, after []event.Row) {
	w.open(event.EventRowsUpdated)
	w.key("table_id")
	w.int(ev.tableID)
	w.key("rows_before_update")
	ev.rw.rows(w, before, nil)
	w.key("rows")
	ev.rw.rows(w, after, nil)
	w.raw(`,"metadata":{}`)
	w.key("updated_field_ids")
	w.ids(ev.rowsUpdated.UpdatedFieldIDs)
	w.eventID(ev.p.Offset)
}

func (ev *tableEvent) rowsDeletedMsg(w *buf, ids []int64, rows []event.Row) {
	w.open(event.EventRowsDeleted)
	w.key("table_id")
	w.int(ev.tableID)
	w.key("row_ids")
	w.ids(ids)
	w.key("rows")
	ev.rw.rows(w, rows, nil)
	w.eventID(ev.p.Offset)
}
