package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// Submit is the document side of writes: a client sends a json0 op (or a
// create, or a delete) against the version of a document it holds; the
// op is transformed against what happened since, applied, validated as a
// REST write would be, and stored with its event and its op log entry in
// one transaction. See docchanges.go for the documents' data.

// Limits of a submit.
const (
	// MaxOpComponents is the most components one op may have.
	MaxOpComponents = 1000
	// MaxTransformOps is the most ops a stale op is transformed against;
	// older is ErrOpsPruned.
	MaxTransformOps = 1000
)

// parseDocCollection reads record_T, field_T or view_T.
func parseDocCollection(col string) (event.Kind, int64, error) {
	c, ok := event.ParseCollection(col)
	if !ok {
		prefix, id, _ := strings.Cut(col, "_")
		if _, idOK := event.ParseID(id); !idOK {
			return 0, 0, validation("collection", "must be record_<table id>, field_<table id> or view_<table id>")
		}
		return 0, 0, validation("collection", "documents of "+prefix+"_ collections cannot be changed by ops: use the REST API")
	}
	if c.Kind == event.KindTable {
		return 0, 0, validation("collection", "documents of table_ collections cannot be changed by ops: use the REST API")
	}
	return c.Kind, c.ID, nil
}

// Submit applies one document change (editor of the document's table).
// Errors: ErrNotFound for a table or document the user cannot see (or
// that does not exist), ErrForbidden for a viewer, a *table.ValidationError
// for an op that does not apply or a value the field refuses, ErrConflict
// with a Reason for version conflicts.
func (s *Service) Submit(ctx context.Context, a Actor, sub event.Submission) (event.SubmitResult, error) {
	kind, tableID, err := parseDocCollection(sub.Collection)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if sub.DocID <= 0 {
		return event.SubmitResult{}, validation("document", "must be a positive integer id")
	}
	if sub.HasV && sub.V < 0 {
		return event.SubmitResult{}, validation("v", "must be 0 or more")
	}
	var op json0.Op
	switch {
	case sub.Op != nil && sub.Create == nil && !sub.Del:
		raw, err := seedSets(sub.Op)
		if err != nil {
			return event.SubmitResult{}, err
		}
		if op, err = decodeOp(raw); err != nil {
			return event.SubmitResult{}, err
		}
	case sub.Create != nil && sub.Op == nil && !sub.Del:
		if kind != event.KindRecord {
			return event.SubmitResult{}, validation("create", "fields and views are created through the REST API")
		}
	case sub.Del && sub.Op == nil && sub.Create == nil:
	default:
		return event.SubmitResult{}, validation("data", "must hold exactly one of op, create and del")
	}
	cold := &coldSubmit{s: s, a: a, sub: sub, kind: kind, tableID: tableID, op: op}
	if kind == event.KindRecord && op != nil && s.hotSubmits {
		// Hot: prepared on the record in memory, written by the group
		// commit (hotdocs.go, submit_hot.go).
		queue := func(req *writeReq) *groupCommit { return s.enqueue(tableID, req) }
		if req, group, ok := s.hot.prepare(ctx, queue, a, sub, tableID, op, cold); ok {
			err := group.await(req)
			return req.hot.result, err
		}
	}
	// Cold: worked out in the write transaction; on a store with several
	// writers, with the table's other row writes (commit_table.go).
	var res event.SubmitResult
	err = s.writeTable(ctx, a, tableID, func(w *writeTx) error {
		var err error
		res, err = cold.write(w)
		return err
	})
	return res, err
}

// submitTx is a submit's write: the base every write has (writeTx), and
// what only a submit has: its identity and acknowledgement, which its
// events carry (TableMeta), and its op as applied, for the op log cache.
type submitTx struct {
	*writeTx
	// src and seq identify the submit; reply is its acknowledgement.
	src   string
	seq   uint64
	reply *event.SubmitReply
	// applied is the submit's op as applied, taken by the op log entry of
	// the first document change the write logs.
	applied json0.Op
}

// newSubmitTx makes w the write of sub: the events appended through w,
// by the submit's code or the REST code it shares, are the submit's.
func newSubmitTx(w *writeTx, sub event.Submission) *submitTx {
	st := &submitTx{writeTx: w, src: sub.Src, seq: sub.Seq, reply: submitReply(sub)}
	w.submit = st
	return st
}

func (st *submitTx) stampMeta(m *event.TableMeta) {
	m.Src, m.Seq, m.Reply = st.src, st.seq, st.reply
}

func (st *submitTx) takeApplied() json0.Op {
	op := st.applied
	st.applied = nil
	return op
}

// coldSubmit is a submit worked out inside its write transaction, reading
// from the store what it needs. It is how a submit runs when no hot
// document takes it (submit_hot.go), which also falls back to it inside
// the transaction, and every submit with Config.ColdSubmits.
type coldSubmit struct {
	s       *Service
	a       Actor
	sub     event.Submission
	kind    event.Kind
	tableID int64
	op      json0.Op
}

