package sharedb

import (
	"bytes"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/event"
)

// diffFallbacks counts the diffs made the plain way (tests expect none).
var diffFallbacks atomic.Int64

// A live query's change is sent as ShareDB's diff: a list of edits the
// client applies in order to its results (sharedb/lib/client/query.js):
//
//	{"type":"remove","index":i,"howMany":n}
//	{"type":"move","from":i,"to":j,"howMany":n}   to: in the list without the moved items
//	{"type":"insert","index":i,"values":[snapshot...]}
//
// listDiff finds few edits: removals first (back to front), then the
// longest run of documents that kept their relative order stays put, and
// every other document is moved (or inserted) right after the one that
// precedes it in the new results. A row that moves is one move, whatever
// the length of the list.

type editKind uint8

const (
	editRemove editKind = iota + 1
	editMove
	editInsert
)

// edit is one diff entry; ids are the inserted documents.
type edit struct {
	kind    editKind
	index   int // remove, insert
	howMany int // remove
	from    int // move
	to      int // move
	ids     []int64
}

// listDiff returns the edits that turn old into new (lists of distinct
// ids).
func listDiff(old, new []int64) []edit {
	in := make(map[int64]int, len(new))
	for i, id := range new {
		in[id] = i
	}
	var edits []edit
	cur := slices.Clone(old)
	for i := len(cur) - 1; i >= 0; i-- {
		if _, keep := in[cur[i]]; keep {
			continue
		}
		end := i
		for i > 0 {
			if _, keep := in[cur[i-1]]; keep {
				break
			}
			i--
		}
		edits = append(edits, edit{kind: editRemove, index: i, howMany: end - i + 1})
		cur = slices.Delete(cur, i, end+1)
	}
	stable := stableSet(cur, in)
	place := func(j int) int { // where new[j] goes: right after new[j-1]
		if j == 0 {
			return 0
		}
		return slices.Index(cur, new[j-1]) + 1
	}
	for j, id := range new {
		if stable[id] {
			continue
		}
		if k := slices.Index(cur, id); k >= 0 {
			cur = slices.Delete(cur, k, k+1)
			p := place(j)
			cur = slices.Insert(cur, p, id)
			if p != k {
				edits = append(edits, edit{kind: editMove, from: k, to: p})
			}
			continue
		}
		p := place(j)
		cur = slices.Insert(cur, p, id)
		if n := len(edits); n > 0 && edits[n-1].kind == editInsert && edits[n-1].index+len(edits[n-1].ids) == p {
			edits[n-1].ids = append(edits[n-1].ids, id)
			continue
		}
		edits = append(edits, edit{kind: editInsert, index: p, ids: []int64{id}})
	}
	if !slices.Equal(cur, new) {
		// Not expected (see the test); a diff that is always right.
		diffFallbacks.Add(1)
		return scanDiff(old, new, in)
	}
	return edits
}

// stableSet is the longest subsequence of cur whose order new keeps
// (a longest increasing subsequence of their places in new).
func stableSet(cur []int64, in map[int64]int) map[int64]bool {
	// tails[k]: index in cur of the smallest tail of an increasing run of
	// length k+1; prev links the runs.
	var tails []int
	prev := make([]int, len(cur))
	for i, id := range cur {
		pos := in[id]
		k, _ := slices.BinarySearchFunc(tails, pos, func(t int, p int) int { return in[cur[t]] - p })
		if k > 0 {
			prev[i] = tails[k-1]
		} else {
			prev[i] = -1
		}
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	out := make(map[int64]bool, len(tails))
	if len(tails) == 0 {
		return out
	}
	for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
		out[cur[i]] = true
	}
	return out
}

// scanDiff is the plain diff: removals, then each place filled in turn.
func scanDiff(old, new []int64, in map[int64]int) []edit {
	var edits []edit
	cur := slices.Clone(old)
	for i := len(cur) - 1; i >= 0; i-- {
		if _, keep := in[cur[i]]; !keep {
			edits = append(edits, edit{kind: editRemove, index: i, howMany: 1})
			cur = slices.Delete(cur, i, i+1)
		}
	}
	for j, id := range new {
		if j < len(cur) && cur[j] == id {
			continue
		}
		if k := slices.Index(cur, id); k >= 0 {
			cur = slices.Delete(cur, k, k+1)
			cur = slices.Insert(cur, j, id)
			edits = append(edits, edit{kind: editMove, from: k, to: j})
			continue
		}
		cur = slices.Insert(cur, j, id)
		edits = append(edits, edit{kind: editInsert, index: j, ids: []int64{id}})
	}
	return edits
}

// diffJSON renders edits as ShareDB's diff, the inserted documents with
// their snapshots.
func diffJSON(edits []edit, snaps map[int64]event.Document) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range edits {
		if i > 0 {
			b.WriteByte(',')
		}
		switch e.kind {
		case editRemove:
			b.WriteString(`{"type":"remove","index":`)
			b.WriteString(strconv.Itoa(e.index))
			b.WriteString(`,"howMany":`)
			b.WriteString(strconv.Itoa(e.howMany))
		case editMove:
			b.WriteString(`{"type":"move","from":`)
			b.WriteString(strconv.Itoa(e.from))
			b.WriteString(`,"to":`)
			b.WriteString(strconv.Itoa(e.to))
			b.WriteString(`,"howMany":1`)
		case editInsert:
			b.WriteString(`{"type":"insert","index":`)
			b.WriteString(strconv.Itoa(e.index))
			b.WriteString(`,"values":[`)
			for k, id := range e.ids {
				if k > 0 {
					b.WriteByte(',')
				}
				raw, _ := snapshotOf(snaps[id], true).MarshalJSON() // never fails
				b.Write(raw)
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes()
}
