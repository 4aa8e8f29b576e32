package baserow

import (
	"slices"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// rowWriter writes rows in Baserow's shape:
// {"id":5,"order":"1.00000000000000000000","field_7":<value>,...}, cells in
// ascending field id, values in Baserow's shapes (render_values.go) for
// the fields known; without the table's definitions (fields nil), values
// go as the store keeps them, but numbers: the event says which fields are
// numbers and their places, so a number is still Baserow's decimal string.
type rowWriter struct {
	fields map[int64]*table.Field
	places event.Decimals // the event's number fields and their places
	keys   []int64        // reused between rows
}

// row writes r with every field it has, or, when only is not nil, with
// the fields of only (ascending) that it has.
func (rw *rowWriter) row(w *buf, r *event.Row, only []int64) {
	w.raw(`{"id":`)
	w.int(r.ID)
	w.raw(`,"order":`)
	w.str(r.Order)
	ids := only
	if only == nil {
		rw.keys = rw.keys[:0]
		for id := range r.Fields {
			rw.keys = append(rw.keys, id)
		}
		slices.Sort(rw.keys)
		ids = rw.keys
	}
	for _, id := range ids {
		v, ok := r.Fields[id]
		if !ok {
			continue
		}
		w.raw(`,"field_`)
		w.int(id)
		w.raw(`":`)
		if f := rw.fields[id]; f != nil || rw.places == nil {
			cell(w, f, v)
		} else if places, isNumber := rw.places[id]; isNumber {
			if s, ok := decimalText(v, places); ok {
				w.str(s)
			} else {
				w.bytes(v)
			}
		} else {
			cell(w, nil, v)
		}
	}
	w.raw("}")
}

// rows writes a JSON array of rows.
func (rw *rowWriter) rows(w *buf, rows []event.Row, only []int64) {
	w.raw("[")
	for i := range rows {
		if i > 0 {
			w.raw(",")
		}
		rw.row(w, &rows[i], only)
	}
	w.raw("]")
}

// tableShape is a table as Baserow sends it; its workspace is Baserow's
// database.
type tableShape struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Order      int    `json:"order"`
	DatabaseID int64  `json:"database_id"`
}

func tableOut(t event.Table) tableShape {
	return tableShape{ID: t.ID, Name: t.Name, Order: t.Order, DatabaseID: t.WorkspaceID}
}
