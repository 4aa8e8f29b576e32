package sharedb

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/jsonscan"
	"github.com/tablecast/tablecast/internal/transport"
)

// The actions of ShareDB's wire protocol (sharedb/lib/message-actions.js).
const (
	actInit           = "init"
	actHandshake      = "hs"
	actQueryFetch     = "qf"
	actQuerySubscribe = "qs"
	actQueryUnsub     = "qu"
	actQueryUpdate    = "q"
	actBulkFetch      = "bf"
	actBulkSubscribe  = "bs"
	actBulkUnsub      = "bu"
	actFetch          = "f"
	actSubscribe      = "s"
	actUnsubscribe    = "u"
	actOp             = "op"
	actSnapshotFetch  = "nf"
	actSnapshotAtTime = "nt"
	actPing           = "pp"
	actPresence       = "p"
	actPresenceSub    = "ps"
	actPresenceUnsub  = "pu"
	actPresenceReq    = "pr"
)

// Protocol is what the server announces in init and hs.
const (
	protocolMajor = 1
	protocolMinor = 2
	// typeJSON0 is json0's URI, ShareDB's default (and here only) type.
	typeJSON0 = "http://sharejs.org/types/JSONv0"
)

// ShareDB's error codes (sharedb/lib/error.js), and the few this server
// adds where ShareDB has none (documented in docs/protocol.md).
const (
	CodeBadMessage        = "ERR_MESSAGE_BADLY_FORMED"
	CodeUnknown           = "ERR_UNKNOWN_ERROR"
	CodeSubmitRejected    = "ERR_OP_SUBMIT_REJECTED"
	CodeDocExists         = "ERR_DOC_ALREADY_CREATED"
	CodeDocDeleted        = "ERR_DOC_WAS_DELETED"
	CodeDocMissing        = "ERR_DOC_DOES_NOT_EXIST"
	CodeDocType           = "ERR_DOC_TYPE_NOT_RECOGNIZED"
	CodeVersionNewer      = "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT"
	CodeOpsNotFound       = "ERR_SUBMIT_TRANSFORM_OPS_NOT_FOUND"
	CodeSnapshotRejected  = "ERR_SNAPSHOT_READS_REJECTED"
	CodeBadOp             = "ERR_OT_OP_BADLY_FORMED"
	CodeNoPresence        = "ERR_TYPE_DOES_NOT_SUPPORT_PRESENCE"
	CodeProtocol          = "ERR_PROTOCOL_VERSION_NOT_SUPPORTED"
	CodeUnknownCollection = "ERR_UNKNOWN_COLLECTION"     // tablecast: not a store collection
	CodeForbidden         = "ERR_FORBIDDEN"              // tablecast: a presence channel the user may not use
	CodeRateLimited       = "ERR_RATE_LIMITED"           // tablecast: over the message rate limit
	CodeTooMany           = "ERR_TOO_MANY_SUBSCRIPTIONS" // tablecast: subscriptions or queries over the limit
	CodeTooLarge          = "ERR_MESSAGE_TOO_LARGE"      // tablecast: presence or message over its size limit
	CodeUnavailable       = "ERR_SERVICE_UNAVAILABLE"    // tablecast: the broker or the store is away for now; retry
)

// Limits of messages.
const (
	maxIDLen       = 128  // presence ids, the hs id (src)
	maxPresenceLen = 4096 // a presence value, as JSON
	maxBulk        = 1000 // ids in one bf/bs/bu
)

// inbound is a client message. Members whose JSON type varies in ShareDB
// (ids that are numbers for queries and strings for presence, versions
// that may be null, b that is a list or a map) stay raw until the action
// says what they must be. A member of a fixed type sent with another
// fails the decoding: ERR_MESSAGE_BADLY_FORMED naming it.
type inbound struct {
	A   string          `json:"a"`
	C   *string         `json:"c"`
	D   *string         `json:"d"`
	V   json.RawMessage `json:"v"`
	ID  json.RawMessage `json:"id"`
	Src *string         `json:"src"`
	Seq *float64        `json:"seq"`

	Op     json.RawMessage `json:"op"`
	Create json.RawMessage `json:"create"`
	Del    json.RawMessage `json:"del"`

	B  json.RawMessage `json:"b"`
	Q  json.RawMessage `json:"q"`
	R  json.RawMessage `json:"r"`
	Ts json.RawMessage `json:"ts"`

	Ch *string         `json:"ch"`
	P  json.RawMessage `json:"p"`
	Pv *float64        `json:"pv"`
	T  json.RawMessage `json:"t"` // presence: the document's type (c, d and v ride in C, D and V)

	Protocol      json.RawMessage `json:"protocol"`
	ProtocolMinor json.RawMessage `json:"protocolMinor"`

	raw []byte // the message as received, echoed with "error" on failure
}

