package sharedb

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// Documents: f, s, u and their bulk forms bf, bs, bu; nf and nt.
//
// A subscription follows a read: the snapshot (or the ops since the
// client's version) is read at offset O of the collection's stream and
// sent, then the hub subscription is made from {O, epoch}, so that every
// event after the read reaches the client after the reply, in order.
// Events the client already has (v below its version) are ignored by its
// doc, as ShareDB's clients do with its server's duplicates.

// opsPage and maxCatchUp bound the ops sent to bring a client up from its
// version.
const (
	opsPage    = 1000
	maxCatchUp = 10000
)

// readOne reads one document. An id that is not a positive integer is a
// document that does not and cannot exist (the store's ids are integers):
// its snapshot is {v: 0, type: null}, once the collection is known to be
// readable.
func (s *session) readOne(ctx context.Context, c collection, d string) (event.Document, uint64, bool, error) {
	id, ok := docID(d)
	if !ok {
		if err := s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical); err != nil {
			return event.Document{}, 0, false, readError(c, err)
		}
		return event.Document{}, 0, false, nil
	}
	snaps, offset, err := s.srv.cfg.Store.Snapshots(ctx, s.userID, c.canonical, []int64{id})
	if err != nil {
		return event.Document{}, 0, false, readError(c, err)
	}
	if len(snaps) != 1 {
		return event.Document{}, 0, false, errors.New("sharedb: store returned no snapshot")
	}
	return snaps[0], offset, true, nil
}

// readError maps a Store error of a read.
func readError(c collection, err error) error {
	switch {
	case errors.Is(err, event.ErrNotFound), forbidden(err):
		return errorf(CodeUnknownCollection, "unknown collection "+quoteForMessage(c.name))
	case errors.Is(err, event.ErrOpsPruned):
		return errorf(CodeOpsNotFound, message(err, "the ops since that version are no longer kept: fetch the document anew"))
	case errors.Is(err, event.ErrVersionAhead):
		return errorf(CodeVersionNewer, message(err, "the document has not reached that version"))
	case invalid(err):
		return errorf(CodeBadMessage, message(err, "invalid request"))
	}
	return err
}

// sendOpsSince sends the ops of a document from version from to its
// current version. It returns the offset the first ops were read at and
// the version the client is at afterwards. A version past the document's
// gets nothing, as from ShareDB.
func (s *session) sendOpsSince(ctx context.Context, c collection, d string, id int64, from int64) (uint64, int64, error) {
	var offset uint64
	first := true
	for sent := 0; ; {
		log, err := s.srv.cfg.Store.Ops(ctx, s.userID, c.canonical, id, from, opsPage)
		if err != nil {
			return 0, from, readError(c, err)
		}
		if first {
			offset, first = log.Offset, false
		}
		if from >= log.V {
			return offset, from, nil
		}
		if len(log.Changes) == 0 || log.Changes[0].V != from || sent+len(log.Changes) > maxCatchUp {
			return 0, from, errorf(CodeOpsNotFound, "the ops of "+c.name+"/"+d+" since version "+itoa(from)+
				" are no longer kept: destroy the doc and fetch it anew")
		}
		for _, o := range log.Changes {
			if o.V != from {
				break // a hole cannot happen in a kept run; stop rather than send one
			}
			f, err := opFrame(c.name, d, o)
			if err != nil {
				return 0, from, err
			}
			s.conn.Send(f)
			from++
			sent++
		}
		if from >= log.V || len(log.Changes) < opsPage {
			return offset, from, nil
		}
	}
}

// hasRoom reports whether n more subscriptions fit the hub's limit.
func (s *session) hasRoom(n int) bool {
	s.mu.Lock()
	held := len(s.docs) + len(s.colSubs) + len(s.presence)
	s.mu.Unlock()
	return held+n <= s.srv.hub.Config().MaxSubscriptions
}

// subscribeDoc makes (or renews) the hub subscription of a document from a
// read at offset; what came after is replayed. It reports whether the hub
// could replay it all.
func (s *session) subscribeDoc(c collection, d string, offset uint64) (bool, error) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	k := docKey{col: c.name, id: d}
	s.mu.Lock()
	_, had := s.docs[k]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return false, context.Canceled
	}
	if !had {
		s.srv.render.hold(c, 1)
	}
	res, err := s.srv.hub.Subscribe(s.Context(), s.conn, hub.SubscribeRequest{Collection: c.hubName(), Document: d, Since: s.position(offset)})
	if err != nil {
		if !had {
			s.srv.render.hold(c, -1)
		}
		return false, hubError(err)
	}
	if !had {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.srv.render.hold(c, -1)
			return false, context.Canceled
		}
		s.docs[k] = c
		s.mu.Unlock()
	}
	return res.Recovered, nil
}

