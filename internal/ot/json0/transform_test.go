package json0

import (
	"errors"
	"reflect"
	"testing"
)

func TestTransform(t *testing.T) {
	// transform(op, other, Left) and transform(op, other, Right).
	tests := []struct{ name, op, other, left, right string }{
		// Object components.
		{"oi vs oi same key", `[{"p":["k"],"oi":1}]`, `[{"p":["k"],"oi":2}]`,
			`[{"p":["k"],"od":2,"oi":1}]`, `[]`},
		{"oi vs oi other key", `[{"p":["k"],"oi":1}]`, `[{"p":["j"],"oi":2}]`,
			`[{"p":["k"],"oi":1}]`, `[{"p":["k"],"oi":1}]`},
		{"oi+od vs oi+od", `[{"p":["k"],"od":0,"oi":1}]`, `[{"p":["k"],"od":0,"oi":2}]`,
			`[{"p":["k"],"od":2,"oi":1}]`, `[]`},
		{"od vs od", `[{"p":["k"],"od":0}]`, `[{"p":["k"],"od":0}]`, `[]`, `[]`},
		{"oi+od vs od", `[{"p":["k"],"od":0,"oi":1}]`, `[{"p":["k"],"od":0}]`,
			`[{"p":["k"],"oi":1}]`, `[{"p":["k"],"oi":1}]`},
		{"edit under deleted key", `[{"p":["k","x"],"na":1}]`, `[{"p":["k"],"od":{"x":1}}]`, `[]`, `[]`},
		{"edit under replaced key", `[{"p":["k",0],"li":1}]`, `[{"p":["k"],"od":[],"oi":3}]`, `[]`, `[]`},
		{"od carries concurrent edit", `[{"p":["k"],"od":{"x":1}}]`, `[{"p":["k","x"],"na":2}]`,
			`[{"p":["k"],"od":{"x":3}}]`, `[{"p":["k"],"od":{"x":3}}]`},
		// Lists.
		{"li vs li same index", `[{"p":["l",1],"li":"a"}]`, `[{"p":["l",1],"li":"b"}]`,
			`[{"p":["l",1],"li":"a"}]`, `[{"p":["l",2],"li":"a"}]`},
		{"li after li", `[{"p":["l",3],"li":"a"}]`, `[{"p":["l",1],"li":"b"}]`,
			`[{"p":["l",4],"li":"a"}]`, `[{"p":["l",4],"li":"a"}]`},
		{"li before li", `[{"p":["l",0],"li":"a"}]`, `[{"p":["l",1],"li":"b"}]`,
			`[{"p":["l",0],"li":"a"}]`, `[{"p":["l",0],"li":"a"}]`},
		{"ld after ld", `[{"p":["l",3],"ld":"x"}]`, `[{"p":["l",1],"ld":"y"}]`,
			`[{"p":["l",2],"ld":"x"}]`, `[{"p":["l",2],"ld":"x"}]`},
		{"ld vs ld same", `[{"p":["l",1],"ld":"x"}]`, `[{"p":["l",1],"ld":"x"}]`, `[]`, `[]`},
		{"li+ld vs ld", `[{"p":["l",1],"ld":"x","li":"y"}]`, `[{"p":["l",1],"ld":"x"}]`,
			`[{"p":["l",1],"li":"y"}]`, `[{"p":["l",1],"li":"y"}]`},
		{"li+ld vs li+ld", `[{"p":["l",1],"ld":"x","li":"y"}]`, `[{"p":["l",1],"ld":"x","li":"z"}]`,
			`[{"p":["l",1],"ld":"z","li":"y"}]`, `[]`},
		{"edit in deleted element", `[{"p":["l",1,"k"],"oi":1}]`, `[{"p":["l",1],"ld":{}}]`, `[]`, `[]`},
		{"edit shifted by li", `[{"p":["l",1,"k"],"oi":1}]`, `[{"p":["l",0],"li":{}}]`,
			`[{"p":["l",2,"k"],"oi":1}]`, `[{"p":["l",2,"k"],"oi":1}]`},
		{"ld carries edit", `[{"p":["l",0],"ld":"ab"}]`, `[{"p":["l",0,1],"si":"X"}]`,
			`[{"p":["l",0],"ld":"aXb"}]`, `[{"p":["l",0],"ld":"aXb"}]`},
		// Moves.
		{"lm vs li before", `[{"p":["l",2],"lm":4}]`, `[{"p":["l",0],"li":"n"}]`,
			`[{"p":["l",3],"lm":5}]`, `[{"p":["l",3],"lm":5}]`},
		{"lm vs ld of it", `[{"p":["l",2],"lm":0}]`, `[{"p":["l",2],"ld":"x"}]`, `[]`, `[]`},
		{"lm vs ld before", `[{"p":["l",2],"lm":4}]`, `[{"p":["l",0],"ld":"x"}]`,
			`[{"p":["l",1],"lm":3}]`, `[{"p":["l",1],"lm":3}]`},
		{"lm vs lm same element", `[{"p":["l",1],"lm":3}]`, `[{"p":["l",1],"lm":0}]`,
			`[{"p":["l",0],"lm":3}]`, `[]`},
		{"lm vs lm around", `[{"p":["l",0],"lm":2}]`, `[{"p":["l",3],"lm":1}]`,
			`[{"p":["l",0],"lm":3}]`, `[{"p":["l",0],"lm":3}]`},
		{"li vs lm", `[{"p":["l",3],"li":"n"}]`, `[{"p":["l",0],"lm":4}]`,
			`[{"p":["l",2],"li":"n"}]`, `[{"p":["l",2],"li":"n"}]`},
		{"edit follows moved element", `[{"p":["l",0],"na":1}]`, `[{"p":["l",0],"lm":2}]`,
			`[{"p":["l",2],"na":1}]`, `[{"p":["l",2],"na":1}]`},
		// Numbers commute.
		{"na vs na", `[{"p":["n"],"na":1}]`, `[{"p":["n"],"na":5}]`, `[{"p":["n"],"na":1}]`, `[{"p":["n"],"na":1}]`},
		// Strings.
		{"si vs si same offset", `[{"p":["s",1],"si":"a"}]`, `[{"p":["s",1],"si":"bb"}]`,
			`[{"p":["s",1],"si":"a"}]`, `[{"p":["s",3],"si":"a"}]`},
		{"si after sd", `[{"p":["s",5],"si":"a"}]`, `[{"p":["s",1],"sd":"xy"}]`,
			`[{"p":["s",3],"si":"a"}]`, `[{"p":["s",3],"si":"a"}]`},
		{"sd around si splits", `[{"p":["s",0],"sd":"abcd"}]`, `[{"p":["s",2],"si":"X"}]`,
			`[{"p":["s",0],"sd":"ab"},{"p":["s",1],"sd":"cd"}]`, `[{"p":["s",0],"sd":"ab"},{"p":["s",1],"sd":"cd"}]`},
		{"sd vs overlapping sd", `[{"p":["s",1],"sd":"bcd"}]`, `[{"p":["s",2],"sd":"cde"}]`,
			`[{"p":["s",1],"sd":"b"}]`, `[{"p":["s",1],"sd":"b"}]`},
		{"utf16 offsets", `[{"p":["s",4],"si":"a"}]`, `[{"p":["s",0],"si":"😀"}]`,
			`[{"p":["s",6],"si":"a"}]`, `[{"p":["s",6],"si":"a"}]`},
		{"text0 vs text0", `[{"p":["s"],"t":"text0","o":[{"p":1,"i":"a"}]}]`, `[{"p":["s"],"t":"text0","o":[{"p":0,"d":"xy"}]}]`,
			`[{"p":["s"],"t":"text0","o":[{"p":0,"i":"a"}]}]`, `[{"p":["s"],"t":"text0","o":[{"p":0,"i":"a"}]}]`},
		{"text0 vs si (differs from ot-json0)", `[{"p":["s"],"t":"text0","o":[{"p":3,"i":"a"}]}]`, `[{"p":["s",0],"si":"xy"}]`,
			`[{"p":["s"],"t":"text0","o":[{"p":5,"i":"a"}]}]`, `[{"p":["s"],"t":"text0","o":[{"p":5,"i":"a"}]}]`},
		{"si vs text0 (differs from ot-json0)", `[{"p":["s",3],"si":"a"}]`, `[{"p":["s"],"t":"text0","o":[{"p":0,"d":"x"}]}]`,
			`[{"p":["s",2],"si":"a"}]`, `[{"p":["s",2],"si":"a"}]`},
		{"string deleted", `[{"p":["s",0],"si":"a"}]`, `[{"p":["s"],"od":"x"}]`, `[]`, `[]`},
		// Multi-component.
		{"two by one", `[{"p":["l",0],"li":"a"},{"p":["l",5],"li":"b"}]`, `[{"p":["l",2],"ld":"z"}]`,
			`[{"p":["l",0],"li":"a"},{"p":["l",4],"li":"b"}]`, `[{"p":["l",0],"li":"a"},{"p":["l",4],"li":"b"}]`},
		{"by empty", `[{"p":["a"],"oi":1}]`, `[]`, `[{"p":["a"],"oi":1}]`, `[{"p":["a"],"oi":1}]`},
		{"empty by op", `[]`, `[{"p":["a"],"oi":1}]`, `[]`, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, other := parseOp(t, tt.op), parseOp(t, tt.other)
			for _, s := range []struct {
				side Side
				want string
			}{{Left, tt.left}, {Right, tt.right}} {
				got, err := Transform(op, other, s.side)
				if err != nil {
					t.Fatalf("%v: %v", s.side, err)
				}
				if !Equal(parseDoc(t, mustJSON(got)), parseDoc(t, s.want)) {
					t.Errorf("%v: got %s, want %s", s.side, mustJSON(got), s.want)
				}
			}
		})
	}
}

