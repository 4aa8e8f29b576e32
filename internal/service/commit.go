package service

import (
	"context"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/store"
)

// Group commit. A store with one writer (SQLite) runs one write
// transaction at a time, each ending in a sync to disk; under load most of
// a write's time is that sync and the wait for the writer. So concurrent
// writes are committed together: the first to arrive leads, and runs
// every write waiting at that moment in one transaction, each in a
// savepoint (a write that fails undoes only itself, as alone it would have
// rolled back alone; a prepared submit, which writes nothing of its own,
// needs none), then publishes their events in order and wakes
// them. Writes arriving meanwhile wait for the next batch, led by the
// first of them, whose transaction starts as soon as the batch before
// has committed (its events are published after that batch's). No
// goroutine is started: a leader is a caller.
//
// Without load a batch holds one write and runs as before, without a
// savepoint.
//
// groupCommit is the whole of it: enqueue a write, await it (leading a
// batch when asked), and the hooks the service gives it (commitHooks).
// It knows one thing of the writes it runs: a prepared submit
// (writeReq.hot) leaves its event, op log entry and row to the batch,
// which writes them before any other write of the batch and at its end
// (txOps.flush).

// maxGroup bounds a batch, so that one transaction stays short.
const maxGroup = 128

// commitHooks are what the service adds to a batch.
type commitHooks struct {
	// settle is told each write's outcome once its batch has committed or
	// failed, before any event of the batch is published (the hot
	// documents, hotDocs.settle).
	settle func(r *writeReq)
	// publish hands a committed batch's events on, in commit order.
	publish func(ctx context.Context, events []store.Event)
}

type groupCommit struct {
	store store.Store
	now   func() time.Time
	ops   *opCache
	hooks commitHooks

	mu      sync.Mutex
	queue   []*writeReq
	leading bool
	// kept are the role checks and schemas (tableAccessMemo, schemaMemo)
	// of the batches committed so far, for the next batch: kept while
	// every write commits and none emits an event that may change them
	// (txOps.forget: a member added, changed or removed, a table, field or
	// workspace changed or deleted), dropped otherwise, so that a batch
	// never uses a role or schema from before a change committed. Touched
	// only by the batch running (one at a time: the lead passes after its
	// transaction has ended). The one writer is this process (SQLite: one
	// file for one process), so no change can commit unseen.
	kept *memos
	// keepMemos: kept is used (one writer: this process); else each batch
	// reads for itself (tableGroups).
	keepMemos bool
	// max bounds a batch (maxGroup, maxTableGroup).
	max int
	// idle, when set, is called once no write is queued (tableGroups),
	// after which the group takes no more writes (left).
	idle func()
	left bool
	// begin, when set, runs first in each batch's transaction, outside
	// the writes' savepoints (tableGroups: the table's lock, which a
	// savepoint rolled back would release), given the batch's txOps.
	begin func(ctx context.Context, tx store.Tx, batch *txOps) error
	// publishMu orders the publishing of batches.
	publishMu sync.Mutex
	// keepSchema, when set, is given the schema of the table a batch
	// locked and the fields version it was read at, once the batch has
	// committed as keep allows (tableGroups).
	keepSchema func(version int64, sc *schema)
}

// Lock order: hotDoc.mu, then groupCommit.mu (a prepared submit queues
// under its document's lock); publishMu, then groupCommit.mu (handOff);
// groupCommit.mu, then tableGroups.mu (idle).

func newGroupCommit(st store.Store, now func() time.Time, ops *opCache, hooks commitHooks) *groupCommit {
	return &groupCommit{store: st, now: now, ops: ops, hooks: hooks, keepMemos: true, max: maxGroup}
}

// writeReq is one write queued for a batch.
type writeReq struct {
	ctx   context.Context
	actor Actor
	fn    func(w *writeTx) error
	err   error
	w     *writeTx      // the write's transaction state, once it succeeded
	done  chan struct{} // closed when the write has committed or failed
	lead  chan struct{} // closed when this write leads the next batch
	// leads: the write found no leader and leads the next batch itself.
	leads bool
	// hot is set for a prepared submit's write (submit_hot.go).
	hot *hotWrite
}

func newWriteReq(ctx context.Context, a Actor, fn func(w *writeTx) error) *writeReq {
	return &writeReq{ctx: ctx, actor: a, fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
}

// write commits one write with the next batch of a group that never
// leaves (no idle: the single-writer store's); a table's group is written
// through tableGroups, which makes a new one when it left.
func (c *groupCommit) write(ctx context.Context, a Actor, fn func(w *writeTx) error) error {
	req := newWriteReq(ctx, a, fn)
	c.enqueue(req)
	return c.await(req)
}

// enqueue queues a write for the next batch; false when the group has
// left its table's map (idle) and takes no more. Writes are committed in
// the order they are queued; a prepared submit queues while it holds its
// document's lock, so its document's writes keep their order.
func (c *groupCommit) enqueue(req *writeReq) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left {
		return false
	}
	c.queue = append(c.queue, req)
	if !c.leading {
		c.leading, req.leads = true, true
	}
	return true
}