// protoError is an error the client is told: a ShareDB code and a message
// written for clients, never an internal cause.
type protoError struct {
	code string
	msg  string
}

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func errorf(code, msg string) *protoError { return &protoError{code: code, msg: msg} }

var errNotObject = errorf(CodeBadMessage, "a message must be a JSON object")

// decode parses one client frame. A frame that is not a JSON object is
// errNotObject (nothing to echo); a member of the wrong type is an error
// naming it, with what was readable of the message.
func decode(payload []byte) (*inbound, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errNotObject
	}
	in := &inbound{raw: payload}
	if err := json.Unmarshal(payload, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return in, errorf(CodeBadMessage, "invalid "+typeErr.Field+": want "+typeErr.Type.String())
		}
		return nil, errNotObject
	}
	return in, nil
}

// present reports whether a raw member was sent (null counts as sent).
func present(r json.RawMessage) bool { return len(r) > 0 }

// isNull reports whether a raw member is absent or null.
func isNull(r json.RawMessage) bool {
	return len(r) == 0 || string(bytes.TrimSpace(r)) == "null"
}

// version reads a version member: absent or null is (0, false); anything
// else must be an integer from 0 to 2^53.
func version(r json.RawMessage, what string) (int64, bool, error) {
	if isNull(r) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false, errorf(CodeBadMessage, "invalid "+what+": want an integer >= 0 or null")
	}
	return int64(f), true, nil
}

// queryID reads a query's or a snapshot request's id: a number, kept as
// its JSON text (the key of the session's queries and what replies carry).
func queryID(r json.RawMessage) (string, error) {
	var f float64
	if isNull(r) || json.Unmarshal(r, &f) != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", errorf(CodeBadMessage, "missing query ID")
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// seqOf reads seq: an integer from 0 to 2^53 (0 when absent).
func seqOf(in *inbound) (uint64, error) {
	if in.Seq == nil {
		return 0, nil
	}
	f := *in.Seq
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, errorf(CodeBadMessage, "invalid seq")
	}
	return uint64(f), nil
}

// errorReply echoes the request with "error": {code, message}, as
// ShareDB's agent does, so that the client routes it to the doc, query or
// presence that asked. A request that could not be read is answered with
// the error alone.
func errorReply(in *inbound, pe *protoError) []byte {
	body := map[string]json.RawMessage{}
	if in != nil && len(in.raw) > 0 {
		_ = json.Unmarshal(in.raw, &body) // a map of raw members: fails only on what decode refused
	}
	e, _ := json.Marshal(map[string]string{"code": pe.code, "message": pe.msg})
	body["error"] = e
	return frameOf(body)
}

// frameOf encodes a server message as a text frame. Only values this
// package builds are encoded; a failure is a bug, answered as an unknown
// error rather than a broken frame.
func frameOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":{"code":"` + CodeUnknown + `","message":"internal error"}}`)
	}
	return transport.TextFrame(b)
}

// snapshotJSON is a document snapshot as ShareDB sends it: {v, data} for a
// json0 document (the default type goes unsaid), {v, type: null} for one
// that does not exist; d carries the id in query results.
type snapshotJSON struct {
	D    string          `json:"d,omitempty"`
	V    int64           `json:"v"`
	Data json.RawMessage `json:"data,omitempty"`
	Type *string         `json:"type,omitempty"`
}

var nullType = new(string) // marks {"type":null}; see MarshalJSON

