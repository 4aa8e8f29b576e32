package sharedb

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
)

// applyEdits applies a diff as ShareDB's client does (query.js _handleDiff).
func applyEdits(t *testing.T, list []int64, edits []edit) []int64 {
	t.Helper()
	out := slices.Clone(list)
	for _, e := range edits {
		switch e.kind {
		case editRemove:
			if e.index < 0 || e.index+e.howMany > len(out) {
				t.Fatalf("remove %d+%d out of %v", e.index, e.howMany, out)
			}
			out = slices.Delete(out, e.index, e.index+e.howMany)
		case editMove:
			if e.from < 0 || e.from >= len(out) {
				t.Fatalf("move from %d out of %v", e.from, out)
			}
			id := out[e.from]
			out = slices.Delete(out, e.from, e.from+1)
			if e.to < 0 || e.to > len(out) {
				t.Fatalf("move to %d out of %v", e.to, out)
			}
			out = slices.Insert(out, e.to, id)
		case editInsert:
			if e.index < 0 || e.index > len(out) {
				t.Fatalf("insert at %d out of %v", e.index, out)
			}
			out = slices.Insert(out, e.index, e.ids...)
		}
	}
	return out
}

func TestListDiffCases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new []int64
		want     []edit
	}{
		{"same", []int64{1, 2, 3}, []int64{1, 2, 3}, nil},
		{"enter", []int64{1, 3}, []int64{1, 2, 3}, []edit{{kind: editInsert, index: 1, ids: []int64{2}}}},
		{"enter several", nil, []int64{1, 2, 3}, []edit{{kind: editInsert, index: 0, ids: []int64{1, 2, 3}}}},
		{"leave", []int64{1, 2, 3}, []int64{1, 3}, []edit{{kind: editRemove, index: 1, howMany: 1}}},
		{"leave a run", []int64{1, 2, 3, 4}, []int64{1, 4}, []edit{{kind: editRemove, index: 1, howMany: 2}}},
		{"first to last: one move", []int64{1, 2, 3, 4}, []int64{2, 3, 4, 1}, []edit{{kind: editMove, from: 0, to: 3}}},
		{"last to first: one move", []int64{1, 2, 3, 4}, []int64{4, 1, 2, 3}, []edit{{kind: editMove, from: 3, to: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := listDiff(tc.old, tc.new)
			if !slices.EqualFunc(got, tc.want, func(a, b edit) bool {
				return a.kind == b.kind && a.index == b.index && a.howMany == b.howMany && a.from == b.from && a.to == b.to && slices.Equal(a.ids, b.ids)
			}) {
				t.Errorf("listDiff(%v, %v) = %+v, want %+v", tc.old, tc.new, got, tc.want)
			}
			if res := applyEdits(t, tc.old, got); !slices.Equal(res, tc.new) && !(len(res) == 0 && len(tc.new) == 0) {
				t.Errorf("applied: %v, want %v", res, tc.new)
			}
		})
	}
}

// TestListDiffRandom checks on random lists that the diff, applied as the
// client applies it, gives the new list, and that no document moves that
// could have stayed (at most one move per document outside the longest
// run kept in order).
func TestListDiffRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	before := diffFallbacks.Load()
	defer func() {
		if n := diffFallbacks.Load() - before; n > 0 {
			t.Errorf("%d diffs fell back to the plain diff", n)
		}
	}()
	for i := range 3000 {
		universe := r.IntN(30) + 1
		pick := func() []int64 {
			ids := r.Perm(universe)
			n := r.IntN(universe + 1)
			out := make([]int64, n)
			for k := range n {
				out[k] = int64(ids[k] + 1)
			}
			return out
		}
		old, new := pick(), pick()
		if i%4 == 0 { // small changes, as live queries see them
			new = slices.Clone(old)
			if len(new) > 1 {
				a, b := r.IntN(len(new)), r.IntN(len(new))
				new[a], new[b] = new[b], new[a]
			}
		}
		edits := listDiff(old, new)
		got := applyEdits(t, old, edits)
		if !slices.Equal(got, new) && !(len(got) == 0 && len(new) == 0) {
			t.Fatalf("case %d: listDiff(%v, %v) = %+v gives %v", i, old, new, edits, got)
		}
		in := map[int64]int{}
		for k, id := range new {
			in[id] = k
		}
		var kept []int64
		for _, id := range old {
			if _, ok := in[id]; ok {
				kept = append(kept, id)
			}
		}
		moves := 0
		for _, e := range edits {
			if e.kind == editMove {
				moves++
			}
		}
		if limit := len(kept) - len(stableSet(kept, in)); moves > limit {
			t.Fatalf("case %d: %d moves for %v -> %v, at most %d needed", i, moves, old, new, limit)
		}
	}
}

func TestDiffJSON(t *testing.T) {
	snaps := map[int64]event.Document{5: {ID: 5, V: 3, Exists: true, Data: json.RawMessage(`{"id":5}`)}}
	got := string(diffJSON([]edit{
		{kind: editRemove, index: 0, howMany: 2},
		{kind: editMove, from: 1, to: 0},
		{kind: editInsert, index: 0, ids: []int64{5}},
	}, snaps))
	want := `[{"type":"remove","index":0,"howMany":2},{"type":"move","from":1,"to":0,"howMany":1},` +
		`{"type":"insert","index":0,"values":[{"d":"5","v":3,"data":{"id":5}}]}]`
	if got != want {
		t.Errorf("diffJSON:\n got %s\nwant %s", got, want)
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
}