// await waits until the write has committed or failed, leading the
// batches it is asked to lead.
func (c *groupCommit) await(req *writeReq) error {
	if !req.leads {
		select {
		case <-req.done:
			return req.err
		case <-req.lead:
		}
	}
	c.mu.Lock()
	n := min(len(c.queue), c.max)
	batch := c.queue[:n:n]
	c.queue = append([]*writeReq(nil), c.queue[n:]...)
	c.mu.Unlock()

	c.run(batch)
	<-req.done
	return req.err
}

// handOff passes the lead to the first write queued, if any: its batch's
// transaction may start while this batch's events are being published.
func (c *groupCommit) handOff() {
	c.mu.Lock()
	if len(c.queue) > 0 {
		close(c.queue[0].lead)
	} else {
		c.leading = false
		if c.idle != nil {
			c.idle()
			c.left = true
		}
	}
	c.mu.Unlock()
}

// run commits a batch of writes in one transaction and publishes their
// events.
func (c *groupCommit) run(batch []*writeReq) {
	// The batch's statements do not stop when one caller gives up: the
	// others' writes share the transaction.
	ctx := context.WithoutCancel(batch[0].ctx)
	var seen *txOps
	err := c.store.Update(ctx, func(tx store.Tx) error {
		seen = &txOps{prior: c.kept} // what the batch's writes have logged so far
		for _, r := range batch {
			if r.hot != nil {
				seen.expect(r.hot.doc.key)
			}
		}
		if c.begin != nil {
			if err := c.begin(ctx, tx, seen); err != nil {
				return err
			}
		}
		for _, r := range batch {
			r.err, r.w = nil, nil
			if r.hot != nil {
				r.hot.staged, r.hot.pending = nil, false
			}
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			if r.hot == nil {
				// What the prepared submits left to the batch is written
				// before any other write can read it.
				if err := seen.flush(ctx, tx); err != nil {
					return err
				}
			}
			w := &writeTx{Tx: tx, ctx: ctx, actor: r.actor, at: c.now().UTC(), cache: c.ops, batch: seen}
			switch {
			case len(batch) == 1:
				if err := r.fn(w); err != nil {
					r.err = err
					return err
				}
			case r.hot != nil:
				// A prepared submit writes nothing of its own: it leaves
				// its event, op log entry and row to the batch, and runs
				// its fallback, if it falls back, in a savepoint.
				if err := r.fn(w); err != nil {
					r.err = err
					continue
				}
			default:
				if err := tx.Savepoint(ctx, func() error { return r.fn(w) }); err != nil {
					r.err = err
					continue
				}
			}
			r.w = w
			if r.hot == nil || !r.hot.pending {
				seen.add(w.logged) // a pending one's when it is written
			}
			if r.ranHot() {
				seen.keep(r.hot.staged)
			}
		}
		return seen.flush(ctx, tx)
	})
	c.keep(seen, err, batch)
	var events []store.Event
	for _, r := range batch {
		switch {
		case err != nil && r.err == nil:
			r.err, r.w = err, nil
		case r.err == nil && r.w != nil:
			c.ops.add(r.w.logged)
			events = append(events, r.w.events...)
		}
		r.err = storeErr(r.err)
		c.hooks.settle(r)
	}
	// The next batch starts now, and publishes after this one: batches
	// take publishMu in the order they commit, since the lead passes
	// while it is held.
	c.publishMu.Lock()
	c.handOff()
	c.hooks.publish(ctx, events)
	c.publishMu.Unlock()
	for _, r := range batch {
		close(r.done)
	}
}

// maxKept bounds the memos kept across batches; past it they start
// again from none.
const maxKept = 4096

// keep keeps the batch's memos for the next batch when the batch
// committed and every write of it succeeded (a failed write's savepoint
// undid what it may have read them from); else none.
//
// On a store with several writers (keepMemos false) only the locked
// table's schema is handed on, under the same rule and only if no write
// of the batch changed what the memos hold (txOps.forgot): then it is the
// table's schema at the version its lock returned.
func (c *groupCommit) keep(seen *txOps, err error, batch []*writeReq) {
	ok := err == nil && seen != nil
	for _, r := range batch {
		ok = ok && r.err == nil
	}
	if ok && !c.keepMemos {
		if sc := seen.schemas[seen.locked]; c.keepSchema != nil && sc != nil && !seen.forgot {
			c.keepSchema(seen.fieldsVersion, sc)
		}
		ok = false
	}
	if !ok {
		c.kept = nil
		return
	}
	k := seen.prior
	if k == nil { // none before, or forgotten by the batch
		k = &memos{access: make(map[accessKey]accessMemo), schemas: make(map[int64]*schema)}
	}
	for key, m := range seen.access {
		k.access[key] = m
	}
	for id, sc := range seen.schemas {
		k.schemas[id] = sc
	}
	if len(k.access)+len(k.schemas) > maxKept {
		k = nil
	}
	c.kept = k
}

// ranHot reports whether the write was a prepared submit's that
// succeeded as prepared (not by falling back to the cold submit).
func (r *writeReq) ranHot() bool {
	return r.err == nil && r.w != nil && r.hot != nil && r.hot.staged != nil
}
