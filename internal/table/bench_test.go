package table

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchRow is a row of ten fields, as a projection sees it on a row event.
func benchRow() (map[int64]*Field, Values) {
	fields := testFields()
	fields[10] = &Field{ID: 10, Name: "Email", Type: TypeText, Order: 9}
	v := row(
		fText, `"Ada Lovelace"`,
		fLong, `"First programmer.\nWrote the notes on the Analytical Engine."`,
		fNum, `"1843.00"`,
		fBool, `true`,
		fDate, `"1815-12-10"`,
		fDateTime, `"1852-11-27T00:00:00Z"`,
		fSingle, `12`,
		fMulti, `[10,11]`,
		fInt, `"36"`,
		int64(10), `"ada@example.com"`,
	)
	return fields, v
}

func BenchmarkPredicateMatch(b *testing.B) {
	fields, v := benchRow()
	cases := []struct {
		name string
		fs   FilterSet
	}{
		{"AND3", FilterSet{FilterType: FilterAnd, Filters: []Filter{
			{fText, FilterContains, "love"},
			{fNum, FilterHigherThan, "1000"},
			{fSingle, FilterSingleSelectEqual, "12"},
		}}},
		{"OR3-miss", FilterSet{FilterType: FilterOr, Filters: []Filter{
			{fText, FilterEqual, "Charles Babbage"},
			{fDateTime, FilterDateAfter, "1900-01-01"},
			{fMulti, FilterContains, "sky"},
		}}},
		{"contains-unicode-escaped", FilterSet{Filters: []Filter{
			{fLong, FilterContains, "ANALYTICAL ENGINE"},
		}}},
	}
	for _, c := range cases {
		p, err := Compile(c.fs, fields)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Match(v)
			}
		})
	}
	b.Run("search", func(b *testing.B) {
		p := Search("example", fields)
		b.ReportAllocs()
		for b.Loop() {
			p.Match(v)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	fields := testFields()
	cases := []struct {
		name  string
		field int64
		raw   string
	}{
		{"text", fText, `"Ada Lovelace"`},
		{"text-escaped", fLong, `"Line one\nLine two: caf\u00e9"`},
		{"number", fNum, `1843.456`},
		{"boolean", fBool, `true`},
		{"date", fDate, `"1815-12-10"`},
		{"datetime", fDateTime, `"1852-11-27T10:30:00+01:00"`},
		{"single_select", fSingle, `12`},
		{"multiple_select", fMulti, `[10,"green",10]`},
	}
	for _, c := range cases {
		f, raw := fields[c.field], json.RawMessage(c.raw)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Normalize(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSorterCompare(b *testing.B) {
	fields, v := benchRow()
	w := make(Values, len(v))
	for k, raw := range v {
		w[k] = raw
	}
	w[fText] = json.RawMessage(`"ada lovelace"`)
	s, err := CompileSorts([]Sort{{fText, SortAsc}, {fNum, SortDesc}, {fSingle, SortAsc}}, fields)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Compare(v, w)
	}
}

func BenchmarkContainsLongText(b *testing.B) {
	body := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog ", 1000))
	needle := []byte(foldString("LAZY CAT"))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		containsFold(body, needle)
	}
}
