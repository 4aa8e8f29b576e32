package baserow

import (
	"slices"
	"strings"

	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/table"
)

// rowWriter writes rows in Baserow's shape:
// {"id":5,"order":"1.00000000000000000000","field_7":<value>,...}, cells in
// ascending field id, values as the store keeps them (a single select is
// its choice id, as in the REST API), but numbers: Baserow sends a number
// as a decimal string with the field's places ("2.50"), where the store
// and the other dialects hold a JSON number.
type rowWriter struct {
	keys   []int64          // reused between rows
	places service.Decimals // the event's number fields and their places
}

// row writes r with every field it has, or, when only is not nil, with
// the fields of only (ascending) that it has.
func (rw *rowWriter) row(w *buf, r *service.Row, only []int64) {
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
		switch places, isNumber := rw.places[id]; {
		case len(v) == 0:
			w.raw("null")
		case isNumber && v[0] != 'n' && v[0] != '"':
			if s, ok := table.FormatNumber(v, places); ok {
				w.str(s)
			} else {
				w.bytes(v)
			}
		default:
			w.bytes(v)
		}
	}
	w.raw("}")
}

// rows writes a JSON array of rows.
func (rw *rowWriter) rows(w *buf, rows []service.Row, only []int64) {
	w.raw("[")
	for i := range rows {
		if i > 0 {
			w.raw(",")
		}
		rw.row(w, &rows[i], only)
	}
	w.raw("]")
}

// fieldShape is a field as Baserow sends it: {"id","table_id","name",
// "type","order","primary"} and the type's options under Baserow's names
// (number_decimal_places, date_include_time, select_options).
type fieldShape struct {
	ID                  int64           `json:"id"`
	TableID             int64           `json:"table_id"`
	Name                string          `json:"name"`
	Type                table.FieldType `json:"type"`
	Order               int             `json:"order"`
	Primary             bool            `json:"primary"`
	NumberDecimalPlaces *int            `json:"number_decimal_places,omitempty"`
	DateIncludeTime     *bool           `json:"date_include_time,omitempty"`
	SelectOptions       *[]table.Choice `json:"select_options,omitempty"`
}

func fieldOut(f table.Field) fieldShape {
	s := fieldShape{ID: f.ID, TableID: f.TableID, Name: f.Name, Type: f.Type, Order: f.Order, Primary: f.Primary}
	switch f.Type {
	case table.TypeNumber:
		d := f.Options.Decimals
		s.NumberDecimalPlaces = &d
	case table.TypeDate:
		it := f.Options.IncludeTime
		s.DateIncludeTime = &it
	case table.TypeSingleSelect, table.TypeMultipleSelect:
		cs := f.Options.Choices
		if cs == nil {
			cs = []table.Choice{}
		}
		s.SelectOptions = &cs
	}
	return s
}

func fieldsOut(fs []table.Field) []fieldShape {
	out := make([]fieldShape, len(fs))
	for i, f := range fs {
		out[i] = fieldOut(f)
	}
	return out
}

// viewShape is a view as Baserow sends it, filters and sortings included,
// and the hidden fields (tablecast's view model has them on the view;
// Baserow sends them as field options).
type viewShape struct {
	ID             int64         `json:"id"`
	TableID        int64         `json:"table_id"`
	Name           string        `json:"name"`
	Type           string        `json:"type"`
	Order          int           `json:"order"`
	FilterType     string        `json:"filter_type"`
	Filters        []filterShape `json:"filters"`
	Sortings       []sortShape   `json:"sortings"`
	Public         bool          `json:"public"`
	Slug           *string       `json:"slug"`
	HiddenFieldIDs []int64       `json:"hidden_field_ids"`
}

type filterShape struct {
	View  int64  `json:"view"`
	Field int64  `json:"field"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type sortShape struct {
	View  int64  `json:"view"`
	Field int64  `json:"field"`
	Order string `json:"order"` // ASC or DESC
}

func viewOut(v table.View) viewShape {
	s := viewShape{ID: v.ID, TableID: v.TableID, Name: v.Name, Type: v.Type, Order: v.Order, FilterType: v.FilterType,
		Filters: make([]filterShape, len(v.Filters)), Sortings: make([]sortShape, len(v.Sorts)), Public: v.Public,
		HiddenFieldIDs: v.HiddenFieldIDs}
	if s.Type == "" {
		s.Type = table.ViewGrid
	}
	if s.FilterType == "" {
		s.FilterType = table.FilterAnd
	}
	if v.Slug != "" {
		slug := v.Slug
		s.Slug = &slug
	}
	if s.HiddenFieldIDs == nil {
		s.HiddenFieldIDs = []int64{}
	}
	for i, f := range v.Filters {
		s.Filters[i] = filterShape{View: v.ID, Field: f.FieldID, Type: table.CanonicalFilterType(f.Type), Value: string(f.Value)}
	}
	for i, o := range v.Sorts {
		s.Sortings[i] = sortShape{View: v.ID, Field: o.FieldID, Order: strings.ToUpper(o.Order)}
		if s.Sortings[i].Order != "DESC" {
			s.Sortings[i].Order = "ASC"
		}
	}
	return s
}

// tableShape is a table as Baserow sends it; its workspace is Baserow's
// database.
type tableShape struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Order      int    `json:"order"`
	DatabaseID int64  `json:"database_id"`
}

func tableOut(t service.Table) tableShape {
	return tableShape{ID: t.ID, Name: t.Name, Order: t.Order, DatabaseID: t.WorkspaceID}
}
