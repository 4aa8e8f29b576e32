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
//
// The one thing kept from batch to batch is each table's schema, with the
// fields version it was read at (TableLocker): a batch whose lock finds the
// same version takes it instead of reading and decoding the fields again,
// since no field change, on any node, can have committed in between.

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
	// schemas are the tables' schemas as the batches last read them, at
	// their fields versions; at most maxKeptSchemas (all are dropped when
	// a new one would pass it).
	schemas map[int64]keptSchema
}

// maxKeptSchemas bounds tableGroups.schemas.
const maxKeptSchemas = 4096

// keptSchema is a table's schema as read at its fields version.
type keptSchema struct {
	version int64
	sc      *schema
}

func newTableGroups(newGroup func() *groupCommit) *tableGroups {
	return &tableGroups{groups: make(map[int64]*groupCommit), newGroup: newGroup, schemas: make(map[int64]keptSchema)}
}

// schemaAt returns the table's kept schema if it was read at version,
// else nil. Version 0 is no table (TableLocker): nothing is kept for it.
func (g *tableGroups) schemaAt(tableID, version int64) *schema {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.schemas[tableID]; ok && k.version == version && version != 0 {
		return k.sc
	}
	return nil
}

// keepSchema keeps the table's schema as read at version (by a batch
// that committed: groupCommit.keep).
func (g *tableGroups) keepSchema(tableID, version int64, sc *schema) {
	if version == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.schemas[tableID]; ok && k.version == version && k.sc == sc {
		return // the batch took it from here
	}
	if _, ok := g.schemas[tableID]; !ok && len(g.schemas) >= maxKeptSchemas {
		clear(g.schemas)
	}
	g.schemas[tableID] = keptSchema{version, sc}
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
			l, ok := tx.(TableLocker)
			if !ok {
				return nil
			}
			v, err := l.LockTable(ctx, tableID)
			if err != nil {
				return err
			}
			batch.locked, batch.fieldsVersion = tableID, v
			if sc := g.schemaAt(tableID, v); sc != nil {
				batch.setSchema(tableID, sc)
			}
			return nil
		}
		c.keepSchema = func(version int64, sc *schema) { g.keepSchema(tableID, version, sc) }
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
