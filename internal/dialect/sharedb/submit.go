package sharedb

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
)

// submit answers an op message: create, op or del on a document.
//
//   - The change is applied by the store: a stale op is transformed
//     against the ops since its version; the ops it missed are sent to the
//     submitter before the ack, as ShareDB's server does, so that the ack's
//     v is the client's version. They are sent even when the socket's
//     subscription delivered them already: the client ignores those it
//     has, and may have dropped them (a ShareDB client drops ops while it
//     catches up after a gap, and a later op's broadcast can overtake an
//     ack).
//   - A resent op (same src and seq, after a reconnect) is acknowledged,
//     not applied again (ShareDB's ERR_OP_ALREADY_SUBMITTED turned into an
//     ack); the ops before it are sent first, so its ack fits.
//   - A create's data is the client's; the stored document has every field
//     (defaults for those not given), the id and an order. The ack carries
//     a fixup (ShareDB's own mechanism for a server that changed a
//     submitted op) that turns the creator's copy into the stored one.
//   - The submitter gets no echo of its op: the hub hands its connection
//     the ack in the op's place (see below).
//   - A value sent in another form than the stored one (a number with too
//     many decimals, a select option by its value) is stored in its stored
//     form; the ack's fixup sets it in the submitter's copy, and the others
//     receive the op with it.
func (s *session) submit(in *inbound) error {
	c, d, v, hasV, err := s.docVersion(in)
	if err != nil {
		return err
	}
	seq, err := seqOf(in)
	if err != nil {
		return err
	}
	src := s.src
	if in.Src != nil && *in.Src != "" {
		if !validID(*in.Src) {
			return errorf(CodeBadMessage, "invalid src")
		}
		src = *in.Src
	}
	sub := event.Submission{Collection: c.canonical, V: v, HasV: hasV, Src: src, Seq: seq}
	var createData json.RawMessage
	switch {
	case present(in.Op):
		if isNull(in.Op) {
			return errorf(CodeBadOp, "op must be a list of json0 components")
		}
		sub.Op = in.Op
	case !isNull(in.Create):
		var cr struct {
			Type *string         `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(in.Create, &cr); err != nil {
			return errorf(CodeBadMessage, "create must be {type, data}")
		}
		if cr.Type == nil || (*cr.Type != typeJSON0 && *cr.Type != "json0") {
			return errorf(CodeDocType, "unknown type: this server keeps json0 documents only")
		}
		createData = cr.Data
		if isNull(createData) {
			createData = json.RawMessage(`{}`)
		}
		sub.Create = createData
	case truthy(in.Del):
		sub.Del = true
	default:
		return errorf(CodeBadMessage, "invalid op message: it needs op, create or del")
	}
	id, ok := docID(d)
	if !ok {
		if sub.Create != nil {
			return errorf(CodeSubmitRejected, "a document id must be a positive integer (the row's id)")
		}
		return errorf(CodeDocMissing, "document "+quoteForMessage(d)+" does not exist")
	}
	sub.DocID = id

	ctx, cancel := s.StoreContext()
	defer cancel()
	// A socket that follows the document gets its ack from the document's
	// stream: the renderer gives the hub an ack for this socket in the
	// op's place (hub.Output.Origin), so that it arrives after every op
	// before it and before any after it, as ShareDB's server sends it. An
	// ack sent from here instead would race the stream: the ops committed
	// with it or after it (group commit publishes a batch before any of
	// its writers returns) could reach the client first, and make it drop
	// them and fetch. The socket is the op's origin, left out of its
	// broadcast under the spelling it submitted with (Tag), not under the
	// collection's other spellings, which are other documents to its
	// client. A create is acknowledged from here with its fixup: nothing
	// comes before a document's version 0.
	sub.Tag = replyTag + c.name
	follow := sub.Create == nil && s.follows(c, d)
	res, err := s.srv.cfg.Store.Submit(ctx, s.userID, s.conn.ID(), sub)
	if err != nil {
		return submitError(err)
	}
	var fixup json.RawMessage
	if len(res.Fixup) > 0 {
		if fixup, err = json.Marshal(res.Fixup); err != nil {
			return err
		}
	}
	if follow && !res.Duplicate {
		if s.owe(c, d, owedAck{src: src, seq: seq, v: res.V, fixup: fixup}) {
			return nil
		}
		// The subscription ended meanwhile: the ack comes from here.
	}
	for _, o := range res.Missed {
		f, err := opFrame(c.name, d, o)
		if err != nil {
			return err
		}
		s.conn.Send(f)
	}
	if res.Duplicate && hasV && res.V > v {
		// What happened before the resent op: the client has not seen it.
		log, err := s.srv.cfg.Store.Ops(ctx, s.userID, c.canonical, id, v, int(res.V-v))
		if err != nil {
			return readError(c, err)
		}
		for _, o := range log.Changes {
			f, err := opFrame(c.name, d, o)
			if err != nil {
				return err
			}
			s.conn.Send(f)
		}
	}
	if sub.Create != nil { // resent too: its first ack may be lost
		fix, err := s.createFixup(c, id, createData)
		if err != nil {
			s.srv.log.Warn("sharedb create fixup failed", "conn", s.conn.ID(), "collection", c.name, "doc", d, "err", err)
		} else if len(fix) > 0 {
			if fixup, err = json.Marshal(fix); err != nil {
				return err
			}
		}
	}
	s.conn.Send(ackFrame(c.name, d, res.V, src, seq, fixup))
	return nil
}

// replyTag marks the ops of ShareDB sockets in their events
// (event.SubmitReply.Tag): the rest of the tag is the collection as the
// socket spelled it.
const replyTag = "sharedb:"

// owedAck is an ack a socket is owed: the document's stream brings it.
type owedAck struct {
	c     collection
	d     string
	src   string
	seq   uint64
	v     int64
	fixup json.RawMessage
}

func (a owedAck) frame() []byte { return ackFrame(a.c.name, a.d, a.v, a.src, a.seq, a.fixup) }

// follows reports whether the socket holds a subscription that delivers
// the document's ops under this spelling of its collection.
func (s *session) follows(c collection, d string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.followsLocked(c.name, d)
}

// followsLocked is follows; mu must be held.
func (s *session) followsLocked(col, d string) bool {
	if _, ok := s.docs[docKey{col: col, id: d}]; ok {
		return true
	}
	return s.colSubs[col] != nil
}

// owe records that the op's broadcast is the socket's ack, if the socket
// still follows the document (a revocation may have ended it meanwhile).
// Only the last op of a document is kept: a ShareDB client has one op in
// flight per document, and an ack it already had is ignored by it.
func (s *session) owe(c collection, d string, a owedAck) bool {
	a.c, a.d = c, d
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.followsLocked(c.name, d) {
		return false
	}
	s.owed[docKey{col: c.name, id: d}] = a
	return true
}

// unowedLocked takes the acks of documents the socket no longer follows:
// their broadcasts will not come, so they are sent as explicit acks (after
// the broadcast, when it came first, the client ignores them). mu must be
// held.
func (s *session) unowedLocked() []byte {
	var frames []byte
	for k, a := range s.owed {
		if !s.followsLocked(k.col, k.id) {
			delete(s.owed, k)
			frames = append(frames, a.frame()...)
		}
	}
	return frames
}

// sendUnowed sends the acks of documents no longer followed.
func (s *session) sendUnowed() {
	s.mu.Lock()
	frames := s.unowedLocked()
	s.mu.Unlock()
	if len(frames) > 0 {
		s.conn.Send(frames)
	}
}

// truthy reads del: true (ShareDB tests truthiness; true is what clients send).
func truthy(r json.RawMessage) bool {
	t := bytes.TrimSpace(r)
	return len(t) > 0 && string(t) != "false" && string(t) != "null" && string(t) != "0" && string(t) != `""`
}

// submitError maps a Store error of a submit. A refusal the user cannot
// get past by retrying (not allowed, invalid op or value) is
// ERR_OP_SUBMIT_REJECTED: the ShareDB client then rolls its op back
// without an error.
func submitError(err error) error {
	switch {
	case forbidden(err):
		return errorf(CodeSubmitRejected, message(err, "not allowed: your role cannot change this table"))
	case invalid(err):
		return errorf(CodeSubmitRejected, message(err, "the change is not valid"))
	case errors.Is(err, event.ErrNotFound):
		return errorf(CodeDocMissing, message(err, "the document does not exist"))
	case errors.Is(err, event.ErrDocExists):
		return errorf(CodeDocExists, message(err, "the document already exists"))
	case errors.Is(err, event.ErrDocDeleted):
		return errorf(CodeDocDeleted, message(err, "the document was deleted"))
	case errors.Is(err, event.ErrVersionAhead):
		return errorf(CodeVersionNewer, message(err, "the op's version is newer than the document's"))
	case errors.Is(err, event.ErrOpsPruned):
		return errorf(CodeOpsNotFound, message(err, "the ops since the op's version are no longer kept"))
	case errors.Is(err, event.ErrConflict):
		return errorf(CodeUnknown, message(err, "the change conflicts with a concurrent change; retry"))
	}
	return err
}

// createFixup is the op that turns the creator's copy (its create data)
// into the stored document (the create the op log keeps).
func (s *session) createFixup(c collection, id int64, sent json.RawMessage) (json0.Op, error) {
	ctx, cancel := s.StoreContext()
	defer cancel()
	log, err := s.srv.cfg.Store.Ops(ctx, s.userID, c.canonical, id, 0, 1)
	if err != nil {
		return nil, err
	}
	if len(log.Changes) == 0 || log.Changes[0].V != 0 {
		return nil, errors.New("the create is not in the op log")
	}
	var ch changeJSON
	if err := json.Unmarshal(log.Changes[0].Change, &ch); err != nil {
		return nil, err
	}
	var have, want any
	if err := json.Unmarshal(sent, &have); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(ch.Create, &want); err != nil {
		return nil, err
	}
	return docDiff(nil, have, want), nil
}

// docDiff returns json0 components that turn have into want: objects are
// compared member by member (in name order), anything else is replaced.
func docDiff(path []any, have, want any) json0.Op {
	if json0.Equal(have, want) {
		return nil
	}
	hm, hok := have.(map[string]any)
	wm, wok := want.(map[string]any)
	if !hok || !wok {
		c := json0.Component{P: append([]any{}, path...)}
		if have != nil || path == nil {
			c.OD = json0.Some(have)
		}
		c.OI = json0.Some(want)
		return json0.Op{c}
	}
	keys := make([]string, 0, len(hm)+len(wm))
	for k := range hm {
		keys = append(keys, k)
	}
	for k := range wm {
		if _, ok := hm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var op json0.Op
	for _, k := range keys {
		hv, had := hm[k]
		wv, has := wm[k]
		p := append(slices.Clone(path), k)
		switch {
		case had && has:
			op = append(op, docDiff(p, hv, wv)...)
		case had:
			op = append(op, json0.Component{P: p, OD: json0.Some(hv)})
		default:
			op = append(op, json0.Component{P: p, OI: json0.Some(wv)})
		}
	}
	return op
}
