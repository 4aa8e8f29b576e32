// Package publicview is what the dialects that serve public views share:
// the view definitions of a table, read through a Store and compiled (the
// view's filter, the fields it shows), kept per node and read again after
// the table's schema changes; and the projection of row events through a
// view: which rows the view sees created, changed, entering or leaving its
// filter. The Baserow dialect renders the projection as Baserow's
// messages, the native dialect as `op` messages on publicview_<slug>.
package publicview

import (
	"context"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// Store reads a table's public views.
type Store interface {
	// TableViews reads a table's fields and its public views, and the
	// table stream's offset they were read at, in one snapshot.
	TableViews(ctx context.Context, tableID int64) (TableViews, error)
}

// TableViews is what the projections of one table need.
type TableViews struct {
	Fields []table.Field
	Views  []table.View // the public ones
	Offset uint64       // the table stream's offset at which both were read
}

// Match reports whether the view's filter matches the row (a view without
// a filter matches every row).
func (v *View) Match(r *event.Row) bool { return v.Pred.Match(r.Fields) }

// Updated is the projection of a rows_updated event through a view.
type Updated struct {
	// Left are the rows the filter matched before and not after, as they
	// were; Entered those it matches only after, as they are.
	Left, Entered []event.Row
	// Stayed are the rows matched before and after with a shown field
	// changed (StayedBefore: as they were), in the event's order.
	Stayed, StayedBefore []event.Row
	// ShownIDs are the event's updated fields the view shows.
	ShownIDs []int64
}

// ProjectUpdated sorts the updated rows by where they were and are: a row
// that stays out, or stays in with only hidden fields changed, is in none
// of the lists.
func (v *View) ProjectUpdated(e *event.RowsUpdated) Updated {
	var u Updated
	for _, id := range e.UpdatedFieldIDs {
		if v.Shown[id] {
			u.ShownIDs = append(u.ShownIDs, id)
		}
	}
	for i := range e.Rows {
		after := &e.Rows[i]
		var before *event.Row
		if i < len(e.RowsBefore) && e.RowsBefore[i].ID == after.ID {
			before = &e.RowsBefore[i]
		}
		wasIn := before != nil && v.Match(before)
		isIn := v.Match(after)
		switch {
		case wasIn && isIn:
			if len(u.ShownIDs) > 0 {
				u.StayedBefore = append(u.StayedBefore, *before)
				u.Stayed = append(u.Stayed, *after)
			}
		case wasIn:
			u.Left = append(u.Left, *before)
		case isIn:
			u.Entered = append(u.Entered, *after)
		}
	}
	return u
}

// Matching returns the rows the view's filter matches (created or deleted
// rows the view sees).
func (v *View) Matching(rows []event.Row) []event.Row {
	var in []event.Row
	for i := range rows {
		if v.Match(&rows[i]) {
			in = append(in, rows[i])
		}
	}
	return in
}
