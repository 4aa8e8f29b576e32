package native

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/jsonscan"
)

// submitData is a submit's data: {"v","op"|"create"|"del","src"?,"seq"?}.
type submitData struct {
	V      *int64          `json:"v"`
	Op     json.RawMessage `json:"op"`
	Create json.RawMessage `json:"create"`
	Del    bool            `json:"del"`
	Src    string          `json:"src"`
	Seq    uint64          `json:"seq"`
}

// decodePlain reads submit data in the plain form (jsonscan), as
// json.Unmarshal would: v, op, src and seq, each once at most, as an op
// is sent; ok is false, with d unchanged, for anything else.
func (d *submitData) decodePlain(data []byte) bool {
	s := jsonscan.New(data)
	if !s.Consume('{') {
		return false
	}
	var out submitData
	var seen [4]bool
	for first := true; !s.Consume('}'); first = false {
		if !first && !s.Consume(',') {
			return false
		}
		key, ok := s.Key()
		if !ok {
			return false
		}
		i := slices.Index([]string{"v", "op", "src", "seq"}, string(key))
		if i < 0 || seen[i] {
			return false
		}
		seen[i] = true
		switch i {
		case 0:
			tok, ok := s.Number()
			v, err := strconv.ParseInt(string(tok), 10, 64)
			if !ok || err != nil {
				return false
			}
			out.V = &v
		case 1:
			raw, ok := s.Skip()
			if !ok || raw[0] == 'n' || !json.Valid(raw) {
				return false
			}
			out.Op = bytes.Clone(raw)
		case 2:
			if out.Src, ok = s.String(); !ok {
				return false
			}
		default:
			if out.Seq, ok = s.Uint(19); !ok {
				return false
			}
		}
	}
	if !s.End() {
		return false
	}
	*d = out
	return true
}

// submit changes a document of a store collection: the reply carries the
// version after the change; everyone else subscribed gets the `op`.
func (s *session) submit(ctx context.Context, in *inbound) error {
	col, doc, err := in.channel()
	if err != nil {
		return err
	}
	if !isStoreCollection(col) {
		return errorf(CodeInvalid, "submit works on store collections; %q is an app channel", col)
	}
	st := s.srv.cfg.Store
	if st == nil || strings.HasPrefix(col, "publicview_") {
		return errorf(CodeNotFound, "unknown collection %q", col)
	}
	docID, err := strconv.ParseInt(doc, 10, 64)
	if err != nil || docID <= 0 || strconv.FormatInt(docID, 10) != doc {
		// A collection the user cannot see is not found, whatever else is
		// wrong with the message.
		if err := s.authorize(ctx, col); err != nil {
			return err
		}
		return errorf(CodeInvalid, "submit needs a document: the id of a row, field or view")
	}
	var d submitData
	if len(in.Data) > 0 && string(bytes.TrimSpace(in.Data)) != "null" && !d.decodePlain(in.Data) {
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return errorf(CodeInvalid, `submit data must be {"v":N,"op":[...]} or {"v":N,"create":{...}} or {"v":N,"del":true}`)
		}
	}
	sub := event.Submission{Collection: col, DocID: docID, Op: d.Op, Create: d.Create, Del: d.Del, Src: d.Src, Seq: d.Seq,
		NoMissed: true}
	if d.V != nil {
		sub.V, sub.HasV = *d.V, true
	}
	if len(in.Operation) > 0 {
		// The seed's form: the op at the top level, applied to the
		// current version.
		if sub.Op != nil || sub.Create != nil || sub.Del {
			return errorf(CodeInvalid, "submit takes data.op or operation, not both")
		}
		sub.Op, sub.HasV = in.Operation, false
	}
	if sub.Op != nil && string(bytes.TrimSpace(sub.Op)) == "null" {
		sub.Op = nil
	}
	if sub.Create != nil && string(bytes.TrimSpace(sub.Create)) == "null" {
		sub.Create = nil
	}
	sub.Tag = replyTag + in.ID
	ack, err := st.Submit(ctx, s.conn.UserID(), s.conn.ID(), sub)
	if err != nil {
		return storeError(err)
	}
	var fixup json.RawMessage
	if len(ack.Fixup) > 0 {
		if fixup, err = json.Marshal(ack.Fixup); err != nil {
			return err
		}
	}
	reply := &outbound{Type: TypeSubmit, ID: in.ID, Collection: col, Document: doc, Offset: &ack.Offset,
		Data: submitReplyData{V: ack.V + 1, Duplicate: ack.Duplicate, Fixup: fixup}}
	if sub.Create == nil && !ack.Duplicate && s.owe(col, doc, reply) {
		// The document's stream brings the reply (the renderer's
		// hub.Output.Origin), after every op before it.
		return nil
	}
	s.send(reply)
	return nil
}

// replyTag marks the submits of native connections in their events
// (event.SubmitReply.Tag): the rest of the tag is the request's id.
const replyTag = "native:"

// owe records that the stream will bring a submit's reply, when the
// connection follows the document. Only each document's last reply is
// kept: an earlier one the stream has brought or will bring first.
func (s *session) owe(col, doc string, reply *outbound) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Dropping() || !s.conn.Follows(col, doc) {
		return false
	}
	if s.owed == nil {
		s.owed = make(map[owedKey]*outbound)
	}
	s.owed[owedKey{col, doc}] = reply
	return true
}

// owedKey is a document whose last submit's reply the stream brings.
type owedKey struct{ col, doc string }

// unowed takes the replies of documents the connection no longer follows:
// their stream will not bring them, so they are sent from here. One the
// stream brought already arrives twice; clients ignore a reply they are
// not waiting for.
func (s *session) unowed() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var frames []byte
	for k, m := range s.owed {
		if !s.conn.Follows(k.col, k.doc) {
			delete(s.owed, k)
			m.Timestamp = timestamp(s.srv.now())
			frames = append(frames, encode(m)...)
		}
	}
	return frames
}
