package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
)

// The write path's first stage, shared by every write. A REST write is a
// function on a *writeTx, run by Service.write; a submit is a *submitTx
// (submit.go), which embeds the same base and adds what only submits
// need. See docs/architecture.md, "The write path in code".

// writeTx is one write transaction of the service: the store's Tx and the
// events and op log entries appended so far. It is the whole of a plain
// write (REST, admin); a submit wraps it in a submitTx.
type writeTx struct {
	store.Tx
	ctx    context.Context
	actor  Actor
	at     time.Time
	events []store.Event
	// logged are the op log entries written (cached once committed);
	// batch, in group commit, those of the transaction's earlier writes.
	logged []loggedEntry
	batch  *txOps
	cache  *opCache
	// submit is set by a submitTx on its own base, so that the events the
	// shared code appends (a field or view change a submit makes through
	// the REST code) are stamped as the submit's; nil for a plain write.
	submit stamper
}

// stamper is what the base needs of a submit: its id and acknowledgement
// for the events' TableMeta, and its op as applied for the op log cache.
type stamper interface {
	stampMeta(m *event.TableMeta)
	// takeApplied returns the op as applied once, nil after.
	takeApplied() json0.Op
}

// emit appends an event to the stream in the transaction.
func (w *writeTx) emit(s store.Stream, typ string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("service: encode %s event: %w", typ, err)
	}
	off, err := w.AppendEvent(w.ctx, s, typ, b)
	if err != nil {
		return err
	}
	if err := w.logDocOps(s, payload, off); err != nil {
		return err
	}
	w.batch.forget(typ)
	w.events = append(w.events, store.Event{Stream: s, Offset: off, Type: typ, Payload: b, CreatedAt: w.at})
	return nil
}

// submitted is implemented by the events that carry TableMeta: the submit
// that made the change, if any.
type submitted interface {
	SubmitID() (src string, seq uint64)
}

// logDocOps records in the op log, in the event's transaction, the
// document changes the event carries. A table's document (table_W) is
// logged with the workspace's stream, the others with the table's (a
// table_deleted goes to both streams, and is logged once).
func (w *writeTx) logDocOps(s store.Stream, payload any, off uint64) error {
	changes, err := event.Changes(payload)
	if err != nil || len(changes) == 0 {
		return err
	}
	var src string
	var seq uint64
	if s, ok := payload.(submitted); ok {
		src, seq = s.SubmitID()
	}
	ops := make([]store.DocOp, 0, len(changes))
	for _, c := range changes {
		isTable := strings.HasPrefix(c.Collection, "table_")
		if !c.HasV || isTable != (s.Kind == store.StreamWorkspace) {
			continue
		}
		raw := c.LogOp()
		ops = append(ops, store.DocOp{Collection: c.Collection, DocID: c.DocID, Version: c.V, Op: raw,
			Src: src, Seq: seq, Offset: off})
		l := loggedOp{docID: c.DocID, version: c.V, raw: raw, create: c.Create != nil, del: c.Del,
			src: src, seq: seq, offset: off}
		switch {
		case c.Create != nil || c.Del:
			l.decoded = true
		case w.submit != nil:
			// The submit's own document comes first.
			if op := w.submit.takeApplied(); op != nil {
				l.op, l.decoded = op, true
			}
		}
		w.logged = append(w.logged, loggedEntry{col: c.Collection, op: l})
	}
	return w.AppendDocOps(w.ctx, ops)
}

func (w *writeTx) tableMeta(t store.Table) event.TableMeta {
	m := event.TableMeta{TableID: t.ID, WorkspaceID: t.WorkspaceID, Actor: w.actor.UserID, Origin: w.actor.Origin}
	if w.submit != nil {
		w.submit.stampMeta(&m)
	}
	return m
}

func (w *writeTx) workspaceMeta(wsID int64) event.WorkspaceMeta {
	return event.WorkspaceMeta{WorkspaceID: wsID, Actor: w.actor.UserID, Origin: w.actor.Origin}
}

// write runs fn in one store transaction and, once it has committed,
// publishes the events fn appended. fn may run more than once (the store
// retries transient conflicts); only the events of the run that committed
// are published, and a rolled-back write publishes nothing. On a
// single-writer store the write joins the group commit (commit.go).
func (s *Service) write(ctx context.Context, a Actor, fn func(w *writeTx) error) error {
	if s.group != nil {
		return s.group.write(ctx, a, fn)
	}
	var committed *writeTx
	err := s.store.Update(ctx, func(tx store.Tx) error {
		w := &writeTx{Tx: tx, ctx: ctx, actor: a, at: s.now().UTC(), cache: s.ops}
		committed = nil
		if err := fn(w); err != nil {
			return err
		}
		committed = w
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	s.ops.add(committed.logged)
	s.hot.forgetChanged(committed.logged)
	s.publish(ctx, committed.events)
	return nil
}

// writeTable is write for a write to one table's rows: on a store with
// several writers it joins the table's group (commit_table.go).
func (s *Service) writeTable(ctx context.Context, a Actor, tableID int64, fn func(w *writeTx) error) error {
	if s.tables != nil {
		return s.tables.write(ctx, a, tableID, fn)
	}
	return s.write(ctx, a, fn)
}

// enqueue queues a write of the table with the group that commits it (on
// a store with several writers, the table's) and returns the group.
func (s *Service) enqueue(tableID int64, req *writeReq) *groupCommit {
	if s.tables != nil {
		return s.tables.enqueue(tableID, req)
	}
	s.group.enqueue(req) // it never leaves (groupCommit.write)
	return s.group
}

// publish hands committed events to the Publisher; a failure is only
// logged (the relay republishes what was not marked published).
func (s *Service) publish(ctx context.Context, events []store.Event) {
	if s.pub == nil || len(events) == 0 {
		return
	}
	// The request may be cancelled as soon as its answer is written; the
	// events are committed and should go out regardless.
	ctx = context.WithoutCancel(ctx)
	if err := s.pub.Publish(ctx, events); err != nil {
		s.log.Warn("publishing committed events failed; the relay will publish them",
			"stream", events[0].Stream.String(), "first_offset", events[0].Offset, "events", len(events), "err", err)
	}
}
