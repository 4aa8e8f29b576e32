package event

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tablecast/tablecast/internal/jsonscan"
)

// Reading the head of an event's payload: who made the change (ActorOrigin),
// the submit that made it (Submit) and a submit's document change
// (DocChanges). Every publication of an event reads them (once, see
// memo.go), so they are read
// first with jsonscan, in one pass and without copies, when the head is in
// its plain form (names and strings without escapes), as the payloads the
// service writes are. Anything else is read again through encoding/json,
// which gives the same answer. Payloads are JSON (the store checks them
// when they are appended): the scan only finds where values end.

// head walks the members of a payload's object.
type head struct {
	*jsonscan.Scanner
	first bool
}

func newHead(data []byte) (*head, bool) {
	return enter(jsonscan.New(data))
}

// enter starts walking the object that comes next in s.
func enter(s *jsonscan.Scanner) (*head, bool) {
	return &head{Scanner: s, first: true}, s.Consume('{')
}

// next reads the next member's name; done is true at the object's end.
func (h *head) next() (key []byte, done, ok bool) {
	if h.Consume('}') {
		return nil, true, true
	}
	if !h.first && !h.Consume(',') {
		return nil, false, false
	}
	h.first = false
	key, ok = h.Key()
	return key, false, ok
}

// structured reports whether the value that comes next is an object or a
// list.
func (h *head) structured() bool {
	c, _ := h.Peek()
	return c == '{' || c == '['
}

// int reads a number that encoding/json decodes into an int64.
func (h *head) int() (int64, bool) {
	tok, ok := h.Number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// ActorOrigin reads the actor and the origin of an event's payload. They
// lead every payload (TableMeta and WorkspaceMeta come first, with scalar
// members only), so the scan stops at the first member that is an object
// or a list: a payload with a thousand rows is not read through for them.
func ActorOrigin(payload []byte) (actor, origin string) {
	if actor, origin, ok := scanActorOrigin(payload); ok {
		return actor, origin
	}
	return decodeActorOrigin(payload)
}

// decodeActorOrigin is ActorOrigin through encoding/json.
func decodeActorOrigin(payload []byte) (actor, origin string) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return actor, origin
		}
		key, _ := t.(string)
		v, err := dec.Token()
		if err != nil {
			return actor, origin
		}
		if _, structured := v.(json.Delim); structured {
			return actor, origin
		}
		s, _ := v.(string)
		switch key {
		case "actor":
			actor = s
		case "origin":
			origin = s
		}
	}
	return actor, origin
}

func scanActorOrigin(payload []byte) (actor, origin string, ok bool) {
	h, ok := newHead(payload)
	if !ok {
		return "", "", false
	}
	for {
		key, done, ok := h.next()
		switch {
		case !ok:
			return "", "", false
		case done || h.structured():
			return actor, origin, true
		}
		// A value that is not a string reads as "", as the decoder's
		// token asserted to a string does.
		var s string
		if c, _ := h.Peek(); c == '"' {
			s, ok = h.String()
		} else {
			_, ok = h.Skip()
		}
		if !ok {
			return "", "", false
		}
		switch string(key) {
		case "actor":
			actor = s
		case "origin":
			origin = s
		}
	}
}

// scanSubmit is Submit in the plain form; ok is false when the payload's
// head is not in it.
func scanSubmit(payload []byte) (m SubmitMeta, ok bool) {
	h, ok := newHead(payload)
	if !ok {
		return m, false
	}
	for {
		key, done, ok := h.next()
		switch {
		case !ok:
			return SubmitMeta{}, false
		case done:
			return m, true
		case string(key) == "reply":
			r, ok := scanReply(h)
			if !ok {
				return SubmitMeta{}, false
			}
			m.Reply = r
			return m, true
		case h.structured():
			return m, true
		}
		c, _ := h.Peek()
		switch {
		case string(key) == "src" && c == '"':
			m.Src, ok = h.String()
		case string(key) == "seq" && (c == '-' || (c >= '0' && c <= '9')):
			var tok []byte
			if tok, ok = h.Number(); ok {
				if u, err := strconv.ParseUint(string(tok), 10, 64); err == nil {
					m.Seq = u
				}
			}
		default:
			_, ok = h.Skip()
			if string(key) == "src" {
				m.Src = ""
			}
		}
		if !ok {
			return SubmitMeta{}, false
		}
	}
}

// scanReply reads a reply object with the members c, d and t only, as
// the service writes it.
func scanReply(h *head) (*SubmitReply, bool) {
	o, ok := enter(h.Scanner)
	if !ok {
		return nil, false
	}
	r := &SubmitReply{}
	for {
		key, done, ok := o.next()
		switch {
		case !ok:
			return nil, false
		case done:
			return r, true
		}
		switch string(key) {
		case "c":
			r.Collection, ok = o.String()
		case "d":
			r.Doc, ok = o.int()
		case "t":
			r.Tag, ok = o.String()
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
}

// scanSubmitChange is submitChange in the plain form: done is false when
// the payload's head is not in it; otherwise ok is submitChange's.
func scanSubmitChange(data []byte) (ch DocChange, ok, done bool) {
	h, ok := newHead(data)
	if !ok {
		return DocChange{}, false, false
	}
	var tableID int64
	var op []byte
	for {
		key, end, ok := h.next()
		switch {
		case !ok:
			return DocChange{}, false, false
		case end:
			return DocChange{}, false, true
		}
		switch k := string(key); k {
		case "table_id":
			if tableID, ok = h.int(); !ok {
				return DocChange{}, false, false
			}
		case "op":
			if c, _ := h.Peek(); c == 'n' {
				return DocChange{}, false, false
			}
			if op, ok = h.Skip(); !ok {
				return DocChange{}, false, false
			}
		case "row", "rows":
			if op == nil || tableID <= 0 {
				return DocChange{}, false, true
			}
			if k == "rows" && !h.Consume('[') {
				return DocChange{}, false, false
			}
			id, version, ok := scanRowID(h)
			if !ok {
				return DocChange{}, false, false
			}
			return DocChange{Collection: RecordCollection(tableID), DocID: id, V: version - 1, HasV: version > 0, Op: op}, true, true
		default:
			if _, ok := h.Skip(); !ok {
				return DocChange{}, false, false
			}
		}
	}
}

// scanRowID reads the id and the version that lead a row object.
func scanRowID(h *head) (id, version int64, ok bool) {
	o, ok := enter(h.Scanner)
	if !ok {
		return 0, 0, false
	}
	var haveID, haveV bool
	for !haveID || !haveV {
		key, done, ok := o.next()
		if !ok || done {
			return 0, 0, false
		}
		switch string(key) {
		case "id":
			id, ok = o.int()
			haveID = true
		case "version":
			version, ok = o.int()
			haveV = true
		default:
			_, ok = o.Skip()
		}
		if !ok {
			return 0, 0, false
		}
	}
	return id, version, true
}