func TestTransformErrors(t *testing.T) {
	good := parseOp(t, `[{"p":["a"],"oi":1}]`)
	bad := Op{{P: []any{"a"}}}
	if _, err := Transform(bad, good, Left); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed op: %v", err)
	}
	if _, err := Transform(good, bad, Right); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed other: %v", err)
	}
	// Concurrent deletes of different text at the same place cannot both be right.
	a := parseOp(t, `[{"p":["s",0],"sd":"ab"}]`)
	b := parseOp(t, `[{"p":["s",0],"sd":"xy"}]`)
	if _, err := Transform(a, b, Left); !errors.Is(err, ErrMismatch) {
		t.Errorf("disagreeing deletes: %v", err)
	}
	if _, err := Transform(Op{{P: []any{1.5}, OI: Some(1)}}, good, Left); !errors.Is(err, ErrMalformed) {
		t.Errorf("float path element: %v", err)
	}
}

func TestInvert(t *testing.T) {
	tests := []struct{ op, want string }{
		{`[{"p":["k"],"oi":1}]`, `[{"p":["k"],"od":1}]`},
		{`[{"p":["k"],"od":null,"oi":[1]}]`, `[{"p":["k"],"od":[1],"oi":null}]`},
		{`[{"p":["l",0],"li":1}]`, `[{"p":["l",0],"ld":1}]`},
		{`[{"p":["l",0],"ld":1,"li":2}]`, `[{"p":["l",0],"ld":2,"li":1}]`},
		{`[{"p":["l",1],"lm":3}]`, `[{"p":["l",3],"lm":1}]`},
		{`[{"p":["n"],"na":2}]`, `[{"p":["n"],"na":-2}]`},
		{`[{"p":["s",1],"si":"x"}]`, `[{"p":["s",1],"sd":"x"}]`},
		{`[{"p":["s"],"t":"text0","o":[{"p":0,"i":"ab"},{"p":3,"d":"c"}]}]`, `[{"p":["s"],"t":"text0","o":[{"p":3,"i":"c"},{"p":0,"d":"ab"}]}]`},
		{`[{"p":["a"],"oi":1},{"p":["a"],"na":1}]`, `[{"p":["a"],"na":-1},{"p":["a"],"od":1}]`},
	}
	for _, tt := range tests {
		got, err := Invert(parseOp(t, tt.op))
		if err != nil {
			t.Fatalf("%s: %v", tt.op, err)
		}
		if !Equal(parseDoc(t, mustJSON(got)), parseDoc(t, tt.want)) {
			t.Errorf("Invert(%s) = %s, want %s", tt.op, mustJSON(got), tt.want)
		}
	}
	if _, err := Invert(Op{{P: []any{"a"}, LM: intp(1)}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("invert of malformed op: %v", err)
	}
}

func TestCompose(t *testing.T) {
	tests := []struct{ name, a, b, want string }{
		{"na merge", `[{"p":["n"],"na":1}]`, `[{"p":["n"],"na":2}]`, `[{"p":["n"],"na":3}]`},
		{"li then ld cancels", `[{"p":["l",0],"li":5}]`, `[{"p":["l",0],"ld":5}]`, `[]`},
		{"li then ld of object stays (json0)", `[{"p":["l",0],"li":{}}]`, `[{"p":["l",0],"ld":{}}]`,
			`[{"p":["l",0],"li":{}},{"p":["l",0],"ld":{}}]`},
		{"replace then delete", `[{"p":["l",0],"ld":1,"li":5}]`, `[{"p":["l",0],"ld":5}]`, `[{"p":["l",0],"ld":1}]`},
		{"od then oi", `[{"p":["k"],"od":1}]`, `[{"p":["k"],"oi":2}]`, `[{"p":["k"],"od":1,"oi":2}]`},
		{"oi then od cancels", `[{"p":["k"],"oi":1}]`, `[{"p":["k"],"od":1}]`, `[]`},
		{"oi then replace", `[{"p":["k"],"oi":1}]`, `[{"p":["k"],"od":1,"oi":2}]`, `[{"p":["k"],"oi":2}]`},
		{"replace then od", `[{"p":["k"],"od":0,"oi":1}]`, `[{"p":["k"],"od":1}]`, `[{"p":["k"],"od":0}]`},
		{"si merge", `[{"p":["s",1],"si":"ab"}]`, `[{"p":["s",3],"si":"c"}]`, `[{"p":["s",1],"si":"abc"}]`},
		{"sd merge", `[{"p":["s",1],"sd":"b"}]`, `[{"p":["s",1],"sd":"c"}]`, `[{"p":["s",1],"sd":"bc"}]`},
		{"si apart", `[{"p":["s",1],"si":"a"}]`, `[{"p":["s",5],"si":"b"}]`, `[{"p":["s",1],"si":"a"},{"p":["s",5],"si":"b"}]`},
		{"text0 merge", `[{"p":["s"],"t":"text0","o":[{"p":0,"i":"a"}]}]`, `[{"p":["s"],"t":"text0","o":[{"p":1,"i":"b"}]}]`,
			`[{"p":["s"],"t":"text0","o":[{"p":0,"i":"ab"}]}]`},
		{"noop move dropped", `[{"p":["l",1],"lm":2}]`, `[{"p":["l",1],"lm":1}]`, `[{"p":["l",1],"lm":2}]`},
		{"different paths", `[{"p":["a"],"oi":1}]`, `[{"p":["b"],"oi":2}]`, `[{"p":["a"],"oi":1},{"p":["b"],"oi":2}]`},
		{"empty", `[]`, `[{"p":["b"],"oi":2}]`, `[{"p":["b"],"oi":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := parseOp(t, tt.a)
			before := mustJSON(a)
			got := Compose(a, parseOp(t, tt.b))
			if !Equal(parseDoc(t, mustJSON(got)), parseDoc(t, tt.want)) {
				t.Errorf("got %s, want %s", mustJSON(got), tt.want)
			}
			if mustJSON(a) != before {
				t.Errorf("Compose mutated a: %s", mustJSON(a))
			}
		})
	}
}

// stringPastString gives what the text0 route gives for an insert or a
// delete against an insert or a delete into the same string, wherever it
// takes the pair, and takes every pair but a delete split by an insert, an
// insert inside a deleted text and overlapping deletes; it leaves an edit
// of another string as it is.
func TestStringPastString(t *testing.T) {
	texts := []string{"a", "xy", "é", "😀", "中b", "abcd"}
	edit := func(del bool, at int, text string) Component {
		if del {
			return StringDelete([]any{"fields", "5"}, at, text)
		}
		return StringInsert([]any{"fields", "5"}, at, text)
	}
	taken := map[[2]bool]int{}
	for _, side := range []Side{Left, Right} {
		for _, kinds := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for cp := range 6 {
				for op := range 6 {
					for _, ct := range texts {
						for _, ot := range texts {
							c, other := edit(kinds[0], cp, ct), edit(kinds[1], op, ot)
							got, ok := stringPastString(c, other, side)
							cEnd, oEnd := cp+u16len(ct), op+u16len(ot)
							split := kinds[0] && !kinds[1] && op > cp && op < cEnd
							overlap := kinds[0] && kinds[1] && op < cEnd && cp < oEnd
							inside := !kinds[0] && kinds[1] && cp > op && cp < oEnd
							if ok == (split || overlap || inside) {
								t.Fatalf("%v against %v: taken %v", c, other, ok)
							}
							if !ok {
								continue
							}
							taken[kinds]++
							res, err := textTransform(toText(c).O, toText(other).O, side)
							if err != nil || len(res) != 1 {
								t.Fatalf("%v against %v: text0 gives %v, %v", c, other, res, err)
							}
							want := fromText(Component{P: []any{"fields", "5"}, T: SubtypeText0, O: res})
							if !reflect.DeepEqual(got.P, want.P) || !reflect.DeepEqual(got.SI, want.SI) || !reflect.DeepEqual(got.SD, want.SD) {
								t.Fatalf("%v against %v, %s: %v, text0 gives %v", c, other, side, got, want)
							}
						}
					}
				}
			}
		}
	}
	if len(taken) != 4 {
		t.Fatalf("pairs taken by kind (delete?, delete?): %v, want all four", taken)
	}
	for _, pair := range [][2]Component{
		{StringInsert([]any{"fields", "5"}, 3, "x"), StringInsert([]any{"fields", "6"}, 0, "y")},
		{StringDelete([]any{"fields", "5"}, 3, "x"), StringInsert([]any{"fields", "6"}, 0, "y")},
		{StringInsert([]any{"fields", "5"}, 3, "x"), StringDelete([]any{"fields", "6"}, 0, "y")},
	} {
		got, ok := stringPastString(pair[0], pair[1], Right)
		if !ok || !reflect.DeepEqual(got, pair[0]) || &got.P[0] == &pair[0].P[0] {
			t.Errorf("%v against %v in another string: %v %v, want it unchanged, its path copied", pair[0], pair[1], got, ok)
		}
	}
	for _, pair := range [][2]Component{
		{StringInsert([]any{"a"}, 0, ""), StringInsert([]any{"a"}, 0, "y")},
		{StringInsert([]any{"a"}, 0, "x"), StringDelete([]any{"a"}, 0, "")},
		{StringDelete([]any{"a"}, 0, ""), StringInsert([]any{"a"}, 0, "y")},
		{StringInsert([]any{"a", 1}, 0, "x"), StringInsert([]any{"a"}, 0, "y")},
		{StringInsert([]any{"a"}, 0, "x"), {P: []any{"b", 0}, SI: new("y"), NA: new(1.0)}},
	} {
		if _, ok := stringPastString(pair[0], pair[1], Left); ok {
			t.Errorf("%v against %v taken", pair[0], pair[1])
		}
	}
}
