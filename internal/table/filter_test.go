package table

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// applies is the expected table of which filter types take which field
// types, written out rather than derived from FilterApplies.
var applies = map[string][]FieldType{
	FilterEqual:             {TypeText, TypeLongText, TypeNumber},
	FilterNotEqual:          {TypeText, TypeLongText, TypeNumber},
	FilterContains:          {TypeText, TypeLongText, TypeNumber, TypeDate, TypeSingleSelect, TypeMultipleSelect},
	FilterNotContains:       {TypeText, TypeLongText, TypeNumber, TypeDate, TypeSingleSelect, TypeMultipleSelect},
	FilterContainsNot:       {TypeText, TypeLongText, TypeNumber, TypeDate, TypeSingleSelect, TypeMultipleSelect},
	FilterEmpty:             {TypeText, TypeLongText, TypeNumber, TypeBoolean, TypeDate, TypeSingleSelect, TypeMultipleSelect},
	FilterNotEmpty:          {TypeText, TypeLongText, TypeNumber, TypeBoolean, TypeDate, TypeSingleSelect, TypeMultipleSelect},
	FilterHigherThan:        {TypeNumber},
	FilterLowerThan:         {TypeNumber},
	FilterBoolean:           {TypeBoolean},
	FilterSingleSelectEqual: {TypeSingleSelect},
	FilterDateEqual:         {TypeDate},
	FilterDateBefore:        {TypeDate},
	FilterDateAfter:         {TypeDate},
}

// sampleValue is a value each filter type accepts on a field it applies to.
func sampleValue(filterType string, ft FieldType) FilterValue {
	switch filterType {
	case FilterEqual, FilterNotEqual:
		if ft == TypeNumber {
			return "1"
		}
		return "x"
	case FilterHigherThan, FilterLowerThan, FilterBoolean:
		return "1"
	case FilterSingleSelectEqual:
		return "10"
	case FilterDateEqual, FilterDateBefore, FilterDateAfter:
		return "2026-01-02"
	case FilterEmpty, FilterNotEmpty:
		return ""
	}
	return "x"
}

func TestFilterApplicability(t *testing.T) {
	fields := testFields()
	for typ, ok := range applies {
		for _, f := range fields {
			flt := Filter{FieldID: f.ID, Type: typ, Value: sampleValue(typ, f.Type)}
			_, err := Compile(FilterSet{Filters: []Filter{flt}}, fields)
			want := slices.Contains(ok, f.Type)
			if want != FilterApplies(typ, f.Type) {
				t.Errorf("FilterApplies(%s, %s) = %v", typ, f.Type, !want)
			}
			if want && err != nil {
				t.Errorf("%s on %s: %v", typ, f.Type, err)
			}
			if !want && !strings.Contains(detailKeys(err)["filters[0].type"], "does not apply to "+string(f.Type)) {
				t.Errorf("%s on %s: err %v, want filters[0].type naming the field type", typ, f.Type, err)
			}
		}
	}
	if got := FilterTypes(TypeBoolean); !slices.Equal(got, []string{FilterEmpty, FilterNotEmpty, FilterBoolean}) {
		t.Errorf("FilterTypes(boolean) = %v", got)
	}
}

type matchCase struct {
	v    Values
	want bool
}

