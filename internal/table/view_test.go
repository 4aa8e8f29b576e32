package table

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func testView() *View {
	return &View{
		ID: 1, TableID: 1, Name: "Open", Type: ViewGrid, FilterType: FilterAnd,
		Filters: []Filter{
			{fNum, FilterHigherThan, "10"},
			{fSingle, FilterSingleSelectEqual, "10"},
			{fNum, FilterLowerThan, "100"},
		},
		Sorts:          []Sort{{fNum, SortDesc}, {fText, SortAsc}},
		HiddenFieldIDs: []int64{fLong, fNum},
		Public:         true, Slug: "abc",
	}
}

func TestViewValidate(t *testing.T) {
	fields := testFields()
	if err := testView().Validate(fields); err != nil {
		t.Fatal(err)
	}
	v := &View{
		Name: "", Type: "kanban", FilterType: "NOR",
		Filters:        []Filter{{404, FilterEqual, "x"}, {fBool, FilterContains, "x"}, {fNum, FilterEqual, "x"}},
		Sorts:          []Sort{{405, SortAsc}, {fText, "sideways"}},
		HiddenFieldIDs: []int64{406, fText},
	}
	err := v.Validate(fields)
	want := []string{
		"name", "type", "filter_type", "filters[0].field_id", "filters[1].type", "filters[2].value",
		"sorts[0].field_id", "sorts[1].order", "hidden_field_ids[0]", "hidden_field_ids[1]",
	}
	if err == nil || len(err.Details) != len(want) {
		t.Fatalf("Validate = %v, want %v", err, want)
	}
	for _, k := range want {
		if err.Details[k] == "" {
			t.Errorf("no %s in %v", k, err.Details)
		}
	}
	if !strings.Contains(err.Details["filters[0].field_id"], "404") || !strings.Contains(err.Details["hidden_field_ids[0]"], "406") {
		t.Errorf("errors must name the unknown fields: %v", err.Details)
	}
	if !strings.Contains(err.Details["hidden_field_ids[1]"], "primary") {
		t.Errorf("hiding the primary field: %v", err.Details)
	}
}

func TestViewCanonicalize(t *testing.T) {
	v := &View{Name: "v", Filters: []Filter{{fText, FilterContainsNot, "x"}}, Sorts: []Sort{{fText, "DESC"}, {fNum, ""}}, HiddenFieldIDs: []int64{5, 2, 5}}
	if err := v.Validate(testFields()); err != nil {
		t.Fatal(err)
	}
	v.Canonicalize()
	if v.Type != ViewGrid || v.FilterType != FilterAnd || v.Filters[0].Type != FilterNotContains ||
		v.Sorts[0].Order != SortDesc || v.Sorts[1].Order != SortAsc || !slices.Equal(v.HiddenFieldIDs, []int64{2, 5}) {
		t.Errorf("Canonicalize = %+v", v)
	}
}

func TestViewPredicateSorterVisible(t *testing.T) {
	fields := testFields()
	v := testView()
	p, err := v.Predicate(fields)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match(row(fNum, `"50.00"`, fSingle, `10`)) || p.Match(row(fNum, `"150.00"`, fSingle, `10`)) {
		t.Error("view predicate")
	}
	s, err := v.Sorter(fields)
	if err != nil || !slices.Equal(s.Fields(), []int64{fNum, fText}) {
		t.Errorf("view sorter: %v %v", s.Fields(), err)
	}
	if v.Visible(fNum) || v.Visible(fLong) || !v.Visible(fText) {
		t.Error("Visible")
	}
	var ids []int64
	for _, f := range v.VisibleFields(fields) {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []int64{fText, fBool, fDate, fDateTime, fSingle, fMulti, fInt}) {
		t.Errorf("VisibleFields = %v", ids)
	}
}

func TestViewRemoveField(t *testing.T) {
	v := testView()
	if !v.RemoveField(fNum) {
		t.Fatal("RemoveField(fNum) reported no change")
	}
	if len(v.Filters) != 1 || v.Filters[0].FieldID != fSingle || len(v.Sorts) != 1 || v.Sorts[0].FieldID != fText || !slices.Equal(v.HiddenFieldIDs, []int64{fLong}) {
		t.Errorf("after RemoveField: %+v", v)
	}
	if v.RemoveField(fDate) {
		t.Error("removing an unused field changed the view")
	}
	fields := testFields()
	delete(fields, fNum)
	if err := v.Validate(fields); err != nil {
		t.Errorf("the view no longer validates without the field: %v", err)
	}
	if !v.RemoveField(fLong) || len(v.HiddenFieldIDs) != 0 {
		t.Error("removing a hidden field")
	}
}

func TestViewReconcileField(t *testing.T) {
	v := testView()
	v.Filters = append(v.Filters, Filter{fText, FilterContains, "a"})
	orig := v.Clone()

	// The same field, unchanged: nothing to do.
	if v.ReconcileField(testFields()[fNum]) {
		t.Error("an unchanged field changed the view")
	}
	// The number field becomes text: higher_than and lower_than no longer apply.
	asText := &Field{ID: fNum, Name: "Price", Type: TypeText}
	if !v.ReconcileField(asText) || len(v.Filters) != 2 {
		t.Errorf("after a type change: %+v", v.Filters)
	}
	// The choice a filter uses is deleted.
	single := testFields()[fSingle].Clone()
	single.Options.Choices = single.Options.Choices[1:]
	if !v.ReconcileField(single) || len(v.Filters) != 1 || v.Filters[0].FieldID != fText {
		t.Errorf("after a choice is deleted: %+v", v.Filters)
	}
	// A hidden field made primary is shown.
	long := testFields()[fLong].Clone()
	long.Primary = true
	if !v.ReconcileField(long) || !v.Visible(fLong) {
		t.Error("a primary field stays hidden")
	}
	if len(orig.Filters) != 4 || len(orig.HiddenFieldIDs) != 2 {
		t.Error("Clone shares slices")
	}
}

func TestViewJSON(t *testing.T) {
	b, err := json.Marshal(View{ID: 2, TableID: 1, Name: "All", Type: ViewGrid})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":2,"table_id":1,"name":"All","type":"grid","order":0,"filter_type":"AND","filters":[],"sorts":[],"hidden_field_ids":[],"public":false,"has_password":false,"version":0}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
	var v View
	if err := json.Unmarshal([]byte(`{"name":"x","filters":[{"field_id":3,"type":"higher_than","value":5}],"sorts":[{"field_id":1,"order":"asc"}]}`), &v); err != nil || v.Filters[0].Value != "5" {
		t.Errorf("decode: %+v, %v", v, err)
	}
}

func TestViewJSONVersion(t *testing.T) {
	v := View{ID: 2, TableID: 1, Name: "All", Type: ViewGrid, Version: 3}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `"has_password":false,"version":3}`) {
		t.Fatalf("JSON = %s", b)
	}
	var back View
	if err := json.Unmarshal(b, &back); err != nil || back.Version != 3 {
		t.Fatalf("read back: %+v, %v", back, err)
	}
	if c := v.Clone(); c.Version != 3 {
		t.Fatalf("Clone lost the version: %+v", c)
	}
}
