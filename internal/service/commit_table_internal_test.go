package service

import (
	"context"
	"errors"
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

// A table's group hands the schema its batch read on to later batches only
// when the batch committed, every write of it succeeded and none dropped
// the memos. Otherwise a schema read after a write of the batch changed the
// fields, in a batch that then rolled back or undid that write, would be
// kept under the fields version that the table's next lock returns again.
func TestKeepSchemaOnlyAfterACleanBatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error // the batch's transaction
		failed   bool  // a write of the batch failed (its savepoint undone)
		forgot   bool  // a write of the batch dropped the memos (txOps.forget)
		wantKept bool
	}{
		{name: "committed, every write done", wantKept: true},
		{name: "rolled back", err: errors.New("commit failed")},
		{name: "a write failed", failed: true},
		{name: "a write dropped the memos, the schema read again after", forgot: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newGroupCommit(nil, nil, nil, commitHooks{})
			c.keepMemos = false // a store with several writers: tableGroups
			var kept *schema
			var keptVersion int64
			c.keepSchema = func(v int64, sc *schema) { keptVersion, kept = v, sc }

			read := &schema{}
			seen := &txOps{locked: 7, fieldsVersion: 3, forgot: tc.forgot}
			seen.setSchema(7, read)
			first, second := newWriteReq(context.Background(), Actor{}, nil), newWriteReq(context.Background(), Actor{}, nil)
			if tc.failed {
				second.err = errors.New("refused")
			}
			c.keep(seen, tc.err, []*writeReq{first, second})

			switch {
			case tc.wantKept && (kept != read || keptVersion != 3):
				t.Errorf("kept %p at version %d, want the batch's schema %p at 3", kept, keptVersion, read)
			case !tc.wantKept && kept != nil:
				t.Errorf("the schema was kept (version %d)", keptVersion)
			}
			if c.kept != nil {
				t.Error("memos kept across batches on a store with several writers")
			}
		})
	}
}