func TestFilterMatch(t *testing.T) {
	bigText := strings.Repeat("é", 300) + "Needle" + strings.Repeat("x", 300)
	tests := []struct {
		name  string
		flt   Filter
		cases []matchCase
	}{
		{"text equal", Filter{fText, FilterEqual, " ada "}, []matchCase{
			{row(fText, `"Ada"`), true}, {row(fText, `"  ADA "`), true}, {row(fText, `"Adam"`), false},
			{row(fText, `null`), false}, {row(), false}, {row(fText, `"\u0041da"`), true},
		}},
		{"text equal non-ascii", Filter{fText, FilterEqual, "émile"}, []matchCase{
			{row(fText, `"ÉMILE"`), true}, {row(fText, `"\u00c9mile"`), true}, {row(fText, `"emile"`), false},
		}},
		{"text not_equal", Filter{fText, FilterNotEqual, "ada"}, []matchCase{
			{row(fText, `"Ada"`), false}, {row(fText, `"Bob"`), true}, {row(fText, `null`), true}, {row(), true},
		}},
		{"text equal without value", Filter{fText, FilterEqual, "  "}, []matchCase{
			{row(fText, `"anything"`), true}, {row(), true},
		}},
		{"long_text contains", Filter{fLong, FilterContains, "World"}, []matchCase{
			{row(fLong, `"hello\nworld"`), true}, {row(fLong, `"WORLDS"`), true}, {row(fLong, `"word"`), false},
			{row(fLong, `null`), false}, {row(fLong, `"`+bigText+`"`), false},
		}},
		{"contains folds Unicode", Filter{fText, FilterContains, "ärger"}, []matchCase{
			{row(fText, `"Viel ÄRGER!"`), true}, {row(fText, `"arger"`), false},
		}},
		{"contains Kelvin sign", Filter{fText, FilterContains, "kelvin"}, []matchCase{
			{row(fText, `"\u212aelvin"`), true}, {row(fText, `"KELVIN"`), true},
		}},
		{"contains in a long value", Filter{fLong, FilterContains, "needle"}, []matchCase{
			{row(fLong, `"`+bigText+`"`), true}, {row(fLong, `"`+strings.Repeat("é", 300)+`"`), false},
		}},
		{"contains keeps spaces", Filter{fText, FilterContains, " b"}, []matchCase{
			{row(fText, `"a b"`), true}, {row(fText, `"ab"`), false},
		}},
		{"text not_contains", Filter{fText, FilterNotContains, "x"}, []matchCase{
			{row(fText, `"box"`), false}, {row(fText, `"bag"`), true}, {row(fText, `null`), true}, {row(), true},
		}},
		{"contains_not reads as not_contains", Filter{fText, FilterContainsNot, "x"}, []matchCase{
			{row(fText, `"box"`), false}, {row(fText, `"bag"`), true},
		}},
		{"number equal", Filter{fNum, FilterEqual, "12.5"}, []matchCase{
			{row(fNum, `"12.50"`), true}, {row(fNum, `"12.51"`), false}, {row(fNum, `"-12.50"`), false},
			{row(fNum, `null`), false}, {row(), false}, {row(fNum, `12.5`), true},
		}},
		{"number equal zero", Filter{fNum, FilterEqual, "-0"}, []matchCase{
			{row(fNum, `"0.00"`), true}, {row(fNum, `null`), false},
		}},
		{"number not_equal", Filter{fNum, FilterNotEqual, "12.5"}, []matchCase{
			{row(fNum, `"12.50"`), false}, {row(fNum, `"3.00"`), true}, {row(fNum, `null`), true},
		}},
		{"number higher_than", Filter{fNum, FilterHigherThan, "1e1"}, []matchCase{
			{row(fNum, `"12.50"`), true}, {row(fNum, `"10.00"`), false}, {row(fNum, `"10.01"`), true},
			{row(fNum, `"9.99"`), false}, {row(fNum, `"-100.00"`), false}, {row(fNum, `"100.00"`), true},
			{row(fNum, `null`), false}, {row(fNum, `"junk"`), false},
		}},
		{"number lower_than", Filter{fNum, FilterLowerThan, "-1.5"}, []matchCase{
			{row(fNum, `"-2.00"`), true}, {row(fNum, `"-1.50"`), false}, {row(fNum, `"-1.49"`), false},
			{row(fNum, `"0.00"`), false}, {row(fNum, `"-10.00"`), true}, {row(), false},
		}},
		{"number lower_than precise", Filter{fNum, FilterLowerThan, "0.001"}, []matchCase{
			{row(fNum, `"0.00"`), true}, {row(fNum, `"0.01"`), false},
		}},
		{"number contains", Filter{fNum, FilterContains, "2.5"}, []matchCase{
			{row(fNum, `"12.50"`), true}, {row(fNum, `"2.05"`), false},
			{row(fNum, `12.5`), true}, {row(fNum, `2.05`), false}, {row(fNum, `null`), false},
		}},
		{"number contains reads its decimals", Filter{fNum, FilterContains, "3.50"}, []matchCase{
			{row(fNum, `3.5`), true}, {row(fNum, `13.5`), true}, {row(fNum, `3.05`), false},
		}},
		{"boolean true", Filter{fBool, FilterBoolean, "1"}, []matchCase{
			{row(fBool, `true`), true}, {row(fBool, `false`), false}, {row(), false},
		}},
		{"boolean false", Filter{fBool, FilterBoolean, "false"}, []matchCase{
			{row(fBool, `true`), false}, {row(fBool, `false`), true}, {row(), true}, {row(fBool, `null`), true},
		}},
		{"boolean without value is false", Filter{fBool, FilterBoolean, ""}, []matchCase{
			{row(fBool, `true`), false}, {row(fBool, `false`), true},
		}},
		{"single_select_equal", Filter{fSingle, FilterSingleSelectEqual, "10"}, []matchCase{
			{row(fSingle, `10`), true}, {row(fSingle, `11`), false}, {row(fSingle, `null`), false}, {row(), false},
		}},
		{"single_select contains a choice value", Filter{fSingle, FilterContains, "RE"}, []matchCase{
			{row(fSingle, `10`), true}, {row(fSingle, `11`), true}, {row(fSingle, `12`), false}, {row(), false},
		}},
		{"single_select not_contains", Filter{fSingle, FilterNotContains, "re"}, []matchCase{
			{row(fSingle, `10`), false}, {row(fSingle, `12`), true}, {row(), true},
		}},
		{"multiple_select contains", Filter{fMulti, FilterContains, "sky"}, []matchCase{
			{row(fMulti, `[10,12]`), true}, {row(fMulti, `[10,11]`), false}, {row(fMulti, `[]`), false}, {row(), false},
		}},
		{"select contains matching no choice", Filter{fMulti, FilterContains, "purple"}, []matchCase{
			{row(fMulti, `[10,11,12,13]`), false}, {row(), false},
		}},
		{"select not_contains matching no choice", Filter{fMulti, FilterNotContains, "purple"}, []matchCase{
			{row(fMulti, `[10,11,12,13]`), true}, {row(), true},
		}},
		{"date_equal on a date", Filter{fDate, FilterDateEqual, "2026-01-02"}, []matchCase{
			{row(fDate, `"2026-01-02"`), true}, {row(fDate, `"2026-01-03"`), false}, {row(fDate, `null`), false},
		}},
		{"date_equal on a date-time compares the UTC date", Filter{fDateTime, FilterDateEqual, "UTC?2026-01-02"}, []matchCase{
			{row(fDateTime, `"2026-01-02T00:00:00Z"`), true}, {row(fDateTime, `"2026-01-02T23:59:59Z"`), true},
			{row(fDateTime, `"2026-01-03T00:00:00Z"`), false}, {row(), false},
		}},
		{"date_before", Filter{fDateTime, FilterDateBefore, "2026-01-02"}, []matchCase{
			{row(fDateTime, `"2026-01-01T23:59:59Z"`), true}, {row(fDateTime, `"2026-01-02T00:00:00Z"`), false},
			{row(fDateTime, `"1999-12-31T00:00:00Z"`), true}, {row(fDateTime, `null`), false},
		}},
		{"date_after", Filter{fDate, FilterDateAfter, "2026-01-02"}, []matchCase{
			{row(fDate, `"2026-01-03"`), true}, {row(fDate, `"2026-01-02"`), false}, {row(fDate, `"2025-12-31"`), false}, {row(), false},
		}},
		{"date filter without a date", Filter{fDate, FilterDateAfter, "UTC?"}, []matchCase{
			{row(), true},
		}},
		{"date contains", Filter{fDateTime, FilterContains, "2026-01"}, []matchCase{
			{row(fDateTime, `"2026-01-02T03:04:05Z"`), true}, {row(fDateTime, `"2025-01-02T03:04:05Z"`), false},
		}},
	}
	for _, tt := range tests {
		p := mustCompile(t, FilterSet{Filters: []Filter{tt.flt}})
		for i, c := range tt.cases {
			if got := p.Match(c.v); got != c.want {
				t.Errorf("%s: case %d %v: Match = %v, want %v", tt.name, i, c.v, got, c.want)
			}
		}
	}
}