func (s snapshotJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if s.D != "" {
		b.WriteString(`"d":`)
		b.WriteString(strconv.Quote(s.D))
		b.WriteByte(',')
	}
	b.WriteString(`"v":`)
	b.WriteString(strconv.FormatInt(s.V, 10))
	if s.Type == nullType {
		b.WriteString(`,"type":null`)
	} else if len(s.Data) > 0 {
		b.WriteString(`,"data":`)
		b.Write(s.Data)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func snapshotOf(s event.Document, withID bool) snapshotJSON {
	out := snapshotJSON{V: s.V}
	if withID {
		out.D = strconv.FormatInt(s.ID, 10)
	}
	if s.Exists {
		out.Data = s.Data
	} else {
		out.Type = nullType
	}
	return out
}

// opBuilder renders op messages as ShareDB sends them, for a change of the
// op log or of an event: {"a":"op","c","d","v","src"?,"seq"?} and exactly one
// of "op" (json0), "create" ({type, data}) and "del". It writes the JSON
// by hand, into the frame it returns (transport.TextFrameInPlace): an event
// with a batch of rows renders many, on the hot path.
type opBuilder struct{ b []byte }

// opFixed is about what an op message writes besides its variable parts.
const opFixed = 160

// head starts a message whose change (op, create or fixup) takes about
// more bytes.
func (w *opBuilder) head(col, doc string, v int64, src string, seq uint64, more int) {
	w.b = transport.NewFrameBuffer(opFixed + len(col) + len(doc) + 2*len(src) + more)
	w.b = append(w.b, `{"a":"op","c":`...)
	w.b = jsonscan.AppendString(w.b, col)
	w.b = append(w.b, `,"d":`...)
	w.b = jsonscan.AppendString(w.b, doc)
	w.b = strconv.AppendInt(append(w.b, `,"v":`...), v, 10)
	if src != "" {
		w.b = jsonscan.AppendString(append(w.b, `,"src":`...), src)
		w.b = strconv.AppendUint(append(w.b, `,"seq":`...), seq, 10)
	}
}

// frame ends the message with its change and returns it as a text frame.
// op, create and del are the event's (trusted JSON from the store).
func (w *opBuilder) frame(op, create json.RawMessage, del bool) []byte {
	switch {
	case del:
		w.b = append(w.b, `,"del":true}`...)
	case create != nil:
		w.b = append(w.b, `,"create":{"type":"`+typeJSON0+`","data":`...)
		w.b = append(w.b, create...)
		w.b = append(w.b, `}}`...)
	default:
		if len(op) == 0 {
			op = json.RawMessage(`[]`)
		}
		w.b = append(w.b, `,"op":`...)
		w.b = append(w.b, op...)
		w.b = append(w.b, '}')
	}
	return w.done()
}

// done returns the message as a frame; w starts afresh.
func (w *opBuilder) done() []byte {
	f := transport.TextFrameInPlace(w.b)
	w.b = nil
	return f
}

// ackFrame is the acknowledgement of a submitted op, as ShareDB's server
// sends it: {"a":"op","c","d","v","src","seq"} with no op, v the version
// the op applied to, and, when the server changed the op, "fixup": one op
// for the submitter to apply over its own (ShareDB's clients 4.x and 7.x
// apply each op of the list, transforming their pending ops by it).
func ackFrame(col, doc string, v int64, src string, seq uint64, fixup json.RawMessage) []byte {
	var w opBuilder
	w.head(col, doc, v, "", 0, 2*len(src)+len(fixup)+80)
	w.b = jsonscan.AppendString(append(w.b, `,"src":`...), src)
	w.b = strconv.AppendUint(append(w.b, `,"seq":`...), seq, 10)
	if len(fixup) > 0 {
		w.appendFixup(src, seq, v, fixup)
	}
	w.b = append(w.b, '}')
	return w.done()
}

// appendFixup appends a message's "fixup" member: one op, fix, for the
// submitter of the op (src, seq) at version v.
func (w *opBuilder) appendFixup(src string, seq uint64, v int64, fix json.RawMessage) {
	w.b = jsonscan.AppendString(append(w.b, `,"fixup":[{"src":`...), src)
	w.b = strconv.AppendUint(append(w.b, `,"seq":`...), seq, 10)
	w.b = strconv.AppendInt(append(w.b, `,"v":`...), v, 10)
	w.b = append(append(w.b, `,"op":`...), fix...)
	w.b = append(w.b, `}]`...)
}

// changeJSON is a change as the op log keeps it.
type changeJSON struct {
	Op     json.RawMessage `json:"op"`
	Fix    json.RawMessage `json:"fix"`
	Create json.RawMessage `json:"create"`
	Del    bool            `json:"del"`
}

// opFrame renders one logged change of a document as an op message. An op
// ({"op":[...]}, the common case) is not decoded.
func opFrame(col, doc string, o event.LoggedChange) ([]byte, error) {
	var w opBuilder
	w.head(col, doc, o.V, o.Src, o.Seq, len(o.Change))
	if raw := bytes.TrimSpace(o.Change); bytes.HasPrefix(raw, []byte(`{"op":`)) && raw[len(raw)-1] == '}' &&
		!bytes.Contains(raw, []byte(`"fix":`)) {
		w.b = append(append(w.b, ','), raw[1:]...)
		return w.done(), nil
	}
	var ch changeJSON
	if err := json.Unmarshal(o.Change, &ch); err != nil {
		return nil, err
	}
	if !ch.Del && ch.Create == nil && ch.Op == nil {
		return nil, errors.New("sharedb: an op log change with no op, create or del")
	}
	if len(ch.Fix) > 0 && ch.Op != nil {
		// An op the server fixed up: its submitter, catching up on its own
		// op after a lost ack, takes the message for the ack and applies
		// the fixup (others ignore it).
		w.b = append(append(w.b, `,"op":`...), ch.Op...)
		w.appendFixup(o.Src, o.Seq, o.V, ch.Fix)
		w.b = append(w.b, '}')
		return w.done(), nil
	}
	return w.frame(ch.Op, ch.Create, ch.Del), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// quoteForMessage quotes a client-given name for an error message, cut to
// 64 bytes.
func quoteForMessage(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
