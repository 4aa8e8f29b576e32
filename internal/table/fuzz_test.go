package table

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzTypes = []FieldType{TypeText, TypeLongText, TypeNumber, TypeBoolean, TypeDate, TypeSingleSelect, TypeMultipleSelect}

// FuzzNormalize: any bytes for any field type never panic, an accepted value
// is valid JSON that normalizes to itself, and filters and sorts read it
// without panicking.
func FuzzNormalize(f *testing.F) {
	seeds := []string{
		`"hello"`, `""`, `null`, `12.345`, `"-0.5"`, `1e400`, `"1e-400"`, `true`, `"yes"`, `0`,
		`"2026-01-02"`, `"2026-01-02T03:04:05+02:00"`, `10`, `"Red"`, `{"id":12}`, `[10,11,10]`, `["Blue sky"]`,
		`"\ud83d\ude00 \u2028 <&>"`, "\"\xff\"", `[`, `{"id":`, `"\u0000"`, `-`, `1.`, `[null]`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i), uint8(i*3))
	}
	fields := testFields()
	f.Fuzz(func(t *testing.T, raw []byte, typ, opt uint8) {
		fd := &Field{ID: 42, Name: "f", Type: fuzzTypes[int(typ)%len(fuzzTypes)]}
		switch fd.Type {
		case TypeNumber:
			fd.Options.Decimals = int(opt) % (MaxDecimals + 1)
		case TypeDate:
			fd.Options.IncludeTime = opt&1 == 1
		case TypeSingleSelect, TypeMultipleSelect:
			fd.Options.Choices = testChoices
		}
		out, err := fd.Normalize(raw)
		if err != nil {
			if _, ok := err.(*ValueError); !ok {
				t.Fatalf("Normalize(%q) error %T %v, want *ValueError", raw, err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Normalize(%q) = %q, not JSON", raw, out)
		}
		again, err := fd.Normalize(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, out, again, err)
		}
		if fd.Type == TypeNumber && string(out) != "null" {
			// A client's double holds the stored number exactly: read as
			// one and written back the shortest way (as JavaScript does),
			// it is the same number.
			n, err := strconv.ParseFloat(string(out), 64)
			if err != nil {
				t.Fatalf("%q is not a float: %v", out, err)
			}
			back, err := fd.Normalize([]byte(strconv.FormatFloat(n, 'g', -1, 64)))
			if err != nil || string(back) != string(out) {
				t.Fatalf("%q through a double is %q, %v", out, back, err)
			}
		}
		// Every filter that applies, and a sort, read the value.
		local := map[int64]*Field{fd.ID: fd}
		for id, other := range fields {
			local[id] = other
		}
		v := Values{fd.ID: out}
		for _, ft := range allFilterTypes {
			if !FilterApplies(ft, fd.Type) {
				continue
			}
			p, err := Compile(FilterSet{Filters: []Filter{{fd.ID, ft, sampleValue(ft, fd.Type)}}}, local)
			if err != nil {
				t.Fatalf("compile %s: %v", ft, err)
			}
			p.Match(v)
		}
		Search("e", local).Match(v)
		s, err := CompileSorts([]Sort{{fd.ID, SortAsc}}, local)
		if err != nil {
			t.Fatal(err)
		}
		if s.Compare(v, v) != 0 {
			t.Fatalf("%q does not compare equal to itself", out)
		}
		s.Compare(v, Values{})
	})
}