func TestFilterEmpty(t *testing.T) {
	empties := map[int64][]string{
		fText: {`null`, `""`, `"  "`}, fLong: {`null`, `"\n"`}, fNum: {`null`}, fBool: {`false`, `null`},
		fDate: {`null`}, fDateTime: {`null`}, fSingle: {`null`}, fMulti: {`[]`, `null`, `[ ]`},
	}
	full := map[int64]string{
		fText: `"a"`, fLong: `"a\nb"`, fNum: `"0.00"`, fBool: `true`, fDate: `"2026-01-02"`,
		fDateTime: `"2026-01-02T00:00:00Z"`, fSingle: `10`, fMulti: `[10]`,
	}
	for id, raws := range empties {
		empty := mustCompile(t, FilterSet{Filters: []Filter{{FieldID: id, Type: FilterEmpty, Value: "ignored"}}})
		notEmpty := mustCompile(t, FilterSet{Filters: []Filter{{FieldID: id, Type: FilterNotEmpty}}})
		for _, raw := range append(raws, "") {
			v := row(id, raw)
			if raw == "" {
				v = row() // missing
			}
			if !empty.Match(v) || notEmpty.Match(v) {
				t.Errorf("field %d: %q is not empty", id, raw)
			}
		}
		if v := row(id, full[id]); empty.Match(v) || !notEmpty.Match(v) {
			t.Errorf("field %d: %s is empty", id, full[id])
		}
	}
}

