package table

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
)

// ViewGrid is the one view type.
const ViewGrid = "grid"

// View is a saved way to look at a table: filters, sorts and hidden fields.
// A public view can be read by anyone with its slug (and its password, when
// HasPassword); the password itself is kept by the store, not here.
type View struct {
	ID             int64    `json:"id"`
	TableID        int64    `json:"table_id"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Order          int      `json:"order"`
	FilterType     string   `json:"filter_type"`
	Filters        []Filter `json:"filters"`
	Sorts          []Sort   `json:"sorts"`
	HiddenFieldIDs []int64  `json:"hidden_field_ids"`
	Public         bool     `json:"public"`
	Slug           string   `json:"slug,omitempty"`
	HasPassword    bool     `json:"has_password"`
	// Version is the stored view's version: 1 when created, +1 on each
	// update (the native protocol's document version). 0 for a view not
	// stored yet.
	Version int64 `json:"version"`
}

// MarshalJSON writes empty lists as [] and an empty filter_type as AND.
func (v View) MarshalJSON() ([]byte, error) {
	type plain View
	p := plain(v)
	fs := FilterSet{FilterType: p.FilterType, Filters: p.Filters}.written()
	p.FilterType, p.Filters = fs.FilterType, fs.Filters
	if p.Sorts == nil {
		p.Sorts = []Sort{}
	}
	if p.HiddenFieldIDs == nil {
		p.HiddenFieldIDs = []int64{}
	}
	return json.Marshal(p)
}

// Clone returns a deep copy of v.
func (v *View) Clone() *View {
	c := *v
	c.Filters = slices.Clone(v.Filters)
	c.Sorts = slices.Clone(v.Sorts)
	c.HiddenFieldIDs = slices.Clone(v.HiddenFieldIDs)
	return &c
}

// Canonicalize rewrites v's spellings into the stored ones: filter_type AND
// when empty, not_contains for contains_not, sort orders asc or desc in
// lower case (an empty one asc), hidden field ids without repeats, sorted.
// Run it after Validate accepted the view.
func (v *View) Canonicalize() {
	if v.FilterType == "" {
		v.FilterType = FilterAnd
	}
	if v.Type == "" {
		v.Type = ViewGrid
	}
	for i := range v.Filters {
		v.Filters[i].Type = CanonicalFilterType(v.Filters[i].Type)
	}
	for i := range v.Sorts {
		if desc, _ := parseSortOrder(v.Sorts[i].Order); desc {
			v.Sorts[i].Order = SortDesc
		} else {
			v.Sorts[i].Order = SortAsc
		}
	}
	slices.Sort(v.HiddenFieldIDs)
	v.HiddenFieldIDs = slices.Compact(v.HiddenFieldIDs)
}

// Validate checks the view against its table's fields. Keys: "name", "type",
// "filter_type", "filters[i].field_id|type|value", "sorts[i].field_id|order",
// "hidden_field_ids[i]". An empty Type is taken as grid. The primary field
// cannot be hidden, as in Baserow's grid view.
func (v *View) Validate(fields map[int64]*Field) *ValidationError {
	var e *ValidationError
	if msg := checkName(v.Name); msg != "" {
		e = e.Add("name", msg)
	}
	if v.Type != ViewGrid && v.Type != "" {
		e = e.Add("type", "must be grid")
	}
	if _, err := Compile(v.FilterSet(), fields); err != nil {
		e = e.Merge("", AsValidation(err, ""))
	}
	if _, err := CompileSorts(v.Sorts, fields); err != nil {
		e = e.Merge("", AsValidation(err, ""))
	}
	for i, id := range v.HiddenFieldIDs {
		key := ItemKey("hidden_field_ids", i)
		switch f := fields[id]; {
		case f == nil:
			e = e.Add(key, "field "+strconv.FormatInt(id, 10)+" does not exist")
		case f.Primary:
			e = e.Add(key, "the primary field cannot be hidden")
		}
	}
	return e
}

// FilterSet returns the view's filters as a FilterSet.
func (v *View) FilterSet() FilterSet {
	return FilterSet{FilterType: v.FilterType, Filters: v.Filters}
}

// Predicate compiles the view's filters.
func (v *View) Predicate(fields map[int64]*Field) (*Predicate, error) {
	return Compile(v.FilterSet(), fields)
}

// Sorter compiles the view's sorts.
func (v *View) Sorter(fields map[int64]*Field) (*Sorter, error) {
	return CompileSorts(v.Sorts, fields)
}

// Visible reports whether the field is shown in the view (and so, for a
// public view, sent at all).
func (v *View) Visible(fieldID int64) bool {
	return !slices.Contains(v.HiddenFieldIDs, fieldID)
}

// RemoveField drops what the view holds about a deleted field: its filters,
// its sort and its hidden entry. It reports whether the view changed, in
// which case the store saves it and tells the view's subscribers. Dropping a
// filter widens an AND view and narrows an OR view, as in Baserow.
func (v *View) RemoveField(fieldID int64) bool {
	n := len(v.Filters) + len(v.Sorts) + len(v.HiddenFieldIDs)
	v.Filters = slices.DeleteFunc(v.Filters, func(f Filter) bool { return f.FieldID == fieldID })
	v.Sorts = slices.DeleteFunc(v.Sorts, func(s Sort) bool { return s.FieldID == fieldID })
	v.HiddenFieldIDs = slices.DeleteFunc(v.HiddenFieldIDs, func(id int64) bool { return id == fieldID })
	return len(v.Filters)+len(v.Sorts)+len(v.HiddenFieldIDs) != n
}

// ReconcileField drops the view's filters on f that f, as changed, no
// longer takes: a filter type that does not apply to its new type, or a
// value it no longer accepts (a deleted choice). Baserow does the same on a
// field type change. Sorts apply to every type and stay; a field that became
// primary is shown. It reports whether the view changed.
func (v *View) ReconcileField(f *Field) bool {
	fields := map[int64]*Field{f.ID: f}
	n := len(v.Filters) + len(v.HiddenFieldIDs)
	v.Filters = slices.DeleteFunc(v.Filters, func(flt Filter) bool {
		if flt.FieldID != f.ID {
			return false
		}
		_, _, err := compileFilter(flt, fields)
		return err != nil
	})
	if f.Primary {
		v.HiddenFieldIDs = slices.DeleteFunc(v.HiddenFieldIDs, func(id int64) bool { return id == f.ID })
	}
	return len(v.Filters)+len(v.HiddenFieldIDs) != n
}

// VisibleFields returns the fields the view shows, in field order (Order,
// then id).
func (v *View) VisibleFields(fields map[int64]*Field) []*Field {
	out := make([]*Field, 0, len(fields))
	for _, f := range fields {
		if v.Visible(f.ID) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *Field) int {
		if a.Order != b.Order {
			return cmp.Compare(a.Order, b.Order)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}
