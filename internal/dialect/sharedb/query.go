package sharedb

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// Queries: qf (once), qs (live), qu.
//
// q on record_T is {"view_id"?, "filter"?, "sort"?, "search"?, "limit"?},
// the REST listing's options (a page: limit 1 to 1000, default 100). On
// field_T, view_T and table_W q must be empty: the results are every
// field, view or table, in order.
//
// A live query holds a hub subscription to its whole collection (shared
// by the socket's queries of that collection), so that the ops of its
// documents reach the client; ops of documents outside the results come
// too, and the client ignores those it does not hold. After each event of
// the collection's stream the query is run again by the server's workers
// (queued, at most one run at a time per query, runs coalesced), and what
// changed in its results is pushed as a diff. The diff is computed from
// results read at an offset O; when events after O may already have been
// queued for the socket before the diff, the subscription is renewed from
// O, so that the ops of documents the diff inserted are not lost to the
// client, which ignored them while it did not hold those documents.

// liveQuery is one qs.
type liveQuery struct {
	sess *session
	id   string // the client's query id, as JSON
	col  collection
	q    Query

	mu      sync.Mutex
	ids     []int64 // the results the client holds
	queued  bool
	running bool
	dirty   bool
	dead    bool
}

// parseQuery reads q for a collection.
func parseQuery(c collection, raw json.RawMessage) (Query, error) {
	var q Query
	if isNull(raw) {
		return q, nil
	}
	if c.kind != "record" {
		if t := bytes.TrimSpace(raw); string(t) != "{}" {
			return q, errorf(CodeBadMessage, "queries on "+c.name+" take no options: send {}")
		}
		return q, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return q, errorf(CodeBadMessage, `q must be {"view_id"?, "filter"?, "sort"?, "search"?, "limit"?}`)
	}
	if q.Limit < 0 || q.Limit > 1000 || q.ViewID < 0 {
		return q, errorf(CodeBadMessage, "limit must be 1 to 1000, view_id a view's id")
	}
	return q, nil
}

// queryError maps a Store error of a query.
func queryError(c collection, err error) error {
	if invalid(err) {
		return errorf(CodeBadMessage, message(err, "invalid query"))
	}
	return readError(c, err)
}