func TestFilterAndOr(t *testing.T) {
	flts := []Filter{
		{fText, FilterContains, "a"},
		{fNum, FilterHigherThan, "10"},
	}
	and := mustCompile(t, FilterSet{FilterType: FilterAnd, Filters: flts})
	or := mustCompile(t, FilterSet{FilterType: FilterOr, Filters: flts})
	rows := []struct {
		v       Values
		and, or bool
	}{
		{row(fText, `"abc"`, fNum, `"11.00"`), true, true},
		{row(fText, `"abc"`, fNum, `"1.00"`), false, true},
		{row(fText, `"xyz"`, fNum, `"11.00"`), false, true},
		{row(fText, `"xyz"`, fNum, `"1.00"`), false, false},
		{row(), false, false},
	}
	for i, r := range rows {
		if and.Match(r.v) != r.and || or.Match(r.v) != r.or {
			t.Errorf("row %d: AND %v OR %v, want %v %v", i, and.Match(r.v), or.Match(r.v), r.and, r.or)
		}
	}

	// Empty sets, and sets whose filters all lack a value, match everything.
	for _, fs := range []FilterSet{
		{}, {FilterType: FilterOr}, {FilterType: FilterOr, Filters: []Filter{{fText, FilterEqual, ""}}},
	} {
		if p := mustCompile(t, fs); !p.Match(row()) || !p.Match(row(fText, `"x"`)) {
			t.Errorf("%+v does not match everything", fs)
		}
	}
	// A filter without a value is left out of an OR, not true in it.
	p := mustCompile(t, FilterSet{FilterType: FilterOr, Filters: []Filter{{fText, FilterEqual, ""}, {fText, FilterEqual, "a"}}})
	if p.Match(row(fText, `"b"`)) || !p.Match(row(fText, `"a"`)) {
		t.Error("an OR with a value-less filter")
	}
	var nilP *Predicate
	if !nilP.Match(row()) {
		t.Error("a nil predicate must match")
	}
}

func TestCompileErrors(t *testing.T) {
	fields := testFields()
	tests := []struct {
		fs   FilterSet
		keys []string
	}{
		{FilterSet{FilterType: "XOR"}, []string{"filter_type"}},
		{FilterSet{FilterType: "and"}, []string{"filter_type"}},
		{FilterSet{Filters: []Filter{{404, FilterEqual, "x"}}}, []string{"filters[0].field_id"}},
		{FilterSet{Filters: []Filter{{fText, "like", "x"}}}, []string{"filters[0].type"}},
		{FilterSet{Filters: []Filter{{fText, "", "x"}}}, []string{"filters[0].type"}},
		{FilterSet{Filters: []Filter{{fNum, FilterEqual, "abc"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fNum, FilterHigherThan, "1e999"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fNum, FilterLowerThan, "NaN"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fBool, FilterBoolean, "maybe"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fSingle, FilterSingleSelectEqual, "Red"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fSingle, FilterSingleSelectEqual, "99"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fDate, FilterDateEqual, "02/01/2026"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fDate, FilterDateBefore, "2026-01-02T00:00:00Z"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fDate, FilterDateAfter, "Europe/Berlin?2026-01-02"}}}, []string{"filters[0].value"}},
		{FilterSet{Filters: []Filter{{fText, FilterContains, FilterValue(strings.Repeat("x", MaxFilterValue+1))}}}, []string{"filters[0].value"}},
		{FilterSet{FilterType: "?", Filters: []Filter{
			{fText, FilterEqual, "ok"}, {404, FilterEqual, "x"}, {fBool, FilterEqual, "x"}, {fNum, FilterEqual, "x"},
		}}, []string{"filter_type", "filters[1].field_id", "filters[2].type", "filters[3].value"}},
		{FilterSet{Filters: make([]Filter, MaxFilters+1)}, []string{"filters"}},
	}
	for i, tt := range tests {
		p, err := Compile(tt.fs, fields)
		if p != nil {
			t.Errorf("case %d: Compile = %v, want nil", i, p)
		}
		wantDetailKeys(t, fmt.Sprintf("case %d", i), err, tt.keys)
	}
	_, err := Compile(FilterSet{Filters: []Filter{{404, FilterEqual, "x"}}}, fields)
	if !strings.Contains(err.Error(), "filters[0].field_id: field 404 does not exist") {
		t.Errorf("error text: %v", err)
	}
}