// FuzzFilterCompile: any JSON filter set compiles or fails with a
// *ValidationError, and a compiled predicate matches rows without
// panicking.
func FuzzFilterCompile(f *testing.F) {
	seeds := []string{
		`{"filter_type":"AND","filters":[{"field_id":1,"type":"equal","value":"x"}]}`,
		`{"filter_type":"OR","filters":[{"field_id":3,"type":"higher_than","value":"1e3"},{"field_id":4,"type":"boolean","value":1}]}`,
		`{"filters":[{"field_id":7,"type":"single_select_equal","value":"10"},{"field_id":8,"type":"contains","value":"re"}]}`,
		`{"filters":[{"field_id":5,"type":"date_before","value":"UTC?2026-01-02"},{"field_id":6,"type":"date_equal","value":"2026-01-02"}]}`,
		`{"filters":[{"field_id":2,"type":"contains_not","value":"\u212a"},{"field_id":9,"type":"empty"}]}`,
		`{"filter_type":"XOR","filters":[{"field_id":99,"type":"nope","value":null}]}`,
		`{"filters":[{"field_id":3,"type":"equal","value":"-0.000"}]}`,
		`{}`, `[]`, `null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fields := testFields()
	rows := []Values{
		{},
		row(fText, `"Ada"`, fLong, `"x\ny é"`, fNum, `"12.50"`, fBool, `true`, fDate, `"2026-01-02"`,
			fDateTime, `"2026-01-02T03:04:05Z"`, fSingle, `10`, fMulti, `[10,12]`, fInt, `"-3"`),
		row(fText, `null`, fLong, `""`, fNum, `null`, fBool, `false`, fDate, `null`, fSingle, `null`, fMulti, `[]`),
		row(fText, `12`, fNum, `"junk"`, fBool, `"true"`, fDate, `5`, fSingle, `"x"`, fMulti, `[1,`, fInt, `[`),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, perr := ParseFilterSet(data)
		if perr != nil {
			if AsValidation(perr, "") == nil {
				t.Fatalf("ParseFilterSet error %T", perr)
			}
			if json.Unmarshal(data, &fs) != nil {
				return
			}
		}
		p, err := Compile(fs, fields)
		if err != nil {
			if ve := AsValidation(err, ""); ve == nil || len(ve.Details) == 0 {
				t.Fatalf("Compile error %T %v", err, err)
			}
			return
		}
		for _, r := range rows {
			p.Match(r)
		}
		p.Fields()
		b, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		var back FilterSet
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("a compiled set does not read back: %s: %v", b, err)
		}
		if _, err := Compile(back, fields); err != nil {
			t.Fatalf("a compiled set does not compile again: %s: %v", b, err)
		}
	})
}

// FuzzNormalizeString: NormalizeString agrees with Normalize of the
// string's JSON wherever it takes the string, and its canonical value
// decodes to the string itself (null for "").
func FuzzNormalizeString(f *testing.F) {
	for i, s := range []string{"hello", "", "a<b&c>", "line\nnext\ttab", "\u2028\u2029", "nul\x00", "\xff", "é😀",
		strings.Repeat("x", MaxTextLength+1), strings.Repeat("é", MaxTextLength), `"quoted" \back`} {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, s string, typ uint8) {
		fd := &Field{ID: 7, Name: "f", Type: fuzzTypes[int(typ)%len(fuzzTypes)]}
		fd.Options.Choices = testChoices
		got, ok, err := fd.NormalizeString(s)
		if !ok {
			if (fd.Type == TypeText || fd.Type == TypeLongText) && utf8.ValidString(s) {
				t.Fatalf("%s field: NormalizeString(%q) not taken", fd.Type, s)
			}
			return
		}
		raw, _ := json.Marshal(s)
		want, wantErr := fd.Normalize(raw)
		if (err != nil) != (wantErr != nil) || string(got) != string(want) {
			t.Fatalf("%s field: NormalizeString(%q) = %s, %v; Normalize(%s) = %s, %v", fd.Type, s, got, err, raw, want, wantErr)
		}
		if err != nil {
			return
		}
		var back any
		if json.Unmarshal(got, &back) != nil || (s == "" && back != nil) || (s != "" && back != s) {
			t.Fatalf("%s field: NormalizeString(%q) = %s, which decodes to %#v", fd.Type, s, got, back)
		}
	})
}
