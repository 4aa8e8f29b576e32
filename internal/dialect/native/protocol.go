// Package native speaks tablecast's native protocol (native-protocol.md) over
// WebSocket: it authenticates the upgrade, reads client messages into hub
// calls, and renders the hub's publications as native frames.
package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/jsonscan"
	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/transport"
)

// Message types of the native protocol.
const (
	TypeConnect     = "connect"
	TypeConnected   = "connected"
	TypeDisconnect  = "disconnect"
	TypeError       = "error"
	TypePing        = "ping"
	TypePong        = "pong"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeQuery       = "query"
	TypeSubmit      = "submit"
	TypeOp          = "op"
	TypeMessage     = "message"
	TypePresence    = "presence"
	TypeRefresh     = "refresh"
)

// Error codes of the native protocol.
const (
	CodeInvalid      = 400
	CodeUnauthorized = 401
	CodeForbidden    = 403
	CodeNotFound     = 404
	CodeConflict     = 409
	CodeTooLarge     = 413
	CodeRateLimited  = 429
	CodeInternal     = 500
	CodeUnavailable  = 503
)

const (
	maxNameLen     = hub.MaxNameLen
	maxIDLen       = 64
	maxSessionLen  = 64
	maxPresenceLen = 1024
)

// inbound is a client message. Unknown fields are ignored; fields of the
// wrong JSON type fail decoding.
type inbound struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	Document   string          `json:"document"`
	Data       json.RawMessage `json:"data"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Operation  json.RawMessage `json:"operation"`
}

// outbound is a server message.
type outbound struct {
	Type       string     `json:"type"`
	ID         string     `json:"id,omitempty"`
	Collection string     `json:"collection,omitempty"`
	Document   string     `json:"document,omitempty"`
	Offset     *uint64    `json:"offset,omitempty"`
	Data       any        `json:"data,omitempty"`
	Error      *errorBody `json:"error,omitempty"`
	Timestamp  string     `json:"timestamp"`
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// RetryAfter, in seconds, comes with a 503 the client should retry.
	RetryAfter int `json:"retry_after,omitempty"`
}

// protoError is an error a client is told about: a stable code and a message
// written for clients, never an internal cause.
type protoError struct {
	code       int
	msg        string
	retryAfter int // seconds; with CodeUnavailable, the request may be retried
}

// retryAfterSeconds is what a refusal for a dependency that is away (the
// broker, the store) tells the client to wait before trying again.
const retryAfterSeconds = 1

// unavailable is the refusal of a request the node cannot serve for now.
func unavailable(what string) *protoError {
	return &protoError{code: CodeUnavailable, msg: what + " is temporarily unavailable: retry", retryAfter: retryAfterSeconds}
}

func (e *protoError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func errorf(code int, format string, args ...any) *protoError {
	return &protoError{code: code, msg: fmt.Sprintf(format, args...)}
}

// decode parses one client frame.
func decode(payload []byte) (*inbound, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errorf(CodeInvalid, "a message must be a JSON object")
	}
	in, ok := decodePlain(trimmed)
	var err error
	if !ok {
		in = new(inbound)
		err = json.Unmarshal(payload, in)
	}
	if len(in.ID) > maxIDLen { // checked first: a reply never repeats such an id
		in.ID = ""
		return in, errorf(CodeInvalid, "id is longer than %d characters", maxIDLen)
	}
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return in, errorf(CodeInvalid, "field %q has the wrong type: want %s", typeErr.Field, typeErr.Type)
		}
		return nil, errorf(CodeInvalid, "a message must be a JSON object")
	}
	if in.Type == "" {
		return in, errorf(CodeInvalid, "type is required")
	}
	return in, nil
}

// decodePlain reads a client frame in the plain form (jsonscan: names
// and strings without escapes; the members of inbound only, each once at
// most), as json.Unmarshal would, in one pass; ok is false for any other
// frame, which json.Unmarshal reads.
func decodePlain(payload []byte) (*inbound, bool) {
	s := jsonscan.New(payload)
	if !s.Consume('{') {
		return nil, false
	}
	in := new(inbound)
	var seen [len(inboundKeys)]bool
	for first := true; !s.Consume('}'); first = false {
		if !first && !s.Consume(',') {
			return nil, false
		}
		key, ok := s.Key()
		if !ok {
			return nil, false
		}
		i := slices.Index(inboundKeys[:], string(key))
		if i < 0 || seen[i] {
			return nil, false
		}
		seen[i] = true
		var str string
		var raw []byte
		if i < 4 {
			str, ok = s.String()
		} else if raw, ok = s.Skip(); ok {
			ok, raw = json.Valid(raw), bytes.Clone(raw)
		}
		if !ok {
			return nil, false
		}
		switch i {
		case 0:
			in.Type = str
		case 1:
			in.ID = str
		case 2:
			in.Collection = str
		case 3:
			in.Document = str
		case 4:
			in.Data = raw
		case 5:
			in.Timestamp = raw
		default:
			in.Operation = raw
		}
	}
	return in, s.End()
}

// inboundKeys are inbound's members, its strings first.
var inboundKeys = [...]string{"type", "id", "collection", "document", "data", "timestamp", "operation"}

func validName(s string) bool { return hub.ValidName(s) }

// validSessionID reports whether s is a session id: [A-Za-z0-9_-]{1,64}.
func validSessionID(s string) bool {
	if len(s) == 0 || len(s) > maxSessionLen {
		return false
	}
	return validName(s) && !strings.Contains(s, ":")
}

func (in *inbound) channel() (collection, document string, err error) {
	if !validName(in.Collection) {
		return "", "", errorf(CodeInvalid, "collection must be 1-%d of [A-Za-z0-9_:-]", maxNameLen)
	}
	if in.Document != "" && !validName(in.Document) {
		return "", "", errorf(CodeInvalid, "document must be 1-%d of [A-Za-z0-9_:-]", maxNameLen)
	}
	return in.Collection, in.Document, nil
}

// isStoreCollection reports whether a collection belongs to the table store
// (record_T, field_T, view_T, table_W with integer ids, publicview_<slug>).
// Everything else is an app channel.
func isStoreCollection(name string) bool {
	if strings.HasPrefix(name, "publicview_") {
		return true
	}
	return event.InNamespace(name)
}

type subscribeData struct {
	Since *stream.Position `json:"since"`
	// Token opens a public view with a password (publicview_<slug>).
	Token string `json:"token"`
}

// timestamp formats t as the protocol does: RFC 3339, UTC, milliseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// encode renders one server message as a WebSocket frame.
func encode(m *outbound) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Only values this package builds are encoded; a failure is a bug.
		b, _ = json.Marshal(&outbound{Type: TypeError, ID: m.ID, Error: &errorBody{Code: CodeInternal, Message: "internal error"}, Timestamp: m.Timestamp})
	}
	return transport.TextFrame(b)
}