// write runs the submit in w: it makes w this submit's (submitTx), then
// works the change out on its document (submitDoc).
func (c *coldSubmit) write(w *writeTx) (event.SubmitResult, error) {
	t, err := w.tableAccessMemo(c.a.UserID, c.tableID, store.RoleEditor)
	if err != nil {
		return event.SubmitResult{}, err
	}
	sd := submitDoc{w: newSubmitTx(w, c.sub), t: t, sub: c.sub, op: c.op}
	var res event.SubmitResult
	switch c.kind {
	case event.KindRecord:
		res, err = sd.record()
	case event.KindField:
		res, err = sd.field()
	default:
		res, err = sd.view(c.s)
	}
	if err == nil && !res.Duplicate {
		res.Missed = sd.missed
	}
	return res, err
}

// submitReply is the acknowledgement the events of an op or a delete
// carry; a create is acknowledged by its dialect alone (nothing comes
// before a document's version 0).
func submitReply(sub event.Submission) *event.SubmitReply {
	if sub.Create != nil {
		return nil
	}
	return &event.SubmitReply{Collection: sub.Collection, Doc: sub.DocID, Tag: sub.Tag}
}

// loggedFix is the fixup an op log entry keeps, if any.
func loggedFix(raw json.RawMessage) json0.Op {
	if !bytes.Contains(raw, []byte(`"fix":`)) {
		return nil
	}
	var entry struct {
		Fix json0.Op `json:"fix"`
	}
	if json.Unmarshal(raw, &entry) != nil {
		return nil
	}
	return entry.Fix
}

// fixupJSON is a fixup as the events carry it.
func fixupJSON(fix json0.Op) (json.RawMessage, error) {
	if len(fix) == 0 {
		return nil, nil
	}
	return json.Marshal(fix)
}

// decodeOp reads and checks a json0 op.
func decodeOp(raw json.RawMessage) (json0.Op, error) {
	var op json0.Op
	// Op's own decoder, not through json.Unmarshal, which would scan the
	// op once more to check it first: the decoder takes the plain form in
	// one pass and hands anything else to encoding/json.
	if err := op.UnmarshalJSON(raw); err != nil {
		return nil, validation("op", "is not a json0 op: "+jsonMessage(err))
	}
	if op == nil {
		return nil, validation("op", "must be a list of json0 components")
	}
	if len(op) > MaxOpComponents {
		return nil, validation("op", "has more than "+strconv.Itoa(MaxOpComponents)+" components")
	}
	if err := op.Validate(); err != nil {
		return nil, validation("op", err.Error())
	}
	return op, nil
}

// jsonMessage is a decoding error's message without Go type names.
func jsonMessage(err error) string {
	var je *json0.Error
	if errors.As(err, &je) {
		return je.Error()
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "json:") {
		return msg[i+2:]
	}
	return msg
}

// submitDoc is one submit inside its transaction.
type submitDoc struct {
	w   *submitTx
	t   store.Table
	sub event.Submission
	op  json0.Op
	// missed are the ops catchUp transformed against.
	missed []event.LoggedChange
}

