package table

import (
	"slices"
	"strconv"
	"testing"
)

// sortRows sorts rows with s, breaking ties by position as the caller does,
// and returns the rows' labels (the "id" key 0) in order.
func sortRows(t *testing.T, sorts []Sort, rows []Values) []string {
	t.Helper()
	s, err := CompileSorts(sorts, testFields())
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.Compare(rows[a], rows[b]) })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = strconv.Itoa(j)
	}
	return out
}

func TestSortByType(t *testing.T) {
	tests := []struct {
		name  string
		field int64
		vals  []string // raw values; "" for a missing cell
		asc   []string // row indexes ascending
	}{
		{"text", fText, []string{`"banana"`, `"Apple"`, `null`, `"apple pie"`, `"Émile"`, `""`, `"cherry"`},
			[]string{"1", "3", "0", "6", "4", "2", "5"}},
		{"number", fNum, []string{`"10.00"`, `"9.50"`, `"-1.00"`, ``, `"100.00"`, `"0.00"`, `"junk"`},
			[]string{"2", "5", "1", "0", "4", "3", "6"}},
		{"boolean", fBool, []string{`true`, `false`, ``, `true`},
			[]string{"1", "2", "0", "3"}},
		{"date", fDateTime, []string{`"2026-01-02T10:00:00Z"`, `"2025-06-01T00:00:00Z"`, `null`, `"2026-01-02T09:59:59Z"`},
			[]string{"1", "3", "0", "2"}},
		// by value: Blue sky 12, green 11, Red 10, Ärger 13 (folded code points:
		// Ä after ASCII), then the empty and the unknown choice
		{"single select by value", fSingle, []string{`10`, `11`, `12`, `null`, `13`, `99`},
			[]string{"2", "1", "0", "4", "3", "5"}},
		{"multiple select by values", fMulti, []string{`[10]`, `[12,10]`, `[]`, `[12]`, `[11,10]`, `[12,11]`},
			[]string{"3", "5", "1", "4", "0", "2"}},
	}
	for _, tt := range tests {
		rows := make([]Values, len(tt.vals))
		for i, v := range tt.vals {
			rows[i] = row()
			if v != "" {
				rows[i] = row(tt.field, v)
			}
		}
		got := sortRows(t, []Sort{{tt.field, SortAsc}}, rows)
		if !slices.Equal(got, tt.asc) {
			t.Errorf("%s asc = %v, want %v", tt.name, got, tt.asc)
		}
		// desc is the exact reverse, up to ties (none here but empties)
		desc := sortRows(t, []Sort{{tt.field, SortDesc}}, rows)
		s, _ := CompileSorts([]Sort{{tt.field, SortDesc}}, testFields())
		for i := 1; i < len(desc); i++ {
			a, _ := strconv.Atoi(desc[i-1])
			b, _ := strconv.Atoi(desc[i])
			if s.Compare(rows[a], rows[b]) > 0 {
				t.Errorf("%s desc out of order at %d: %v", tt.name, i, desc)
			}
		}
	}
}

func TestSortEmptiesLastAscFirstDesc(t *testing.T) {
	rows := []Values{row(fText, `null`), row(fText, `"b"`), row(), row(fText, `"a"`)}
	if got := sortRows(t, []Sort{{fText, "asc"}}, rows); !slices.Equal(got, []string{"3", "1", "0", "2"}) {
		t.Errorf("asc = %v", got)
	}
	if got := sortRows(t, []Sort{{fText, "DESC"}}, rows); !slices.Equal(got, []string{"0", "2", "1", "3"}) {
		t.Errorf("desc = %v", got)
	}
}

func TestSortSeveralKeys(t *testing.T) {
	rows := []Values{
		row(fBool, `true`, fNum, `"1.00"`, fText, `"b"`),
		row(fBool, `false`, fNum, `"2.00"`, fText, `"a"`),
		row(fBool, `true`, fNum, `"3.00"`, fText, `"a"`),
		row(fBool, `true`, fNum, `"1.00"`, fText, `"a"`),
		row(fBool, `false`, fText, `"c"`),
	}
	got := sortRows(t, []Sort{{fBool, SortDesc}, {fNum, SortAsc}, {fText, SortAsc}}, rows)
	if want := []string{"3", "0", "2", "1", "4"}; !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
	s, _ := CompileSorts([]Sort{{fText, SortAsc}}, testFields())
	if c := s.Compare(row(fText, `"Same"`), row(fText, `"sAME"`)); c != 0 {
		t.Errorf("a tie must be left to the caller, got %d", c)
	}
	if got := s.Fields(); !slices.Equal(got, []int64{fText}) {
		t.Errorf("Fields = %v", got)
	}
	var none *Sorter
	if none.Compare(rows[0], rows[1]) != 0 || none.Fields() != nil {
		t.Error("a nil sorter")
	}
}

func TestCompileSortsErrors(t *testing.T) {
	tests := []struct {
		sorts []Sort
		keys  []string
	}{
		{[]Sort{{404, SortAsc}}, []string{"sorts[0].field_id"}},
		{[]Sort{{fText, "up"}}, []string{"sorts[0].order"}},
		{[]Sort{{fText, SortAsc}, {fText, SortDesc}}, []string{"sorts[1].field_id"}},
		{[]Sort{{fText, SortAsc}, {404, "x"}, {fNum, "sideways"}}, []string{"sorts[1].field_id", "sorts[2].order"}},
		{make([]Sort, MaxSorts+1), []string{"sorts"}},
	}
	for i, tt := range tests {
		s, err := CompileSorts(tt.sorts, testFields())
		if s != nil {
			t.Errorf("case %d: CompileSorts = %v, want nil", i, s)
		}
		wantDetailKeys(t, "case "+strconv.Itoa(i), err, tt.keys)
	}
	if s, err := ParseSorts([]byte(`[{"field_id":1,"order":"desc"}]`)); err != nil || len(s) != 1 || s[0].Order != SortDesc {
		t.Errorf("ParseSorts = %v, %v", s, err)
	}
	if _, err := ParseSorts([]byte(`[{"field":1}]`)); detailKeys(err)["sort"] == "" {
		t.Errorf("ParseSorts unknown key: %v", err)
	}
}
