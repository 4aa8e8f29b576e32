package baserow

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/tablecast/tablecast/internal/table"
	"strconv"

	"github.com/tablecast/tablecast/internal/transport"
)

// Message types of the page protocol.
const (
	TypeAuthentication     = "authentication"
	TypePageAdd            = "page_add"
	TypePageAddFailed      = "page_add_failed"
	TypePageDiscard        = "page_discard"
	TypeReplayEvents       = "replay_events"
	TypeReplayEventsResult = "replay_events_result"
	TypeRealtimeSubscribe  = "realtime_subscribe"
	TypeRealtimeSubscribed = "realtime_subscribe_result"
	TypeForceDisconnect    = "force_disconnect"
	TypeForceRowsRefresh   = "force_view_rows_refresh"
	TypeForceViewRefresh   = "force_view_refresh"
)

// The error words of page_add_failed. They are stable: clients may switch
// on them.
const (
	ErrWordForbidden   = "forbidden"    // the socket may not add this page
	ErrWordNotFound    = "not_found"    // no such table, row or public view (or not visible to the socket)
	ErrWordInvalid     = "invalid"      // unknown page, missing or malformed parameters
	ErrWordRateLimited = "rate_limited" // too many messages: try again later
	ErrWordTooMany     = "too_many_pages"
	ErrWordUnavailable = "unavailable" // the server is shutting down or the store failed
)

// ReasonDisconnected is the reason of force_disconnect: an admin ended the
// user's connections (the server's other closes send no force_disconnect).
const ReasonDisconnected = "disconnected"

// pageError is why a page was refused: one of the error words.
type pageError struct{ word string }

func (e *pageError) Error() string { return "baserow: page refused: " + e.word }

var (
	errForbidden   = &pageError{ErrWordForbidden}
	errNotFound    = &pageError{ErrWordNotFound}
	errInvalid     = &pageError{ErrWordInvalid}
	errTooMany     = &pageError{ErrWordTooMany}
	errUnavailable = &pageError{ErrWordUnavailable}
)

// errorWord maps any error to the word the client is told; what is not a
// pageError is a failure of the server's own ("unavailable").
func errorWord(err error) string {
	var pe *pageError
	if errors.As(err, &pe) {
		return pe.word
	}
	return ErrWordUnavailable
}

// message is a client frame: a JSON object read key by key, so that only
// the keys a page lists are looked at and any other key is ignored.
type message map[string]json.RawMessage

// decodeMessage reads one client frame. Anything that is not a JSON object
// is not a message (nil).
func decodeMessage(payload []byte) message {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil
	}
	var m message
	if json.Unmarshal(payload, &m) != nil {
		return nil
	}
	return m
}

// str reads a string member; ok is false when it is absent, null or not a
// string.
func (m message) str(key string) (string, bool) {
	raw, found := m[key]
	if !found || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// present reports whether a key is there and not null.
func (m message) present(key string) bool {
	raw, ok := m[key]
	return ok && string(raw) != "null"
}

// maxID bounds ids read from clients (they are int64 in the store).
const maxID = 1<<53 - 1

// id reads a positive integer parameter: a JSON integer or a string of
// digits ("7" and 7 are both table 7, as Django reads them). ok is false
// for anything else.
func (m message) id(key string) (int64, bool) {
	raw, found := m[key]
	if !found || len(raw) == 0 {
		return 0, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = []byte(s)
	}
	if len(raw) == 0 || len(raw) > 16 || raw[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || n == 0 || n > maxID {
		return 0, false
	}
	return int64(n), true
}

// buf builds one server message. Messages are JSON objects written by
// hand: the hot ones (rows) are built once per event and shared, so
// their cost is the server's, once.
type buf struct{ b []byte }

func (w *buf) raw(s string)    { w.b = append(w.b, s...) }
func (w *buf) bytes(p []byte)  { w.b = append(w.b, p...) }
func (w *buf) int(n int64)     { w.b = strconv.AppendInt(w.b, n, 10) }
func (w *buf) uint(n uint64)   { w.b = strconv.AppendUint(w.b, n, 10) }
func (w *buf) str(s string)    { w.b = table.AppendJSONString(w.b, s) }
func (w *buf) bool(v bool)     { w.b = strconv.AppendBool(w.b, v) }
func (w *buf) key(k string)    { w.b = append(append(append(w.b, ',', '"'), k...), '"', ':') }
func (w *buf) open(typ string) { w.b = table.AppendJSONString(append(w.b, `{"type":`...), typ) }

// value writes v as JSON with encoding/json (schema shapes: rare).
func (w *buf) value(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.b = append(w.b, b...)
	return nil
}

// ids writes a JSON array of integers.
func (w *buf) ids(ids []int64) {
	w.b = append(w.b, '[')
	for i, id := range ids {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = strconv.AppendInt(w.b, id, 10)
	}
	w.b = append(w.b, ']')
}

// eventID closes an event message with its _event_id, the table stream's
// offset.
func (w *buf) eventID(offset uint64) {
	w.key("_event_id")
	w.uint(offset)
	w.b = append(w.b, '}')
}

// frame closes the message and returns it as a WebSocket text frame.
func (w *buf) frame() []byte { return transport.TextFrame(w.b) }

const hexDigits = "0123456789abcdef"

// authenticationFrame is the first message of every socket.
func authenticationFrame(success bool, webSocketID string) []byte {
	var w buf
	w.open(TypeAuthentication)
	w.key("success")
	w.bool(success)
	w.key("web_socket_id")
	if success {
		w.str(webSocketID)
	} else {
		w.raw("null")
	}
	w.raw("}")
	return w.frame()
}

// pageFrame is page_add, page_discard or page_add_failed (with an error
// word): the page's name (null when the client sent none) and its
// parameters as the page lists them.
func pageFrame(typ string, name *string, params []byte, word string) []byte {
	var w buf
	w.open(typ)
	w.key("page")
	if name == nil {
		w.raw("null")
	} else {
		w.str(*name)
	}
	w.key("parameters")
	w.bytes(params)
	if word != "" {
		w.key("error")
		w.str(word)
	}
	w.raw("}")
	return w.frame()
}

// replayResultFrame answers replay_events; latest < 0 is null.
func replayResultFrame(forceRefresh bool, latest int64) []byte {
	return replayAnswer(TypeReplayEventsResult, "force_refresh", forceRefresh, "latest_event_id", latest)
}

// realtimeSubscribeResultFrame answers realtime_subscribe: outdated when
// the missed events could not all be given (the client refetches), and
// the table stream's offset reached (null when unknown).
func realtimeSubscribeResultFrame(outdated bool, latest int64) []byte {
	return replayAnswer(TypeRealtimeSubscribed, "outdated", outdated, "current_latest_id", latest)
}

// replayAnswer is the shape both replay answers share: whether the client
// must refetch, and the latest event id (latest < 0 is null), under the
// names each request's answer uses.
func replayAnswer(typ, refetchKey string, refetch bool, latestKey string, latest int64) []byte {
	var w buf
	w.open(typ)
	w.key(refetchKey)
	w.bool(refetch)
	w.key(latestKey)
	if latest < 0 {
		w.raw("null")
	} else {
		w.int(latest)
	}
	w.raw("}")
	return w.frame()
}

func forceDisconnectFrame(reason string) []byte {
	var w buf
	w.open(TypeForceDisconnect)
	w.key("reason")
	w.str(reason)
	w.raw("}")
	return w.frame()
}
