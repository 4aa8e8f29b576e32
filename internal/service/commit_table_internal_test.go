package service

import (
	"context"
	"testing"
)

// A table's group that has left the map (idle) takes no more writes: a
// write queued after goes to the table's new group, so that the table's
// writes on a node are in one queue, in their order (a hot document's
// prepared submits rely on it).
func TestTableGroupLeftTakesNoWrite(t *testing.T) {
	g := newTableGroups(func() *groupCommit { return newGroupCommit(nil, nil, nil, commitHooks{}) })
	first := newWriteReq(context.Background(), Actor{}, nil)
	c := g.enqueue(7, first)
	if !first.leads || g.len() != 1 {
		t.Fatalf("the first write leads %v, %d groups", first.leads, g.len())
	}
	c.mu.Lock()
	c.queue = c.queue[:0] // as await does when it takes the batch
	c.mu.Unlock()
	c.handOff() // the batch is done and nothing is queued: the group leaves
	if g.len() != 0 {
		t.Fatalf("%d groups once idle, want 0", g.len())
	}
	late := newWriteReq(context.Background(), Actor{}, nil)
	if c.enqueue(late) {
		t.Fatal("the group that left took a write")
	}
	if next := g.enqueue(7, late); next == c || !late.leads || g.len() != 1 {
		t.Fatalf("the write after went to the old group %v, leads %v, %d groups", next == c, late.leads, g.len())
	}
}