func conflict(reason error, format string, args ...any) error {
	return &event.Error{Kind: event.ErrConflict, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// catchUp brings the submission from its version to cur, the document's
// current version: it finds a resent submission (dup), or transforms the op
// against the ops since (none when the submission is a delete). v is the
// version the change will apply to.
func (sd *submitDoc) catchUp(cur int64) (v int64, dup *event.SubmitResult, transformed int, err error) {
	sub := sd.sub
	if !sub.HasV {
		return cur, nil, 0, nil
	}
	if sub.V > cur {
		return 0, nil, 0, conflict(event.ErrVersionAhead, "%s/%d is at version %d: the op is for version %d", sub.Collection, sub.DocID, cur, sub.V)
	}
	if sub.V == cur {
		return cur, nil, 0, nil
	}
	if cur-sub.V > MaxTransformOps {
		return 0, nil, 0, conflict(event.ErrOpsPruned, "%s/%d is %d versions past the op's: fetch it again", sub.Collection, sub.DocID, cur-sub.V)
	}
	logged, err := sd.opsSince(sub.V, cur)
	if err != nil {
		return 0, nil, 0, err
	}
	if sub.Src != "" {
		for _, l := range logged {
			if l.src == sub.Src && l.seq == sub.Seq {
				// told again of the fixup, which it may not have received
				return 0, &event.SubmitResult{V: l.version, Offset: l.offset, Duplicate: true, Fixup: loggedFix(l.raw)}, 0, nil
			}
		}
	}
	op := sd.op
	sd.missed = make([]event.LoggedChange, len(logged))
	for i, l := range logged {
		sd.missed[i] = event.LoggedChange{V: l.version, Change: l.raw, Src: l.src, Seq: l.seq}
	}
	for _, l := range logged {
		switch {
		case l.del:
			return 0, nil, 0, conflict(event.ErrDocDeleted, "%s/%d was deleted", sub.Collection, sub.DocID)
		case l.create:
			return 0, nil, 0, conflict(event.ErrVersionAhead, "%s/%d was created after version %d", sub.Collection, sub.DocID, sub.V)
		}
		if sub.Del { // a delete needs no transform
			continue
		}
		if l, err = l.decode(sub.Collection); err != nil {
			return 0, nil, 0, err
		}
		if op, err = json0.Transform(op, l.op, json0.Left); err != nil {
			return 0, nil, 0, validation("op", "cannot be transformed against the changes since version "+
				strconv.FormatInt(sub.V, 10)+": "+err.Error())
		}
		transformed++
	}
	sd.op = op
	return cur, nil, transformed, nil
}

// opsSince returns the document's ops of versions from..to-1: from the
// cache and the transaction's own writes when they hold them all, else
// from the op log.
func (sd *submitDoc) opsSince(from, to int64) ([]loggedOp, error) {
	sub := sd.sub
	if ops, ok := sd.w.cache.opsSince(sd.w.batch, sub.Collection, sub.DocID, from, to); ok {
		return ops, nil
	}
	logged, err := sd.w.DocOps(sd.w.ctx, sub.Collection, sub.DocID, from, int(to-from))
	if err != nil {
		return nil, err
	}
	if int64(len(logged)) != to-from || logged[0].Version != from {
		return nil, conflict(event.ErrOpsPruned, "the ops of %s/%d since version %d are no longer kept: fetch it again", sub.Collection, sub.DocID, from)
	}
	out := make([]loggedOp, len(logged))
	for i, l := range logged {
		out[i] = loggedOp{docID: l.DocID, version: l.Version, raw: l.Op, src: l.Src, seq: l.Seq, offset: l.Offset}
		if !bytes.HasPrefix(l.Op, []byte(`{"op":`)) { // a create or a delete: tell which now
			if out[i], err = decodeLogged(l); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// missing is the error of a submission on a document that is not there:
// deleted when the op log knows it, else not found.
func (sd *submitDoc) missing() error {
	logged, err := sd.w.DocOps(sd.w.ctx, sd.sub.Collection, sd.sub.DocID, 0, 1)
	if err != nil {
		return err
	}
	if len(logged) > 0 {
		return conflict(event.ErrDocDeleted, "%s/%d was deleted", sd.sub.Collection, sd.sub.DocID)
	}
	return errorf(event.ErrNotFound, "%s/%d does not exist", sd.sub.Collection, sd.sub.DocID)
}

// lastEvent is the offset of the event the submit appended last.
func (sd *submitDoc) lastEvent() uint64 {
	if n := len(sd.w.events); n > 0 {
		return sd.w.events[n-1].Offset
	}
	return 0
}

// asDoc turns a value into a json0 document (the types encoding/json
// decodes into any).
func asDoc(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var d any
	return d, json.Unmarshal(b, &d)
}

// seedSets rewrites the components of the seed's form {"p":[...],
// "t":"string","o":value} ("set the value at p to o") into {"p","oi"}: an
// oi that replaces whatever is there, as json0 applies it.
func seedSets(raw json.RawMessage) (json.RawMessage, error) {
	if !bytes.Contains(raw, []byte(`"t"`)) {
		return raw, nil
	}
	var comps []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &comps); err != nil {
		return raw, nil // decodeOp says what is wrong
	}
	n := 0
	for i, c := range comps {
		if string(bytes.TrimSpace(c["t"])) != `"string"` {
			continue
		}
		o, ok := c["o"]
		if !ok || len(c) != 3 || c["p"] == nil {
			return nil, validation(table.ItemKey("op", i), `the form {"p":[...],"t":"string","o":value} takes exactly p, t and o`)
		}
		comps[i] = map[string]json.RawMessage{"p": c["p"], "oi": o}
		n++
	}
	if n == 0 {
		return raw, nil
	}
	return json.Marshal(comps)
}

// apply applies the submission's op to doc; the op becomes the op as
// applied (an oi that replaced a value without od gets it as its od).
func (sd *submitDoc) apply(doc any) (any, error) {
	out, filled, err := json0.ApplyFilled(doc, sd.op)
	if err != nil {
		return nil, validation("op", "does not apply to the document: "+err.Error())
	}
	sd.op = filled
	return out, nil
}

// opJSON is the op as applied, for the event and the op log.
func opJSON(op json0.Op) (json.RawMessage, error) {
	if len(op) == 0 {
		return json.RawMessage(`[]`), nil
	}
	return op.AppendJSON(nil)
}

// topLevelKeys checks that every component of op touches one of the
// allowed members of the document, and returns the members it touches.
func topLevelKeys(op json0.Op, allowed []string, what string) (map[string]bool, error) {
	touched := map[string]bool{}
	for i, c := range op {
		key, _ := firstKey(c.P)
		ok := false
		for _, a := range allowed {
			ok = ok || key == a
		}
		if !ok || len(c.P) == 0 {
			return nil, validation(table.ItemKey("op", i)+".p", "an op on "+what+" may change "+strings.Join(allowed, ", ")+" only")
		}
		touched[key] = true
	}
	return touched, nil
}

func firstKey(p []any) (string, bool) {
	if len(p) == 0 {
		return "", false
	}
	s, ok := p[0].(string)
	return s, ok
}
