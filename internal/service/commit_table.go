package service

import (
	"context"
	"sync"

	"github.com/tablecast/tablecast/internal/store"
)

// Group commit per table, on a store with several writers (PostgreSQL).
//
// There every write to a table holds the table's lock from its role check
// to its commit (TableLocker), so a table's writes commit one after
// another, each paying its own transaction: its round trips for the role,
// the schema and the lock, and its commit. Under load they queue on the
// lock. So a table's submits and REST row writes (Service.writeTable) are
// committed together, as on SQLite (groupCommit), but in one group per
// table: a batch holds one table's writes and takes one lock, so two
// nodes' batches never wait for each other's tables in opposite orders,
// and writes to different tables still run side by side. The batch takes
// the table's lock first, outside the writes' savepoints (a savepoint
// rolled back releases the locks taken in it), so every write of the
// batch runs under it. What a batch reads (roles, the schema) it keeps for
// itself only: another node may change them between batches.
//
// A table's group lives while it has writes queued: when its last batch
// is done it leaves the map, and the next write makes a new one. A group
// that left takes no more writes (groupCommit.enqueue says so), so that
// the table's writes on this node are always in one queue, in the order
// they were queued: a hot document's prepared submits depend on the ones
// it queued before them (Service.Submit).

// maxTableGroup bounds a table's batch: each write runs in a savepoint,
// and PostgreSQL keeps the subtransactions of a transaction in shared
// memory up to 64 of them; past that every snapshot taken while the
// transaction runs, on every connection, looks them up on disk.
const maxTableGroup = 64

// tableGroups are the groups of a multi-writer store's tables; newGroup
// makes a plain one, which write sets up for its table.
type tableGroups struct {
	mu       sync.Mutex
	groups   map[int64]*groupCommit
	newGroup func() *groupCommit
}

func newTableGroups(newGroup func() *groupCommit) *tableGroups {
	return &tableGroups{groups: make(map[int64]*groupCommit), newGroup: newGroup}
}

// write commits fn with the next batch of the table's group.
func (g *tableGroups) write(ctx context.Context, a Actor, tableID int64, fn func(w *writeTx) error) error {
	req := newWriteReq(ctx, a, fn)
	return g.enqueue(tableID, req).await(req)
}

// enqueue queues req with the table's group and returns the group, which
// the caller awaits it with.
func (g *tableGroups) enqueue(tableID int64, req *writeReq) *groupCommit {
	for {
		if c := g.group(tableID); c.enqueue(req) {
			return c
		}
		// It left between the two: the next call makes a new one.
	}
}

// group returns the table's group, made if there is none.
func (g *tableGroups) group(tableID int64) *groupCommit {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.groups[tableID]
	if c == nil {
		c = g.newGroup()
		c.keepMemos, c.max = false, maxTableGroup
		c.idle = func() { g.leave(tableID, c) }
		c.begin = func(ctx context.Context, tx store.Tx, batch *txOps) error {
			if l, ok := tx.(TableLocker); ok {
				if err := l.LockTable(ctx, tableID); err != nil {
					return err
				}
				batch.locked = tableID
			}
			return nil
		}
		g.groups[tableID] = c
	}
	return c
}

// leave drops a group that has no write queued; it takes none after
// (groupCommit.left). Called with c.mu held (lock order: groupCommit.mu,
// then tableGroups.mu).
func (g *tableGroups) leave(tableID int64, c *groupCommit) {
	g.mu.Lock()
	if g.groups[tableID] == c {
		delete(g.groups, tableID)
	}
	g.mu.Unlock()
}

// len is the number of groups, for tests.
func (g *tableGroups) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.groups)
}
