package json0

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// reference decodes an op component by component through
// Component.UnmarshalJSON, as Op did before it had its own reader.
func reference(data []byte) (Op, error) {
	var comps []Component
	if err := json.Unmarshal(data, &comps); err != nil {
		return nil, err
	}
	return Op(comps), nil
}

var decodeSeeds = []string{
	`[]`, `null`, `[{"p":["fields","12",613],"si":"x"}]`,
	`[{"p":["a",0],"li":{"x":[1,2,"]"]},"ld":null},{"p":["n"],"na":-2.5e3}]`,
	`[{"p":["l",3],"lm":1},{"p":["k"],"oi":true,"od":false}]`,
	` [ { "p" : [ "s" , 1 ] , "sd" : "é" } ] `,
	`[{"p":["s"],"t":"text0","o":[{"p":1,"i":"a"}]}]`,
	`[{"p":["a\"b"],"oi":1}]`, `[{"p":["x"],"si":"a\nb"}]`, `[{"p":[-1],"li":1}]`,
	`[{"p":["x"],"oi":1,"oi":2}]`, `[{"p":["x"],"extra":1,"oi":1}]`, `[{"si":"x"}]`,
	`[{"p":[1.5],"li":1}]`, `[{"p":["x"],"na":null}]`, `[{"p":[01],"li":1}]`, `{"p":[]}`,
	`[{"p":["x"],"oi":"\u00e9\ud83d\ude00"}]`, `[{"p":["x"],"oi":1e400}]`, `[{"p":["x"],"lm":2}`,
}

// TestDecodeOp: every seed decodes as the reference decodes it, and the
// usual forms take the fast reader.
func TestDecodeOp(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
	for _, s := range []string{`[{"p":["fields","12",613],"si":"x"}]`, `[{"p":["a",0],"li":{"x":[1]},"ld":null},{"p":["n"],"na":-2.5e3}]`} {
		if _, ok := decodeOpFast([]byte(s)); !ok {
			t.Errorf("%s did not take the fast reader", s)
		}
	}
	var op Op
	err := json.Unmarshal([]byte(`{"op":{"p":[]}}`), &struct{ Op *Op }{&op})
	var je *Error
	if !errors.As(err, &je) || !errors.Is(err, ErrMalformed) {
		t.Errorf("an object for an op: %v", err)
	}
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var got Op
	gotErr := got.UnmarshalJSON(data)
	want, wantErr := reference(data)
	if json.Valid(data) && string(data) != "null" && (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, the reference's %v", data, gotErr, wantErr)
	}
	if gotErr == nil && wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
	}
}

// FuzzDecodeOp: Op.UnmarshalJSON agrees with the reference on any input.
func FuzzDecodeOp(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkDecode(t, data)
	})
}

func BenchmarkDecodeOp(b *testing.B) {
	raw := []byte(`{"v":1234,"op":[{"p":["fields","12",613],"si":"x"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		var d struct {
			V  int64
			Op Op
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			b.Fatal(err)
		}
	}
}