// followDoc subscribes after a reply that left the client at version v
// (read at offset). When the hub could not replay what followed the read
// (more than its replay limit happened meanwhile) the ops are read again.
func (s *session) followDoc(c collection, d string, id int64, offset uint64, v int64) {
	recovered, err := s.subscribeDoc(c, d, offset)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.lost("subscription of "+c.name+"/"+d, err)
		}
		return
	}
	if !recovered {
		ctx, cancel := s.StoreContext()
		defer cancel()
		if _, _, err := s.sendOpsSince(ctx, c, d, id, v); err != nil {
			s.lost("catch-up of "+c.name+"/"+d, err)
		}
	}
}

func (s *session) unsubscribeDoc(c collection, d string) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	k := docKey{col: c.name, id: d}
	s.mu.Lock()
	_, had := s.docs[k]
	delete(s.docs, k)
	s.mu.Unlock()
	if !had {
		return
	}
	s.srv.hub.Unsubscribe(s.Context(), s.conn, c.hubName(), d)
	s.srv.render.hold(c, -1)
	s.sendUnowed()
}

// fetch answers f: the snapshot, or with v the ops since v.
func (s *session) fetch(in *inbound) error {
	c, d, v, hasV, err := s.docVersion(in)
	if err != nil {
		return err
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	if hasV {
		if id, ok := docID(d); ok {
			if _, _, err := s.sendOpsSince(ctx, c, d, id, v); err != nil {
				return err
			}
		} else if err := s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical); err != nil {
			return readError(c, err)
		}
		s.send(docReply{A: actFetch, C: c.name, D: d})
		return nil
	}
	snap, _, _, err := s.readOne(ctx, c, d)
	if err != nil {
		return err
	}
	sj := snapshotOf(snap, false)
	s.send(docReply{A: actFetch, C: c.name, D: d, Data: &sj})
	return nil
}

// docReply is the reply to f, s and u.
type docReply struct {
	A    string        `json:"a"`
	C    string        `json:"c"`
	D    string        `json:"d"`
	Data *snapshotJSON `json:"data,omitempty"`
}

// subscribe answers s: the snapshot (or with v the ops since v), then the
// document's ops as they happen.
func (s *session) subscribe(in *inbound) error {
	c, d, v, hasV, err := s.docVersion(in)
	if err != nil {
		return err
	}
	if !s.hasRoom(1) {
		return errorf(CodeTooMany, "too many subscriptions on this connection")
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	id, valid := docID(d)
	if hasV {
		if !valid {
			if err := s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical); err != nil {
				return readError(c, err)
			}
			s.send(docReply{A: actSubscribe, C: c.name, D: d})
			return nil
		}
		offset, reached, err := s.sendOpsSince(ctx, c, d, id, v)
		if err != nil {
			return err
		}
		s.send(docReply{A: actSubscribe, C: c.name, D: d})
		s.followDoc(c, d, id, offset, reached)
		return nil
	}
	snap, offset, _, err := s.readOne(ctx, c, d)
	if err != nil {
		return err
	}
	sj := snapshotOf(snap, false)
	s.send(docReply{A: actSubscribe, C: c.name, D: d, Data: &sj})
	if valid {
		s.followDoc(c, d, id, offset, snap.V)
	}
	return nil
}

func (s *session) unsubscribe(in *inbound) error {
	c, d, err := s.docTarget(in)
	if err != nil {
		return err
	}
	s.unsubscribeDoc(c, d)
	s.send(docReply{A: actUnsubscribe, C: c.name, D: d})
	return nil
}

// bulkIDs reads b: a list of ids, or a map of ids to versions.
func bulkIDs(b json.RawMessage) (ids []string, versions map[string]int64, err error) {
	if isNull(b) {
		return nil, nil, errorf(CodeBadMessage, "invalid bulk subscribe data")
	}
	if err := json.Unmarshal(b, &ids); err == nil {
		if len(ids) > maxBulk {
			return nil, nil, errorf(CodeBadMessage, "at most "+itoa(maxBulk)+" ids in one bulk request")
		}
		for _, id := range ids {
			if id == "" || len(id) > maxIDLen {
				return nil, nil, errorf(CodeBadMessage, "invalid id")
			}
		}
		return ids, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, errorf(CodeBadMessage, "invalid bulk subscribe data")
	}
	if len(m) > maxBulk {
		return nil, nil, errorf(CodeBadMessage, "at most "+itoa(maxBulk)+" ids in one bulk request")
	}
	versions = make(map[string]int64, len(m))
	for id, raw := range m {
		v, ok, err := version(raw, "version")
		if err != nil || !ok || id == "" || len(id) > maxIDLen {
			return nil, nil, errorf(CodeBadMessage, "invalid version")
		}
		versions[id] = v
		ids = append(ids, id)
	}
	sort.Strings(ids) // a fixed order for the ops sent
	return ids, versions, nil
}