func TestSearch(t *testing.T) {
	fields := testFields()
	p := Search("  re ", fields)
	cases := []matchCase{
		{row(fText, `"Fred"`), true},
		{row(fLong, `"more"`), true},
		{row(fSingle, `10`), true},      // Red
		{row(fMulti, `[12, 11]`), true}, // green
		{row(fMulti, `[12]`), false},
		{row(fBool, `true`), false},
		{row(fText, `"xyz"`, fNum, `"1.00"`), false},
		{row(), false},
	}
	for i, c := range cases {
		if got := p.Match(c.v); got != c.want {
			t.Errorf("search re: case %d: %v", i, got)
		}
	}
	if !Search("12.50", fields).Match(row(fNum, `112.5`)) {
		t.Error("search misses a number as it is shown")
	}
	if !Search("12.5", fields).Match(row(fNum, `"112.50"`)) {
		t.Error("search must find numbers as text")
	}
	if !Search("2026-01", fields).Match(row(fDateTime, `"2026-01-02T00:00:00Z"`)) {
		t.Error("search must find dates as text")
	}
	if Search(" ", fields) != nil {
		t.Error("an empty search must be nil")
	}
	none := Search("x", map[int64]*Field{fBool: fields[fBool]})
	if none.Match(row(fBool, `true`)) {
		t.Error("a search no field can satisfy must match nothing")
	}
}

func TestAndFields(t *testing.T) {
	fields := testFields()
	view := mustCompile(t, FilterSet{Filters: []Filter{{fNum, FilterHigherThan, "1"}, {fText, FilterNotEmpty, ""}}})
	query := mustCompile(t, FilterSet{Filters: []Filter{{fBool, FilterBoolean, "1"}}})
	search := Search("ada", map[int64]*Field{fText: fields[fText]})
	all := And(view, nil, query, search)
	if !all.Match(row(fNum, `"2.00"`, fText, `"Ada"`, fBool, `true`)) {
		t.Error("And: a row passing all")
	}
	if all.Match(row(fNum, `"2.00"`, fText, `"Bob"`, fBool, `true`)) || all.Match(row(fNum, `"2.00"`, fText, `"Ada"`)) {
		t.Error("And: a row failing one")
	}
	if got := all.Fields(); !slices.Equal(got, []int64{fText, fNum, fBool}) {
		t.Errorf("Fields = %v", got)
	}
	if And(nil, nil) != nil || And(query) != query {
		t.Error("And of nothing or one")
	}
}

func TestFilterJSON(t *testing.T) {
	var fs FilterSet
	in := `{"filter_type":"OR","filters":[{"field_id":3,"type":"higher_than","value":10},{"field_id":4,"type":"boolean","value":true},{"field_id":1,"type":"equal","value":null},{"field_id":1,"type":"equal","value":"x"}]}`
	if err := json.Unmarshal([]byte(in), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.FilterType != FilterOr || fs.Filters[0].Value != "10" || fs.Filters[1].Value != "true" || fs.Filters[2].Value != "" || fs.Filters[3].Value != "x" {
		t.Errorf("decoded %+v", fs)
	}
	if _, err := Compile(fs, testFields()); err != nil {
		t.Errorf("Compile: %v", err)
	}
	for _, bad := range []string{`{"filters":[{"field_id":1,"type":"equal","value":{}}]}`, `{"filters":[{"field_id":1,"type":"equal","value":[1]}]}`} {
		if err := json.Unmarshal([]byte(bad), &fs); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	b, _ := json.Marshal(FilterSet{})
	if string(b) != `{"filter_type":"AND","filters":[]}` {
		t.Errorf("empty set JSON = %s", b)
	}
	if _, err := ParseFilterSet([]byte(`{"filter_type":"AND","filterz":[]}`)); detailKeys(err)["filter"] == "" {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := ParseFilterSet([]byte(`{"filter_type":"AND"} {}`)); detailKeys(err)["filter"] == "" {
		t.Errorf("trailing data: %v", err)
	}
	if fs, err := ParseFilterSet([]byte(in)); err != nil || len(fs.Filters) != 4 {
		t.Errorf("ParseFilterSet = %+v, %v", fs, err)
	}
}
