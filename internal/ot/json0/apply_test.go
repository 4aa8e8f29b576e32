package json0

import (
	"encoding/json"
	"errors"
	"testing"
)

func parseDoc(t testing.TB, s string) any {
	t.Helper()
	return parseJSON[any](t, "doc", s)
}

func parseOp(t testing.TB, s string) Op {
	t.Helper()
	return parseJSON[Op](t, "op", s)
}

// parseJSON decodes s, the test's what, or fails t.
func parseJSON[T any](t testing.TB, what, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s %s: %v", what, s, err)
	}
	return v
}

func TestApply(t *testing.T) {
	tests := []struct{ name, doc, op, want string }{
		{"oi", `{"a":1}`, `[{"p":["b"],"oi":{"x":[1]}}]`, `{"a":1,"b":{"x":[1]}}`},
		{"oi null", `{}`, `[{"p":["b"],"oi":null}]`, `{"b":null}`},
		{"od", `{"a":1,"b":[2]}`, `[{"p":["b"],"od":[2]}]`, `{"a":1}`},
		{"od null", `{"a":null}`, `[{"p":["a"],"od":null}]`, `{}`},
		{"oi+od", `{"a":1}`, `[{"p":["a"],"od":1,"oi":"x"}]`, `{"a":"x"}`},
		{"nested oi", `{"a":{"b":[{}]}}`, `[{"p":["a","b",0,"c"],"oi":true}]`, `{"a":{"b":[{"c":true}]}}`},
		{"li", `{"l":[1,2]}`, `[{"p":["l",1],"li":9}]`, `{"l":[1,9,2]}`},
		{"li at end", `{"l":[1]}`, `[{"p":["l",1],"li":9}]`, `{"l":[1,9]}`},
		{"ld", `{"l":[1,{"x":2}]}`, `[{"p":["l",1],"ld":{"x":2}}]`, `{"l":[1]}`},
		{"li+ld", `{"l":[1,2]}`, `[{"p":["l",0],"ld":1,"li":null}]`, `{"l":[null,2]}`},
		{"lm forward", `{"l":[0,1,2,3]}`, `[{"p":["l",0],"lm":2}]`, `{"l":[1,2,0,3]}`},
		{"lm back", `{"l":[0,1,2,3]}`, `[{"p":["l",3],"lm":1}]`, `{"l":[0,3,1,2]}`},
		{"lm same", `{"l":[0,1]}`, `[{"p":["l",1],"lm":1}]`, `{"l":[0,1]}`},
		{"na", `{"n":1.5}`, `[{"p":["n"],"na":-3}]`, `{"n":-1.5}`},
		{"na root", `4`, `[{"p":[],"na":1}]`, `5`},
		{"na in list", `[1,2]`, `[{"p":[1],"na":10}]`, `[1,12]`},
		{"si", `{"s":"abc"}`, `[{"p":["s",1],"si":"XY"}]`, `{"s":"aXYbc"}`},
		{"si end", `{"s":"ab"}`, `[{"p":["s",2],"si":"!"}]`, `{"s":"ab!"}`},
		{"sd", `{"s":"abc"}`, `[{"p":["s",1],"sd":"bc"}]`, `{"s":"a"}`},
		{"si utf16", `{"s":"😀é"}`, `[{"p":["s",2],"si":"x"}]`, `{"s":"😀xé"}`},
		{"sd utf16", `{"s":"a😀b"}`, `[{"p":["s",1],"sd":"😀"}]`, `{"s":"ab"}`},
		{"text0", `{"s":"hello"}`, `[{"p":["s"],"t":"text0","o":[{"p":5,"i":" world"},{"p":0,"d":"h"}]}]`, `{"s":"ello world"}`},
		{"text0 empty", `{"s":"x"}`, `[{"p":["s"],"t":"text0","o":[]}]`, `{"s":"x"}`},
		{"sequence", `{"l":[]}`, `[{"p":["l",0],"li":"a"},{"p":["l",0,0],"si":"b"},{"p":["l",1],"li":2},{"p":["l",1],"na":1}]`, `{"l":["ba",3]}`},
		{"empty op", `{"a":1}`, `[]`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parseDoc(t, tt.doc)
			before := mustJSON(doc)
			got, err := Apply(doc, parseOp(t, tt.op))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if want := parseDoc(t, tt.want); !Equal(got, want) {
				t.Errorf("got %s, want %s", mustJSON(got), tt.want)
			}
			if mustJSON(doc) != before {
				t.Errorf("input mutated: %s, was %s", mustJSON(doc), before)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name, doc, op string
		want          error
	}{
		{"missing key", `{"a":{}}`, `[{"p":["a","b","c"],"oi":1}]`, ErrPathNotFound},
		{"index past end", `{"l":[1]}`, `[{"p":["l",3,"x"],"oi":1}]`, ErrPathNotFound},
		{"key into list", `{"l":[1]}`, `[{"p":["l","x","y"],"oi":1}]`, ErrPathNotFound},
		{"index into object", `{"o":{}}`, `[{"p":["o",0,"y"],"oi":1}]`, ErrPathNotFound},
		{"od missing key", `{}`, `[{"p":["a"],"od":1}]`, ErrPathNotFound},
		{"od mismatch", `{"a":1}`, `[{"p":["a"],"od":2}]`, ErrMismatch},
		{"od null vs absent value", `{"a":false}`, `[{"p":["a"],"od":null}]`, ErrMismatch},

		{"oi on list", `{"l":[]}`, `[{"p":["l","k"],"oi":1}]`, ErrWrongType},
		{"li on non-list", `{"o":{}}`, `[{"p":["o",0],"li":1}]`, ErrWrongType},
		{"li on string", `{"s":"ab"}`, `[{"p":["s",0],"li":1}]`, ErrWrongType},
		{"li out of range", `{"l":[]}`, `[{"p":["l",1],"li":1}]`, ErrOutOfRange},
		{"ld out of range", `{"l":[1]}`, `[{"p":["l",1],"ld":1}]`, ErrOutOfRange},
		{"ld mismatch", `{"l":[1]}`, `[{"p":["l",0],"ld":2}]`, ErrMismatch},
		{"li+ld mismatch", `{"l":[[1]]}`, `[{"p":["l",0],"ld":[2],"li":3}]`, ErrMismatch},
		{"lm from out of range", `{"l":[1,2]}`, `[{"p":["l",2],"lm":0}]`, ErrOutOfRange},
		{"lm to out of range", `{"l":[1,2]}`, `[{"p":["l",0],"lm":2}]`, ErrOutOfRange},
		{"lm on object", `{"o":{}}`, `[{"p":["o",0],"lm":0}]`, ErrWrongType},
		{"na on string", `{"s":"1"}`, `[{"p":["s"],"na":1}]`, ErrWrongType},
		{"na on null", `{"n":null}`, `[{"p":["n"],"na":1}]`, ErrWrongType},
		{"na missing", `{}`, `[{"p":["n"],"na":1}]`, ErrPathNotFound},
		{"si on number", `{"n":1}`, `[{"p":["n",0],"si":"x"}]`, ErrWrongType},
		{"si past end", `{"s":"ab"}`, `[{"p":["s",3],"si":"x"}]`, ErrOutOfRange},
		{"si inside surrogate pair", `{"s":"😀"}`, `[{"p":["s",1],"si":"x"}]`, ErrOutOfRange},
		{"sd mismatch", `{"s":"abc"}`, `[{"p":["s",0],"sd":"b"}]`, ErrMismatch},
		{"sd past end", `{"s":"abc"}`, `[{"p":["s",2],"sd":"cd"}]`, ErrOutOfRange},
		{"text0 on list", `{"l":[]}`, `[{"p":["l"],"t":"text0","o":[{"p":0,"i":"x"}]}]`, ErrWrongType},
		{"text0 delete mismatch", `{"s":"abc"}`, `[{"p":["s"],"t":"text0","o":[{"p":1,"d":"x"}]}]`, ErrMismatch},
		{"second component fails", `{"a":1}`, `[{"p":["b"],"oi":1},{"p":["c"],"od":1}]`, ErrPathNotFound},
		// Malformed components (Validate).
		{"no operation", `{}`, `[{"p":["a"]}]`, ErrMalformed},
		{"two kinds", `{"l":[]}`, `[{"p":["l",0],"li":1,"oi":1}]`, ErrMalformed},
		{"si and sd", `{"s":"a"}`, `[{"p":["s",0],"si":"x","sd":"a"}]`, ErrMalformed},
		{"oi with index", `{"l":[]}`, `[{"p":["l",0],"oi":1}]`, ErrMalformed},
		{"li with key", `{"l":[]}`, `[{"p":["l","x"],"li":1}]`, ErrMalformed},
		{"oi empty path", `{}`, `[{"p":[],"oi":1}]`, ErrMalformed},
		{"si without offset", `"s"`, `[{"p":[],"si":"x"}]`, ErrMalformed},
		{"negative index", `{"l":[1]}`, `[{"p":["l",-1],"ld":1}]`, ErrMalformed},
		{"negative lm", `{"l":[1]}`, `[{"p":["l",0],"lm":-1}]`, ErrMalformed},
		{"unknown subtype", `{"s":"a"}`, `[{"p":["s"],"t":"rich-text"}]`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parseDoc(t, tt.doc)
			got, err := Apply(doc, parseOp(t, tt.op))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Component < 0 {
				t.Errorf("error %v is not an *Error with a component index", err)
			}
			if !Equal(got, doc) {
				t.Errorf("failed Apply returned a changed document %s", mustJSON(got))
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, s := range []string{
		`{}`, `[1]`, `[{"p":"a","oi":1}]`, `[{"p":[1.5],"li":1}]`, `[{"p":[true],"li":1}]`,
		`[{"p":["a"],"lm":"1"}]`, `[{"p":["a"],"lm":1.5}]`, `[{"p":["a"],"na":"1"}]`, `[{"p":["a"],"na":null}]`,
		`[{"p":["a",0],"si":1}]`, `[{"p":["a",0],"sd":null}]`, `[{"p":["a"],"t":1}]`,
		`[{"p":["a"],"o":[]}]`, `[{"p":["a"],"t":"text0","o":[{"i":"x"}]}]`,
		`[{"p":["a"],"t":"text0","o":[{"p":0}]}]`, `[{"p":["a"],"t":"text0","o":[{"p":0,"i":"x","d":"y"}]}]`,
		`[{"p":["a"],"t":"text0","o":[{"p":-1,"i":"x"}]}]`, `[{"oi":1}]`,
	} {
		var op Op
		err := json.Unmarshal([]byte(s), &op)
		if err == nil {
			t.Errorf("%s: decoded without error", s)
		} else if s != `{}` && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", s, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, s := range []string{
		`[{"p":["a"],"oi":null}]`, `[{"p":["a"],"od":null,"oi":{"x":[]}}]`,
		`[{"p":["l",0],"li":null,"ld":false}]`, `[{"p":["l",3],"lm":0}]`, `[{"p":[],"na":-2.5}]`,
		`[{"p":["s",0],"si":""}]`, `[{"p":["s",2],"sd":"x"}]`,
		`[{"p":["s"],"t":"text0","o":[{"p":0,"i":"x"},{"p":1,"d":"y"}]}]`, `[]`,
	} {
		op := parseOp(t, s)
		if got := mustJSON(op); !Equal(parseDoc(t, got), parseDoc(t, s)) {
			t.Errorf("round trip of %s gave %s", s, got)
		}
	}
	// Absent and null stay distinct.
	op := parseOp(t, `[{"p":["a"],"oi":null}]`)
	if !op[0].OI.Present() || op[0].OD.Present() || op[0].OI.Get() != nil {
		t.Errorf("oi:null decoded as %+v", op[0])
	}
}

func TestApplyOIReplaces(t *testing.T) {
	for _, c := range []struct {
		name, doc, op, want, filled string
	}{
		{"replace without od", `{"fields":{"2":null}}`, `[{"p":["fields","2"],"oi":5}]`,
			`{"fields":{"2":5}}`, `[{"p":["fields","2"],"oi":5,"od":null}]`},
		{"replace a value", `{"a":"x"}`, `[{"p":["a"],"oi":"y"}]`, `{"a":"y"}`, `[{"p":["a"],"oi":"y","od":"x"}]`},
		{"insert stays an insert", `{}`, `[{"p":["a"],"oi":1}]`, `{"a":1}`, `[{"p":["a"],"oi":1}]`},
		{"with od unchanged", `{"a":1}`, `[{"p":["a"],"oi":2,"od":1}]`, `{"a":2}`, `[{"p":["a"],"oi":2,"od":1}]`},
		{"second component sees the first", `{"a":1}`, `[{"p":["a"],"oi":2},{"p":["a"],"oi":3}]`,
			`{"a":3}`, `[{"p":["a"],"oi":2,"od":1},{"p":["a"],"oi":3,"od":2}]`},
		{"nested in a list", `{"l":[{"k":true}]}`, `[{"p":["l",0,"k"],"oi":false}]`,
			`{"l":[{"k":false}]}`, `[{"p":["l",0,"k"],"oi":false,"od":true}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var doc any
			var op Op
			if err := json.Unmarshal([]byte(c.doc), &doc); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(c.op), &op); err != nil {
				t.Fatal(err)
			}
			plain, err := Apply(doc, op)
			if err != nil || mustJSON(plain) != c.want {
				t.Fatalf("Apply = %s, %v; want %s", mustJSON(plain), err, c.want)
			}
			got, filled, err := ApplyFilled(doc, op)
			if err != nil || mustJSON(got) != c.want || mustJSON(filled) != c.filled {
				t.Fatalf("ApplyFilled = %s, %s, %v; want %s, %s", mustJSON(got), mustJSON(filled), err, c.want, c.filled)
			}
			if mustJSON(op) != c.op {
				t.Fatalf("ApplyFilled changed its input op: %s", mustJSON(op))
			}
			// the filled op inverts back to the document
			inv, err := Invert(filled)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Apply(got, inv)
			if err != nil || !Equal(back, doc) {
				t.Fatalf("invert of the filled op = %s, %v", mustJSON(back), err)
			}
		})
	}
}