// query answers qf and qs.
func (s *session) query(in *inbound) error {
	id, err := queryID(in.ID)
	if err != nil {
		return err
	}
	c, err := s.target(in)
	if err != nil {
		return err
	}
	q, err := parseQuery(c, in.Q)
	if err != nil {
		return err
	}
	live := in.A == actQuerySubscribe
	if live {
		s.mu.Lock()
		n, dup := len(s.queries), s.queries[id] != nil
		s.mu.Unlock()
		if n >= s.srv.cfg.MaxQueries && !dup {
			return errorf(CodeTooMany, "too many live queries on this connection")
		}
		if !s.hasRoom(1) {
			return errorf(CodeTooMany, "too many subscriptions on this connection")
		}
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	results, offset, err := s.srv.cfg.Store.Query(ctx, s.userID, c.canonical, q)
	if err != nil {
		return queryError(c, err)
	}
	ids := make([]int64, len(results))
	for i, r := range results {
		ids[i] = r.ID
	}
	held, hasHeld := heldResults(in.R)
	if !live || !hasHeld {
		items := make([]snapshotJSON, len(results))
		for i, r := range results {
			items[i] = snapshotOf(r, true)
		}
		s.send(map[string]any{"a": in.A, "id": json.RawMessage(id), "data": items})
	} else {
		// A resubscribe (after a reconnect): the client holds results
		// already. Bring the ones it keeps up to date, send what changed,
		// then the reply, as ShareDB does.
		if err := s.resubscribeQuery(ctx, c, held, results, id); err != nil {
			return err
		}
	}
	if !live {
		return nil
	}
	s.mu.Lock()
	old := s.queries[id]
	s.mu.Unlock()
	if old != nil { // the same id again: the new one replaces it
		s.dropQuery(old)
	}
	lq := &liveQuery{sess: s, id: id, col: c, q: q, ids: ids}
	if err := s.holdCollection(c, offset); err != nil {
		s.lost("query subscription of "+c.name, err)
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.releaseCollection(c)
		return nil
	}
	s.queries[id] = lq
	s.mu.Unlock()
	s.srv.live.add(lq)
	if s.srv.render.seenOffset(c.stream()) > offset {
		s.srv.live.enqueue(lq) // events came between the read and the registration
	}
	return nil
}

// heldDoc is one of the results a resubscribing client holds.
type heldDoc struct {
	id int64
	v  *int64 // nil: held without a version
}

// heldResults reads r: the [[id, version], ...] a resubscribing client
// holds, in its order. Ids that cannot be documents are left out.
func heldResults(r json.RawMessage) ([]heldDoc, bool) {
	if isNull(r) {
		return nil, false
	}
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(r, &pairs); err != nil {
		return nil, false
	}
	out := make([]heldDoc, 0, len(pairs))
	seen := make(map[int64]bool, len(pairs))
	for _, p := range pairs {
		if len(p) == 0 {
			continue
		}
		var d string
		if json.Unmarshal(p[0], &d) != nil {
			continue
		}
		id, ok := docID(d)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		h := heldDoc{id: id}
		if len(p) > 1 {
			if n, ok, err := version(p[1], "version"); err == nil && ok {
				h.v = &n
			}
		}
		out = append(out, h)
	}
	return out, true
}

// resubscribeQuery answers a qs with r: the ops the client lacks for the
// results it keeps, the diff from its results to the new ones, then the
// reply with the snapshots of the kept documents it held without a
// version.
func (s *session) resubscribeQuery(ctx context.Context, c collection, held []heldDoc, results []event.Document, id string) error {
	versions := make(map[int64]*int64, len(held))
	oldIDs := make([]int64, len(held))
	for i, h := range held {
		versions[h.id] = h.v
		oldIDs[i] = h.id
	}
	byID := make(map[int64]event.Document, len(results))
	newIDs := make([]int64, len(results))
	data := map[string]snapshotJSON{}
	for i, r := range results {
		byID[r.ID] = r
		newIDs[i] = r.ID
		v, had := versions[r.ID]
		d := itoa(r.ID)
		switch {
		case !had:
		case v == nil:
			data[d] = snapshotOf(r, false)
		case *v < r.V:
			if _, _, err := s.sendOpsSince(ctx, c, d, r.ID, *v); err != nil {
				return err
			}
		}
	}
	if edits := listDiff(oldIDs, newIDs); len(edits) > 0 {
		s.send(map[string]any{"a": actQueryUpdate, "id": json.RawMessage(id), "diff": json.RawMessage(diffJSON(edits, byID))})
	}
	reply := map[string]any{"a": actQuerySubscribe, "id": json.RawMessage(id)}
	if len(data) > 0 {
		reply["data"] = data
	}
	s.send(reply)
	return nil
}

// queryUnsubscribe answers qu.
func (s *session) queryUnsubscribe(in *inbound) error {
	id, err := queryID(in.ID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	lq := s.queries[id]
	s.mu.Unlock()
	if lq != nil {
		s.dropQuery(lq)
	}
	s.send(map[string]any{"a": actQueryUnsub, "id": json.RawMessage(id)})
	return nil
}

// dropQuery ends a live query of this socket.
func (s *session) dropQuery(lq *liveQuery) {
	s.mu.Lock()
	mine := s.queries[lq.id] == lq
	if mine {
		delete(s.queries, lq.id)
	}
	s.mu.Unlock()
	s.srv.live.remove(lq)
	if mine {
		s.releaseCollection(lq.col)
	}
}

// holdCollection makes (or renews) the socket's subscription to a whole
// collection from a read at offset, for one more live query.
func (s *session) holdCollection(c collection, offset uint64) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return context.Canceled
	}
	cs := s.colSubs[c.name]
	s.mu.Unlock()
	if cs == nil {
		s.srv.render.hold(c, 1)
	}
	if _, err := s.srv.hub.Subscribe(s.Context(), s.conn, hub.SubscribeRequest{Collection: c.hubName(), Since: s.position(offset)}); err != nil {
		if cs == nil {
			s.srv.render.hold(c, -1)
		}
		return hubError(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if cs == nil {
			s.srv.render.hold(c, -1)
		}
		return context.Canceled
	}
	if cs = s.colSubs[c.name]; cs == nil {
		cs = &colSub{c: c}
		s.colSubs[c.name] = cs
	}
	cs.users++
	return nil
}

// renewCollection replays a held collection subscription from offset (a
// live query's catch-up); it makes none.
func (s *session) renewCollection(c collection, offset uint64) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	held := !s.closed && s.colSubs[c.name] != nil
	s.mu.Unlock()
	if !held {
		return
	}
	if _, err := s.srv.hub.Subscribe(s.Context(), s.conn, hub.SubscribeRequest{Collection: c.hubName(), Since: s.position(offset)}); err != nil {
		s.lost("query catch-up of "+c.name, err)
	}
}

// releaseCollection gives back one live query's use of a collection
// subscription; the last one ends it.
func (s *session) releaseCollection(c collection) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	cs := s.colSubs[c.name]
	last := false
	if cs != nil {
		cs.users--
		if cs.users <= 0 {
			delete(s.colSubs, c.name)
			last = true
		}
	}
	s.mu.Unlock()
	if last {
		s.srv.hub.Unsubscribe(s.Context(), s.conn, c.hubName(), "")
		s.srv.render.hold(c, -1)
		s.sendUnowed()
	}
}
