package json0

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// FuzzConvergence checks json0's convergence property on random valid ops
// a and b over a random document, all drawn from the fuzz input:
// apply(apply(d, a), transform(b, a, Right)) == apply(apply(d, b), transform(a, b, Left)).
func FuzzConvergence(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		[]byte("the quick brown fox jumps over the lazy dog"),
		{255, 254, 253, 1, 1, 1, 0, 0, 7, 7, 7, 3, 3, 3, 2, 2, 2},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{b: data}
		g := &gen{src: src, textStyle: src.intn(2)}
		if src.intn(3) == 2 {
			g.kinds = []kind{kindList, kindMove}
		}
		doc := g.doc()
		a, b := g.op(doc, 3), g.op(doc, 3)
		checkConvergence(t, doc, a, b)
	})
}

func checkConvergence(t *testing.T, doc any, a, b Op) {
	t.Helper()
	show := func() string {
		j, _ := json.Marshal(map[string]any{"doc": doc, "a": a, "b": b})
		return string(j)
	}
	aLeft, err := Transform(a, b, Left)
	if err != nil {
		t.Fatalf("transform a by b: %v\n%s", err, show())
	}
	bRight, err := Transform(b, a, Right)
	if err != nil {
		t.Fatalf("transform b by a: %v\n%s", err, show())
	}
	docA, err := Apply(doc, a)
	if err != nil {
		t.Fatalf("apply a: %v\n%s", err, show())
	}
	docB, err := Apply(doc, b)
	if err != nil {
		t.Fatalf("apply b: %v\n%s", err, show())
	}
	ab, err := Apply(docA, bRight)
	if err != nil {
		t.Fatalf("apply b' after a: %v\nb' = %s\n%s", err, mustJSON(bRight), show())
	}
	ba, err := Apply(docB, aLeft)
	if err != nil {
		t.Fatalf("apply a' after b: %v\na' = %s\n%s", err, mustJSON(aLeft), show())
	}
	if !Equal(ab, ba) {
		t.Fatalf("diverged:\na then b' = %s\nb then a' = %s\na' = %s\nb' = %s\n%s",
			mustJSON(ab), mustJSON(ba), mustJSON(aLeft), mustJSON(bRight), show())
	}
	// Invert undoes, Compose matches sequential application.
	for _, op := range []struct {
		d  any
		op Op
	}{{doc, a}, {doc, b}} {
		after, _ := Apply(op.d, op.op)
		inv, err := Invert(op.op)
		if err != nil {
			t.Fatalf("invert: %v\n%s", err, show())
		}
		back, err := Apply(after, inv)
		if err != nil || !Equal(back, op.d) {
			t.Fatalf("invert did not undo (%v): %s\n%s", err, mustJSON(back), show())
		}
	}
	// An oi that replaces without its od (as Teable's clients send) applies
	// as the op with the od, and ApplyFilled gives that op back.
	for _, op := range []Op{a, b} {
		stripped := append(Op(nil), op...)
		n := 0
		for i, c := range stripped {
			if c.OI.Present() && c.OD.Present() {
				stripped[i].OD = Value{}
				n++
			}
		}
		if n == 0 {
			continue
		}
		want, _ := Apply(doc, op)
		got, filled, err := ApplyFilled(doc, stripped)
		if err != nil || !Equal(got, want) || mustJSON(filled) != mustJSON(op) {
			t.Fatalf("ApplyFilled without ods (%v): %s, op %s; want %s, op %s\n%s",
				err, mustJSON(got), mustJSON(filled), mustJSON(want), mustJSON(op), show())
		}
	}
	composed, err := Apply(doc, Compose(a, bRight))
	if err != nil || !Equal(composed, ab) {
		t.Fatalf("compose(a, b') (%v) = %s, want %s\n%s", err, mustJSON(composed), mustJSON(ab), show())
	}
}

func mustJSON(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(j)
}

// FuzzDecodeApply feeds arbitrary JSON to the decoder and, when it
// decodes, to every function: errors are fine, panics are not.
func FuzzDecodeApply(f *testing.F) {
	f.Add([]byte(`{"x":[1,"ab"]}`), []byte(`[{"p":["x",0],"li":2}]`), []byte(`[{"p":["x",1,1],"si":"z"}]`))
	f.Add([]byte(`{"x":{}}`), []byte(`[{"p":["x","k"],"oi":null}]`), []byte(`[{"p":["x"],"t":"text0","o":[{"p":0,"d":"q"}]}]`))
	f.Add([]byte(`[]`), []byte(`[{"p":[0],"lm":5}]`), []byte(`[{"p":[],"na":1}]`))
	f.Fuzz(func(t *testing.T, docJSON, aJSON, bJSON []byte) {
		var doc any
		var a, b Op
		if json.Unmarshal(docJSON, &doc) != nil || json.Unmarshal(aJSON, &a) != nil || json.Unmarshal(bJSON, &b) != nil {
			return
		}
		_, _ = Apply(doc, a)
		_, _ = Transform(a, b, Left)
		_, _ = Transform(b, a, Right)
		_, _ = Invert(a)
		if a.Validate() == nil && b.Validate() == nil {
			_ = Compose(a, b)
		}
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("marshal decoded op: %v", err)
		}
		if got, err := a.AppendJSON(nil); err != nil || string(got) != string(want) {
			t.Fatalf("AppendJSON = %s, %v; json.Marshal = %s", got, err, want)
		}
	})
}

// AppendJSON writes what json.Marshal writes, for generated ops and for
// the strings json.Marshal escapes.
func TestAppendJSONAsMarshal(t *testing.T) {
	g := &gen{src: randSource{rand.New(rand.NewPCG(3, 9))}}
	ops := []Op{nil, {}, {StringInsert([]any{"fields", "5"}, 2, "a<b>&\"\\\n é😀")},
		{StringDelete([]any{"k\u2028", 1}, 0, "x"), StringInsert([]any{"x"}, 0, "")}, {{P: []any{"a"}, SI: new("x"), NA: new(1.0)}}}
	for range 2000 {
		g.textStyle = g.src.intn(2)
		ops = append(ops, g.op(g.doc(), 4))
	}
	for _, op := range ops {
		want, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := op.AppendJSON([]byte("x")); err != nil || string(got) != "x"+string(want) {
			t.Fatalf("AppendJSON = %s, %v; json.Marshal = %s", got, err, want)
		}
	}
}
