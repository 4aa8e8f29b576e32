package json0

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// Rebase past a sequence of ops gives what Transform gives op by op, and
// changes none of its inputs: random ops of every kind, and runs of string
// inserts and deletes into a few strings, the case it moves in place.
func TestRebase(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		g := &gen{src: randSource{r}, textStyle: r.IntN(2)}
		doc := any(map[string]any{"s": "abcdef", "t": "xyz", "n": map[string]any{"u": "uvw"}})
		if i%2 == 0 {
			g.kinds = []kind{kindString}
			g.textStyle = 0
		} else {
			doc = g.doc()
		}
		op := g.op(doc, 1+i%3)
		var others []Op
		at := doc
		for range 1 + r.IntN(6) {
			o := g.op(at, 1+r.IntN(2))
			next, err := Apply(at, o)
			if err != nil {
				t.Fatal(err)
			}
			others, at = append(others, o), next
		}
		side := Side(r.IntN(2))
		before, _ := json.Marshal([]any{op, others})

		want, wantErr := op, error(nil)
		for _, o := range others {
			if want, wantErr = Transform(want, o, side); wantErr != nil {
				break
			}
		}
		rb := NewRebase(op, side)
		var err error
		for _, o := range others {
			if err = rb.Past(o); err != nil {
				break
			}
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("case %d: Rebase error %v, Transform error %v", i, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(rb.Op(), want) {
			t.Fatalf("case %d: %v past %v (%v): Rebase gives %v, Transform %v", i, op, others, side, rb.Op(), want)
		}
		if after, _ := json.Marshal([]any{op, others}); string(after) != string(before) {
			t.Fatalf("case %d: Rebase changed its inputs:\n%s\n%s", i, before, after)
		}
	}
}

// After the first, a string insert moves past others without allocating.
func TestRebaseInPlace(t *testing.T) {
	op := Op{StringInsert([]any{"fields", "5"}, 0, "a")}
	others := []Op{
		{StringInsert([]any{"fields", "5"}, 0, "bc")},
		{StringInsert([]any{"fields", "6"}, 0, "d")},
		{StringInsert([]any{"fields", "5"}, 9, "e")},
	}
	allocs := testing.AllocsPerRun(100, func() {
		rb := NewRebase(op, Right)
		for _, o := range others {
			if err := rb.Past(o); err != nil {
				t.Fatal(err)
			}
		}
		if got := rb.Op()[0].P[2]; got != 2 {
			t.Fatalf("offset %v, want 2", got)
		}
	})
	if allocs > 2 { // the first Past's op and path
		t.Fatalf("%v allocations, want 2", allocs)
	}
}
