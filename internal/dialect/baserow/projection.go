package baserow

import (
	"slices"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// project renders the event for the pages of one public view: the view's
// projection, computed here once and shared by every socket of the view.
// It returns nil when the view sees nothing of the event.
//
//   - Rows: only the rows the view's filters match, with only the fields
//     the view shows. An update that moves a row into the filter is a
//     rows_created, out of it a rows_deleted; table_id is 0, metadata {}.
//   - A change of the view's filters or sorts, or of a field its filters
//     or sorts read: force_view_rows_refresh. A change of the view itself
//     (name, hidden fields) or of a field it shows, a new field:
//     force_view_refresh. Both name the view by its slug.
//   - A view made private, given a new password or deleted is not
//     rendered: its pages are discarded (Server.HandleEvent).
//
// vd is the view as it was before the event (nil: not public then).
func (ev *tableEvent) project(vd *viewDef, slug string) []byte {
	if vd == nil {
		return nil
	}
	switch {
	case ev.rowsCreated != nil:
		return ev.projectCreated(vd)
	case ev.rowsUpdated != nil:
		return ev.projectUpdated(vd)
	case ev.rowsDeleted != nil:
		return ev.projectDeleted(vd)
	}
	switch ev.refreshFor(vd) {
	case refreshView:
		return ev.viewRefreshFrame(vd, slug)
	case refreshRows:
		return ev.forceFrame(TypeForceRowsRefresh, slug)
	}
	return nil
}

type refresh uint8

const (
	refreshNone refresh = iota
	refreshRows
	refreshView
)

// refreshFor decides what a field or view event means for a view. It reads
// the view as the event carries it (views_before, views_changed,
// view_before) and, for a view the event did not change, vd's: the
// definitions may already be those after the event.
func (ev *tableEvent) refreshFor(vd *viewDef) refresh {
	id := vd.View.ID
	switch {
	case ev.fieldCreate != nil:
		return refreshView // a new field is shown: no view hides a field before it exists
	case ev.fieldUpdate != nil:
		e := ev.fieldUpdate
		before, after, changed := viewAround(vd, e.ViewsBefore, e.ViewsChanged)
		touched := append([]int64{e.Field.ID}, fieldIDs(e.RelatedFields)...)
		for _, f := range touched {
			if before.Visible(f) || after.Visible(f) {
				return refreshView
			}
		}
		if changed {
			return max(viewChange(before, after), refreshRows)
		}
		for _, f := range touched {
			if readsField(before, f) {
				return refreshRows // a renamed choice, a new type: the filter may match other rows
			}
		}
	case ev.fieldDelete != nil:
		e := ev.fieldDelete
		before, after, changed := viewAround(vd, e.ViewsBefore, e.ViewsChanged)
		if before.Visible(e.FieldID) {
			return refreshView
		}
		if changed {
			// The deleted field leaves the hidden list: not a change of what
			// the view shows. Its filters and sorts going is one of its rows.
			b := before.Clone()
			b.HiddenFieldIDs = slices.DeleteFunc(b.HiddenFieldIDs, func(f int64) bool { return f == e.FieldID })
			return viewChange(*b, after)
		}
	case ev.viewUpdate != nil:
		e := ev.viewUpdate
		if e.View.ID != id || !e.View.Public {
			return refreshNone
		}
		return viewChange(e.ViewBefore, e.View)
	}
	return refreshNone
}

// viewAround returns the view before and after a field event: as the
// event carries it when it changed the view, else vd's.
func viewAround(vd *viewDef, before, after []table.View) (table.View, table.View, bool) {
	a, changed := findView(after, vd.View.ID)
	if !changed {
		return vd.View, vd.View, false
	}
	b, ok := findView(before, vd.View.ID)
	if !ok {
		b = vd.View
	}
	return b, a, true
}

// viewChange compares a view before and after a change.
func viewChange(before, after table.View) refresh {
	if before.Name != after.Name || before.Type != after.Type || !slices.Equal(before.HiddenFieldIDs, after.HiddenFieldIDs) {
		return refreshView
	}
	if before.FilterType != after.FilterType || !slices.Equal(before.Filters, after.Filters) || !slices.Equal(before.Sorts, after.Sorts) {
		return refreshRows
	}
	return refreshNone
}

// readsField reports whether a view's filters or sorts read a field.
func readsField(v table.View, fieldID int64) bool {
	for _, f := range v.Filters {
		if f.FieldID == fieldID {
			return true
		}
	}
	for _, s := range v.Sorts {
		if s.FieldID == fieldID {
			return true
		}
	}
	return false
}

func findView(views []table.View, id int64) (table.View, bool) {
	for _, v := range views {
		if v.ID == id {
			return v, true
		}
	}
	return table.View{}, false
}

func fieldIDs(fs []table.Field) []int64 {
	ids := make([]int64, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}

// viewRefreshFrame is force_view_refresh as Baserow's public page reads
// it: the view (named by its slug) and the fields it shows, both as they
// are after the event, which the definitions held may not be yet.
func (ev *tableEvent) viewRefreshFrame(vd *viewDef, slug string) []byte {
	view := vd.View
	fields := ev.fields()
	switch {
	case ev.viewUpdate != nil:
		view = ev.viewUpdate.View
	case ev.fieldCreate != nil:
		fields = withField(fields, &ev.fieldCreate.Field)
	case ev.fieldUpdate != nil:
		e := ev.fieldUpdate
		fields = withField(fields, &e.Field)
		for i := range e.RelatedFields {
			fields = withField(fields, &e.RelatedFields[i])
		}
		if v, ok := findView(e.ViewsChanged, view.ID); ok {
			view = v
		}
	case ev.fieldDelete != nil:
		e := ev.fieldDelete
		fields = withField(fields, nil)
		delete(fields, e.FieldID)
		if v, ok := findView(e.ViewsChanged, view.ID); ok {
			view = v
		}
	}
	if view.Slug == "" {
		view.Slug = slug
	}
	info, shown := publicInfo(view, fields)
	var w buf
	w.open(TypeForceViewRefresh)
	w.key("view_id")
	w.str(slug)
	w.key("view")
	if w.value(info) != nil {
		return ev.forceFrame(TypeForceRowsRefresh, slug)
	}
	w.key("fields")
	if w.value(shown) != nil {
		return ev.forceFrame(TypeForceRowsRefresh, slug)
	}
	w.eventID(ev.p.Offset)
	return w.frame()
}

// withField returns a copy of fields with f in it (nil: only the copy).
func withField(fields map[int64]*table.Field, f *table.Field) map[int64]*table.Field {
	out := make(map[int64]*table.Field, len(fields)+1)
	for id, g := range fields {
		out[id] = g
	}
	if f != nil {
		out[f.ID] = f
	}
	return out
}

func (ev *tableEvent) forceFrame(typ, slug string) []byte {
	var w buf
	w.open(typ)
	w.key("view_id")
	w.str(slug)
	w.eventID(ev.p.Offset)
	return w.frame()
}

func (ev *tableEvent) projectCreated(vd *viewDef) []byte {
	in := vd.Matching(ev.rowsCreated.Rows)
	if len(in) == 0 {
		return nil
	}
	return ev.publicCreated(vd, in)
}

func (ev *tableEvent) publicCreated(vd *viewDef, rows []event.Row) []byte {
	var w buf
	w.open(event.EventRowsCreated)
	w.raw(`,"table_id":0,"rows":`)
	ev.rw.rows(&w, rows, vd.Visible)
	w.raw(`,"metadata":{},"before_row_id":null`)
	w.eventID(ev.p.Offset)
	return w.frame()
}

func (ev *tableEvent) publicDeleted(vd *viewDef, rows []event.Row) []byte {
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var w buf
	w.open(event.EventRowsDeleted)
	w.raw(`,"table_id":0,"row_ids":`)
	w.ids(ids)
	w.key("rows")
	ev.rw.rows(&w, rows, vd.Visible)
	w.eventID(ev.p.Offset)
	return w.frame()
}

func (ev *tableEvent) projectDeleted(vd *viewDef) []byte {
	in := vd.Matching(ev.rowsDeleted.Rows)
	if len(in) == 0 {
		return nil
	}
	return ev.publicDeleted(vd, in)
}

// projectUpdated sorts the updated rows by where they were and are: out of
// the filter (rows_deleted), still in it with a shown field changed
// (rows_updated), into it (rows_created). A row that stays out, or stays
// in with only hidden fields changed, is not mentioned.
func (ev *tableEvent) projectUpdated(vd *viewDef) []byte {
	u := vd.ProjectUpdated(ev.rowsUpdated)
	left, stayedBefore, stayed, entered, shownIDs := u.Left, u.StayedBefore, u.Stayed, u.Entered, u.ShownIDs
	var frames []byte
	if len(left) > 0 {
		frames = append(frames, ev.publicDeleted(vd, left)...)
	}
	if len(stayed) > 0 {
		var w buf
		w.open(event.EventRowsUpdated)
		w.raw(`,"table_id":0,"rows_before_update":`)
		ev.rw.rows(&w, stayedBefore, vd.Visible)
		w.key("rows")
		ev.rw.rows(&w, stayed, vd.Visible)
		w.raw(`,"metadata":{}`)
		w.key("updated_field_ids")
		w.ids(shownIDs)
		w.eventID(ev.p.Offset)
		frames = append(frames, w.frame()...)
	}
	if len(entered) > 0 {
		frames = append(frames, ev.publicCreated(vd, entered)...)
	}
	return frames
}
