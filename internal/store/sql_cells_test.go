package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestCellsOf(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{``, `{}`},
		{`{}`, `{}`},
		{` { "10" : "ten", "2": [1, 2], "1": null } `, `{"1":null,"2":[1,2],"10":"ten"}`},
		{`{"1":1,"1":2}`, `{"1":2}`},
		{`{"a\"b":true,"\u0031":"one"}`, `{"1":"one","a\"b":true}`},
	} {
		cells, err := cellsOf(json.RawMessage(tc.in), false, "values")
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := string(cellsJSON(cells)); got != tc.want && !sameJSON(got, tc.want) {
			t.Errorf("%s: cells read back as %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a":}`, `{"a":1} {}`, `{`} {
		if _, err := cellsOf(json.RawMessage(bad), false, "values"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, err := cellsOf(nil, true, "values"); err == nil {
		t.Error("trusted empty values: no error")
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// FuzzCellsOf: whatever cellsOf accepts reads back, joined as rowCells
// joins a row's cells, as a JSON object with the same members (the last
// of a key given twice), keys in order, each once.
func FuzzCellsOf(f *testing.F) {
	for _, s := range []string{`{}`, `{"1":"a","2":2}`, `{"1":1,"1":[{}]}`, `{"\u00e9":"x","<":null}`, `[1]`, `{"a":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cells, err := cellsOf(json.RawMessage(in), false, "values")
		if err != nil {
			return
		}
		out := cellsJSON(cells)
		if !json.Valid(out) {
			t.Fatalf("%q: cells read back as invalid JSON %s", in, out)
		}
		var want, got map[string]any
		if json.Unmarshal([]byte(in), &want) != nil && len(bytes.Trim([]byte(in), jsonSpace)) > 0 {
			t.Fatalf("%q accepted, but it is not a JSON object", in)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			want = map[string]any{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read back as %s", in, out)
		}
		for i := 1; i < len(cells); i++ {
			a, b := cells[i-1].key, cells[i].key
			if len(a) > len(b) || (len(a) == len(b) && a >= b) {
				t.Fatalf("%q: keys %s then %s", in, a, b)
			}
		}
	})
}