// bulk answers bf and bs: with a list of ids, a map of their snapshots;
// with a map of ids to versions, the ops since those versions.
func (s *session) bulk(in *inbound) error {
	c, err := s.target(in)
	if err != nil {
		return err
	}
	ids, versions, err := bulkIDs(in.B)
	if err != nil {
		return err
	}
	subscribe := in.A == actBulkSubscribe
	if subscribe && !s.hasRoom(len(ids)) {
		return errorf(CodeTooMany, "too many subscriptions on this connection")
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	if versions != nil {
		type follow struct {
			d       string
			id      int64
			offset  uint64
			reached int64
		}
		var follows []follow
		for _, d := range ids {
			id, ok := docID(d)
			if !ok {
				continue // cannot exist: no ops
			}
			offset, reached, err := s.sendOpsSince(ctx, c, d, id, versions[d])
			if err != nil {
				return err
			}
			follows = append(follows, follow{d, id, offset, reached})
		}
		if len(follows) == 0 {
			if err := s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical); err != nil {
				return readError(c, err)
			}
		}
		s.send(map[string]any{"a": in.A, "c": c.name, "b": in.B})
		if subscribe {
			for _, f := range follows {
				s.followDoc(c, f.d, f.id, f.offset, f.reached)
			}
		}
		return nil
	}
	var numeric []int64
	for _, d := range ids {
		if id, ok := docID(d); ok {
			numeric = append(numeric, id)
		}
	}
	var snaps []event.Document
	var offset uint64
	if len(numeric) > 0 {
		snaps, offset, err = s.srv.cfg.Store.Snapshots(ctx, s.userID, c.canonical, numeric)
	} else {
		err = s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical)
	}
	if err != nil {
		return readError(c, err)
	}
	byID := make(map[int64]event.Document, len(snaps))
	for _, sn := range snaps {
		byID[sn.ID] = sn
	}
	data := make(map[string]snapshotJSON, len(ids))
	for _, d := range ids {
		id, _ := docID(d)
		data[d] = snapshotOf(byID[id], false) // a missing or invalid id: {v:0, type:null}
	}
	s.send(map[string]any{"a": in.A, "c": c.name, "data": data})
	if subscribe {
		for _, d := range ids {
			if id, ok := docID(d); ok {
				s.followDoc(c, d, id, offset, byID[id].V)
			}
		}
	}
	return nil
}

// bulkUnsubscribe answers bu.
func (s *session) bulkUnsubscribe(in *inbound) error {
	c, err := s.target(in)
	if err != nil {
		return err
	}
	ids, _, err := bulkIDs(in.B)
	if err != nil {
		return err
	}
	for _, d := range ids {
		s.unsubscribeDoc(c, d)
	}
	s.send(map[string]any{"a": actBulkUnsub, "c": c.name, "b": in.B})
	return nil
}

// snapshotAt answers nf (a version) and nt (a time, in ms since the
// epoch): the document rebuilt from its op log, when the log still
// reaches back to its creation.
func (s *session) snapshotAt(in *inbound) error {
	reqID, err := queryID(in.ID)
	if err != nil {
		return errorf(CodeBadMessage, "invalid snapshot request id")
	}
	c, d, err := s.docTarget(in)
	if err != nil {
		return err
	}
	v, at := int64(-1), time.Time{}
	if in.A == actSnapshotFetch {
		n, has, err := version(in.V, "version")
		if err != nil {
			return err
		}
		if has {
			v = n
		}
	} else {
		ms, has, err := version(in.Ts, "timestamp")
		if err != nil {
			return err
		}
		if has {
			at = time.UnixMilli(ms)
		}
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	var snap event.Document
	id, valid := docID(d)
	switch {
	case v < 0 && at.IsZero():
		snap, _, _, err = s.readOne(ctx, c, d)
	case !valid:
		err = s.srv.cfg.Store.Authorize(ctx, s.userID, c.canonical)
		if err == nil && v > 0 {
			err = event.ErrVersionAhead
		}
		if err != nil {
			err = readError(c, err)
		}
	default:
		snap, err = s.srv.cfg.Store.SnapshotAt(ctx, s.userID, c.canonical, id, v, at)
		switch {
		case errors.Is(err, event.ErrOpsPruned):
			// As ShareDB's server refuses a snapshot read it will not serve.
			err = errorf(CodeSnapshotRejected, message(err, "the document's history is no longer kept"))
		case err != nil:
			err = readError(c, err)
		}
	}
	if err != nil {
		return err
	}
	reply := map[string]any{"a": in.A, "id": json.RawMessage(reqID), "v": snap.V, "type": nil}
	if snap.Exists {
		reply["type"] = typeJSON0
		reply["data"] = snap.Data
	}
	s.send(reply)
	return nil
}
