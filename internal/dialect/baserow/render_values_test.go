package baserow

import (
	"encoding/json"
	"testing"

	"github.com/tablecast/tablecast/internal/table"
)

func TestDecimalText(t *testing.T) {
	for _, tc := range []struct {
		in     string
		places int
		want   string
		ok     bool
	}{
		{`"12.50"`, 2, "12.50", true}, // the store's decimal string, as it is
		{`12.5`, 2, "12.50", true},    // a JSON number: the field's places
		{`12`, 0, "12", true},
		{`12`, 3, "12.000", true},
		{`-0.5`, 1, "-0.5", true},
		{`1.005`, 2, "1.01", true}, // more places than the field: rounded
		{`1e3`, 1, "1000.0", true},
		{`-2.5E-1`, 2, "-0.25", true},
		{`true`, 2, "", false},
		{`[1]`, 2, "", false},
		{`"x`, 2, "", false},
	} {
		got, ok := decimalText([]byte(tc.in), tc.places)
		if got != tc.want || ok != tc.ok {
			t.Errorf("decimalText(%s, %d) = %q, %v; want %q, %v", tc.in, tc.places, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCellShapes(t *testing.T) {
	choices := []table.Choice{{ID: 1, Value: "red", Color: "light-red"}, {ID: 2, Value: "blue", Color: "blue"}}
	single := &table.Field{Type: table.TypeSingleSelect, Options: table.FieldOptions{Choices: choices}}
	multiple := &table.Field{Type: table.TypeMultipleSelect, Options: table.FieldOptions{Choices: choices}}
	number := &table.Field{Type: table.TypeNumber, Options: table.FieldOptions{Decimals: 2}}
	text := &table.Field{Type: table.TypeText}
	for _, tc := range []struct {
		f    *table.Field
		in   string
		want string
	}{
		{single, `2`, `{"id":2,"value":"blue","color":"blue"}`},
		{single, `9`, `{"id":9,"value":"","color":""}`}, // a choice the definitions lack
		{single, `null`, `null`},
		{multiple, `[2,1]`, `[{"id":2,"value":"blue","color":"blue"},{"id":1,"value":"red","color":"light-red"}]`},
		{multiple, `[]`, `[]`},
		{number, `3.5`, `"3.50"`},
		{number, `"3.50"`, `"3.50"`},
		{number, `null`, `null`},
		{text, `"12"`, `"12"`},
		{nil, `7`, `7`}, // an unknown field: as stored
		{single, ``, `null`},
	} {
		var w buf
		cell(&w, tc.f, []byte(tc.in))
		if string(w.b) != tc.want || !json.Valid(w.b) {
			t.Errorf("cell(%v, %s) = %s; want %s", tc.f, tc.in, w.b, tc.want)
		}
	}
}
