package baserow

import (
	"encoding/json"

	"github.com/tablecast/tablecast/internal/dialect/publicview"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/table"
)

// event is one decoded store event of a table's stream, with what every
// page's rendering shares.
type event struct {
	p       *hub.Publication
	tableID int64

	rowsCreated *service.RowsCreated
	rowsUpdated *service.RowsUpdated
	rowsDeleted *service.RowsDeleted
	fieldCreate *service.FieldCreated
	fieldUpdate *service.FieldUpdated
	fieldDelete *service.FieldDeleted
	viewCreate  *service.ViewCreated
	viewUpdate  *viewUpdated
	viewDelete  *service.ViewDeleted
	tableUpdate *service.TableUpdated
	tableDelete *service.TableDeleted

	// defs are the table's definitions the event is rendered with (nil
	// when they could not be read: values then go as stored).
	defs *publicview.TableDefs
	rw   rowWriter
}

// meta is the head of the event's payload.
func (ev *event) meta() *service.TableMeta {
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
	return &service.TableMeta{}
}

// fields are the table's fields the event is rendered with (nil: unknown).
func (ev *event) fields() map[int64]*table.Field {
	if ev.defs == nil {
		return nil
	}
	return ev.defs.Fields
}

// viewUpdated is view_updated, read with password_changed: set when the
// update gave the view a new password (tokens of the old one are void).
type viewUpdated struct {
	service.ViewUpdated
	PasswordChanged bool `json:"password_changed"`
}

// decodeEvent reads the payload of an event this dialect renders; known is
// false for the others (membership, workspaces).
func decodeEvent(p *hub.Publication, tableID int64) (ev *event, known bool, err error) {
	ev = &event{p: p, tableID: tableID}
	var v any
	switch p.Event {
	case service.EventRowsCreated:
		ev.rowsCreated = new(service.RowsCreated)
		v = ev.rowsCreated
	case service.EventRowsUpdated:
		ev.rowsUpdated = new(service.RowsUpdated)
		v = ev.rowsUpdated
	case service.EventRowsDeleted:
		ev.rowsDeleted = new(service.RowsDeleted)
		v = ev.rowsDeleted
	case service.EventFieldCreated:
		ev.fieldCreate = new(service.FieldCreated)
		v = ev.fieldCreate
	case service.EventFieldUpdated:
		ev.fieldUpdate = new(service.FieldUpdated)
		v = ev.fieldUpdate
	case service.EventFieldDeleted:
		ev.fieldDelete = new(service.FieldDeleted)
		v = ev.fieldDelete
	case service.EventViewCreated:
		ev.viewCreate = new(service.ViewCreated)
		v = ev.viewCreate
	case service.EventViewUpdated:
		ev.viewUpdate = new(viewUpdated)
		v = ev.viewUpdate
	case service.EventViewDeleted:
		ev.viewDelete = new(service.ViewDeleted)
		v = ev.viewDelete
	case service.EventTableUpdated:
		ev.tableUpdate = new(service.TableUpdated)
		v = ev.tableUpdate
	case service.EventTableDeleted:
		ev.tableDelete = new(service.TableDeleted)
		v = ev.tableDelete
	default:
		return nil, false, nil
	}
	if err := json.Unmarshal(p.Data, v); err != nil {
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
func (ev *event) tableFrame() ([]byte, error) {
	var w buf
	off := ev.p.Offset
	switch {
	case ev.rowsCreated != nil:
		e := ev.rowsCreated
		w.open(service.EventRowsCreated)
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
		w.open(service.EventFieldCreated)
		w.key("field")
		if err := w.value(fieldShape(ev.fieldCreate.Field, ev.meta().WorkspaceID, false)); err != nil {
			return nil, err
		}
		w.raw(`,"related_fields":[]`)
		w.eventID(off)
	case ev.fieldUpdate != nil:
		e := ev.fieldUpdate
		w.open(service.EventFieldUpdated)
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
		w.open(service.EventFieldDeleted)
		w.key("table_id")
		w.int(ev.tableID)
		w.key("field_id")
		w.int(e.FieldID)
		w.raw(`,"related_fields":[]`)
		w.eventID(off)
		return ev.withViews(w.frame(), e.ViewsChanged)
	case ev.viewCreate != nil:
		w.open(service.EventViewCreated)
		w.key("view")
		if err := w.value(viewOut(ev.viewCreate.View, true)); err != nil {
			return nil, err
		}
		w.eventID(off)
	case ev.viewUpdate != nil:
		return ev.viewChangeFrames(ev.viewUpdate.ViewBefore, ev.viewUpdate.View, ev.fields())
	case ev.viewDelete != nil:
		w.open(service.EventViewDeleted)
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
func (ev *event) withViews(frames []byte, views []table.View) ([]byte, error) {
	for _, v := range views {
		var w buf
		w.open(service.EventViewUpdated)
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
func (ev *event) rowsUpdatedMsg(w *buf, before, after []service.Row) {
	w.open(service.EventRowsUpdated)
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

func (ev *event) rowsDeletedMsg(w *buf, ids []int64, rows []service.Row) {
	w.open(service.EventRowsDeleted)
	w.key("table_id")
	w.int(ev.tableID)
	w.key("row_ids")
	w.ids(ids)
	w.key("rows")
	ev.rw.rows(w, rows, nil)
	w.eventID(ev.p.Offset)
}
