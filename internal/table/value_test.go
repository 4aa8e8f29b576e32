package table

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type normCase struct {
	in   string
	want string // canonical output; "" means the value is refused
}

func runNormalize(t *testing.T, f *Field, cases []normCase) {
	t.Helper()
	for _, c := range cases {
		got, err := f.Normalize(json.RawMessage(c.in))
		if c.want == "" {
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Field != f.ID || ve.Reason == "" {
				t.Errorf("%s field: Normalize(%s) = %s, %v; want a *ValueError for field %d", f.Type, c.in, got, err, f.ID)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s field: Normalize(%s) = %s, %v; want %s", f.Type, c.in, got, err, c.want)
			continue
		}
		again, err := f.Normalize(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("%s field: not idempotent: %s -> %s, %v", f.Type, got, again, err)
		}
	}
}

// wrongTypes are the JSON values no field type takes, apart from those the
// type lists as accepted.
var wrongTypes = []string{`{}`, `{"a":1}`, `[1]`, `[]`, `true`, `false`, `12`, `"x"`, ``, `nul`, `"unterminated`, `1 2`}

func refusedExcept(accepted ...string) []normCase {
	var out []normCase
next:
	for _, w := range wrongTypes {
		for _, a := range accepted {
			if w == a {
				continue next
			}
		}
		out = append(out, normCase{w, ""})
	}
	return out
}

func TestNormalizeText(t *testing.T) {
	f := testFields()[fText]
	cases := []normCase{
		{`"hello"`, `"hello"`},
		{` "padded json" `, `"padded json"`},
		{`"  spaces kept  "`, `"  spaces kept  "`},
		{`""`, `null`},
		{`null`, `null`},
		{`"line\nbreak"`, `"line\nbreak"`},
		{`"a \u003cb\u003e & c"`, `"a <b> & c"`},
		{`"tab\there \"quoted\" back\\slash"`, `"tab\there \"quoted\" back\\slash"`},
		{`"caf\u00e9 ☕"`, `"café ☕"`},
		{`"\u2028"`, `"\u2028"`},
		{`"\u0001"`, `"\u0001"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{"\"bad \xff byte\"", `"bad ` + "\uFFFD" + ` byte"`},
		{`12.5`, `"12.5"`},
		{`-3`, `"-3"`},
		{strings.Repeat("1", MaxTextLength+1), ""},
		{`"nul \u0000 inside"`, ""},
		{`"` + strings.Repeat("é", MaxTextLength) + `"`, `"` + strings.Repeat("é", MaxTextLength) + `"`},
		{`"` + strings.Repeat("é", MaxTextLength+1) + `"`, ""},
		{`"` + strings.Repeat("a", MaxTextLength+1) + `"`, ""},
	}
	cases = append(cases, refusedExcept(`12`, `"x"`)...)
	runNormalize(t, f, cases)
}

func TestNormalizeLongText(t *testing.T) {
	f := testFields()[fLong]
	long := strings.Repeat("a", MaxTextLength+1)
	cases := []normCase{
		{`"` + long + `"`, `"` + long + `"`},
		{`"para 1\n\npara 2"`, `"para 1\n\npara 2"`},
		{`""`, `null`},
		{`"` + strings.Repeat("b", MaxLongTextLength+1) + `"`, ""},
	}
	cases = append(cases, refusedExcept(`12`, `"x"`)...)
	runNormalize(t, f, cases)
}

func TestNormalizeNumber(t *testing.T) {
	f := testFields()[fNum]
	cases := []normCase{
		{`12.5`, `12.5`},
		{`12`, `12`},
		{`0`, `0`},
		{`-0`, `0`},
		{`-0.001`, `0`},
		{`-0.005`, `-0.01`},
		{`1.005`, `1.01`},
		{`1.004999`, `1`},
		{`2.675`, `2.68`}, // exact decimal, not the float 2.67499999...
		{`9.995`, `10`},
		{`-9.995`, `-10`},
		{`0.995`, `1`},
		{`0.0049`, `0`},
		{`0.005`, `0.01`},
		{`0.30000000000000004`, `0.3`}, // 0.1 + 0.2 in a JavaScript client
		{`1e3`, `1000`},
		{`1.5E-1`, `0.15`},
		{`1e-400`, `0`},
		{`0e999999999`, `0`},
		{`"12.5"`, `12.5`},
		{`"12.50"`, `12.5`},
		{`" -7 "`, `-7`},
		{`"+7"`, `7`},
		{`".5"`, `0.5`},
		{`"5."`, `5`},
		{`"007.10"`, `7.1`},
		{`""`, `null`},
		{`"  "`, `null`},
		{`null`, `null`},
		{`"` + strings.Repeat("9", 13) + `.99"`, strings.Repeat("9", 13) + `.99`}, // 15 significant digits
		{`"` + strings.Repeat("9", 14) + `.99"`, ""},                              // 16
		{`"` + strings.Repeat("9", 15) + `"`, strings.Repeat("9", 15)},
		{`"` + strings.Repeat("9", 16) + `"`, ""},
		{`"` + strings.Repeat("9", 15) + `.995"`, ""}, // rounds up to 16 digits
		{`1e14`, `1` + strings.Repeat("0", 14)},
		{`1e15`, ""},
		{`123456789012345678901234567890.125`, ""},
		{`1e999999999`, ""},
		{`"abc"`, ""},
		{`"1,5"`, ""},
		{`"1.2.3"`, ""},
		{`"NaN"`, ""},
		{`"Infinity"`, ""},
		{`"0x10"`, ""},
		{`"1_000"`, ""},
		{`"1e"`, ""},
		{`"-"`, ""},
		{`"."`, ""},
		{`"` + strings.Repeat("1", 1001) + `"`, ""},
	}
	cases = append(cases, refusedExcept(`12`)...)
	runNormalize(t, f, cases)

	runNormalize(t, testFields()[fInt], []normCase{
		{`12.5`, `13`},
		{`-12.5`, `-13`},
		{`12.4`, `12`},
		{`0.4`, `0`},
		{`0.5`, `1`},
		{`"3"`, `3`},
		{`1e2`, `100`},
	})
	ten := &Field{ID: 99, Type: TypeNumber, Options: FieldOptions{Decimals: 10}}
	runNormalize(t, ten, []normCase{
		{`0.00000000005`, `0.0000000001`},
		{`1.23`, `1.23`},
		{`123456.1234567891`, ""}, // 16 significant digits
		{`1234.1234567891`, `1234.1234567891`},
	})
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		raw    string
		places int
		want   string
	}{
		{`2.5`, 2, "2.50"}, {`"2.50"`, 2, "2.50"}, {`-3`, 0, "-3"}, {`0`, 3, "0.000"},
		{`0.0000001`, 7, "0.0000001"}, {`1e-7`, 7, "0.0000001"}, {`12.5`, 0, "13"},
	} {
		if got, ok := FormatNumber([]byte(c.raw), c.places); !ok || got != c.want {
			t.Errorf("FormatNumber(%s, %d) = %q, %v; want %q", c.raw, c.places, got, ok, c.want)
		}
	}
	if _, ok := FormatNumber([]byte(`"x"`), 2); ok {
		t.Error(`FormatNumber("x") ok`)
	}
}

func TestNormalizeBoolean(t *testing.T) {
	f := testFields()[fBool]
	cases := []normCase{
		{`true`, `true`}, {`false`, `false`}, {`null`, `false`},
		{`1`, `true`}, {`0`, `false`}, {`1.0`, `true`}, {`0.0`, `false`}, {`-0`, `false`},
		{`"true"`, `true`}, {`"FALSE"`, `false`}, {`" Yes "`, `true`}, {`"no"`, `false`},
		{`"t"`, `true`}, {`"f"`, `false`}, {`"y"`, `true`}, {`"n"`, `false`},
		{`"on"`, `true`}, {`"off"`, `false`}, {`"1"`, `true`}, {`"0"`, `false`},
		{`"checked"`, `true`}, {`"unchecked"`, `false`}, {`""`, `false`},
		{`2`, ""}, {`-1`, ""}, {`0.5`, ""}, {`10`, ""}, {`"maybe"`, ""}, {`"2"`, ""},
	}
	cases = append(cases, refusedExcept(`true`, `false`)...)
	runNormalize(t, f, cases)
}

func TestNormalizeDate(t *testing.T) {
	date := testFields()[fDate]
	cases := []normCase{
		{`"2026-01-02"`, `"2026-01-02"`},
		{`" 2026-01-02 "`, `"2026-01-02"`},
		{`"2026-01-02T03:04:05Z"`, `"2026-01-02"`},
		{`"2026-01-02T23:30:00-05:00"`, `"2026-01-03"`}, // its UTC date
		{`""`, `null`},
		{`null`, `null`},
		{`"2026-02-30"`, ""},
		{`"2026-13-01"`, ""},
		{`"2026-1-2"`, ""},
		{`"02/01/2026"`, ""},
		{`"0000-01-01"`, ""},
		{`"0001-01-01T00:00:00+01:00"`, ""}, // year 0 in UTC
		{`"tomorrow"`, ""},
		{`20260102`, ""},
	}
	cases = append(cases, refusedExcept()...)
	runNormalize(t, date, cases)

	dt := testFields()[fDateTime]
	runNormalize(t, dt, []normCase{
		{`"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:05Z"`},
		{`"2026-01-02T03:04:05.999Z"`, `"2026-01-02T03:04:05Z"`},
		{`"2026-01-02T03:04Z"`, `"2026-01-02T03:04:00Z"`},
		{`"2026-01-02 03:04"`, `"2026-01-02T03:04:00Z"`},
		{`"2026-01-02T03:04:05"`, `"2026-01-02T03:04:05Z"`},
		{`"2026-01-02T03:04:05+02:00"`, `"2026-01-02T01:04:05Z"`},
		{`"2026-01-02T01:00:00+0200"`, `"2026-01-01T23:00:00Z"`},
		{`"2026-01-02"`, `"2026-01-02T00:00:00Z"`},
		{`"9999-12-31T23:00:00-02:00"`, ""}, // year 10000 in UTC
		{`"2026-01-02T25:00:00Z"`, ""},
		{`"2026-01-02T03"`, ""},
		{`"2026-01-02X03:04:05Z"`, ""},
		{`1767312000`, ""},
		{`""`, `null`},
	})
}

func TestNormalizeSingleSelect(t *testing.T) {
	f := testFields()[fSingle]
	cases := []normCase{
		{`10`, `10`},
		{`"11"`, `11`},
		{`"Red"`, `10`},
		{`"Blue sky"`, `12`},
		{`{"id":12,"value":"Blue sky","color":"blue"}`, `12`},
		{`null`, `null`},
		{`""`, `null`},
		{`"red"`, ""}, // values match exactly
		{`99`, ""},
		{`0`, ""},
		{`-10`, ""},
		{`10.5`, ""},
		{`1e1`, ""},
		{`{"value":"Red"}`, ""},
		{`{"id":"10"}`, ""},
		{`[10]`, ""},
	}
	cases = append(cases, refusedExcept(`12`)...) // 12 is a choice id
	runNormalize(t, f, cases)
}

func TestNormalizeMultipleSelect(t *testing.T) {
	f := testFields()[fMulti]
	cases := []normCase{
		{`[10,11]`, `[10,11]`},
		{`[11,10]`, `[11,10]`},
		{`[11, 10, 11, "Red", "11"]`, `[11,10]`},
		{`["Blue sky", {"id": 13}]`, `[12,13]`},
		{`[]`, `[]`},
		{`null`, `[]`},
		{`[99]`, ""},
		{`[null]`, ""},
		{`[[10]]`, ""},
		{`[true]`, ""},
		{`10`, ""},
		{`"Red"`, ""},
		{`{"id":10}`, ""},
		{`[` + strings.Repeat("10,", MaxChoices) + `10]`, ""},
	}
	cases = append(cases, refusedExcept(`[]`)...)
	runNormalize(t, f, cases)
}

func TestDefaultValue(t *testing.T) {
	want := map[int64]string{fText: "null", fLong: "null", fNum: "null", fBool: "false", fDate: "null", fSingle: "null", fMulti: "[]"}
	fields := testFields()
	for id, w := range want {
		f := fields[id]
		if got := string(f.DefaultValue()); got != w {
			t.Errorf("%s: DefaultValue = %s, want %s", f.Type, got, w)
		}
		if got, err := f.Normalize(json.RawMessage("null")); err != nil || string(got) != w {
			t.Errorf("%s: Normalize(null) = %s, %v; want %s", f.Type, got, err, w)
		}
	}
	bad := &Field{ID: 5, Type: "rating"}
	if _, err := bad.Normalize(json.RawMessage("1")); err == nil {
		t.Error("a field of an unknown type took a value")
	}
}

func TestNormalizeRow(t *testing.T) {
	fields := testFields()
	in := map[string]json.RawMessage{
		"1":       json.RawMessage(`"Ada"`),
		"field_3": json.RawMessage(`"4.5"`),
		"7":       json.RawMessage(`"green"`),
	}
	v, verr := NormalizeRow(fields, in)
	if verr != nil {
		t.Fatal(verr)
	}
	if string(v[fText]) != `"Ada"` || string(v[fNum]) != `4.5` || string(v[fSingle]) != `11` || len(v) != 3 {
		t.Fatalf("NormalizeRow = %v", v)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"1":"Ada","3":4.5,"7":11}` {
		t.Errorf("Values JSON = %s", b)
	}

	_, verr = NormalizeRow(fields, map[string]json.RawMessage{
		"1":        json.RawMessage(`true`),
		"3":        json.RawMessage(`"x"`),
		"field_4":  json.RawMessage(`"maybe"`),
		"404":      json.RawMessage(`1`),
		"name":     json.RawMessage(`1`),
		"05":       json.RawMessage(`1`),
		"field_-1": json.RawMessage(`1`),
	})
	want := []string{"fields.1", "fields.3", "fields.field_4", "fields.404", "fields.name", "fields.05", "fields.field_-1"}
	if verr == nil || len(verr.Details) != len(want) {
		t.Fatalf("NormalizeRow errors = %v, want keys %v", verr, want)
	}
	for _, k := range want {
		if verr.Details[k] == "" {
			t.Errorf("no detail for %s in %v", k, verr.Details)
		}
	}
	_, verr = NormalizeRow(fields, map[string]json.RawMessage{"1": json.RawMessage(`"a"`), "field_1": json.RawMessage(`"b"`)})
	if verr == nil || verr.Details["fields.1"] != "given twice" {
		t.Errorf("a field given twice: %v", verr)
	}
	batch := verr.Prefixed(ItemKey("items", 3))
	if batch.Details["items[3].fields.1"] == "" {
		t.Errorf("Prefixed = %v", batch.Details)
	}
}

func TestSelectedChoices(t *testing.T) {
	fields := testFields()
	if got := fields[fSingle].SelectedChoices(json.RawMessage(`12`)); len(got) != 1 || got[0].Value != "Blue sky" {
		t.Errorf("single = %v", got)
	}
	if got := fields[fMulti].SelectedChoices(json.RawMessage(`[11, 99, 10]`)); len(got) != 2 || got[0].ID != 11 || got[1].ID != 10 {
		t.Errorf("multiple = %v", got)
	}
	if got := fields[fSingle].SelectedChoices(json.RawMessage(`null`)); got != nil {
		t.Errorf("empty = %v", got)
	}
	if got := fields[fText].SelectedChoices(json.RawMessage(`"x"`)); got != nil {
		t.Errorf("text = %v", got)
	}
}
