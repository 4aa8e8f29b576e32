package client

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// A client reads one envelope per server message, most of them ops, so
// Message has its own UnmarshalJSON: the envelope as the server writes it
// (string members without escapes, a whole-number offset, any data) is
// read in one pass, the data checked with json.Valid; anything else
// (escapes, an error member, unknown members) is decoded by encoding/json,
// which is the reference (FuzzMessageDecode).

// UnmarshalJSON reads a protocol envelope.
func (m *Message) UnmarshalJSON(data []byte) error {
	if fast, ok := decodeMessageFast(data); ok {
		*m = fast
		return nil
	}
	type plain Message // without this method
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*m = Message(p)
	return nil
}

type envReader struct {
	b []byte
	i int
}

func decodeMessageFast(data []byte) (Message, bool) {
	var m Message
	r := envReader{b: data}
	if !r.consume('{') {
		return m, false
	}
	if r.consume('}') {
		return m, r.end()
	}
	var seen uint8
	for {
		key, ok := r.str()
		if !ok || !r.consume(':') {
			return m, false
		}
		var bit uint8
		switch key {
		case "type":
			bit = 1
			m.Type, ok = r.str()
		case "id":
			bit = 2
			m.ID, ok = r.str()
		case "collection":
			bit = 4
			m.Collection, ok = r.str()
		case "document":
			bit = 8
			m.Document, ok = r.str()
		case "timestamp":
			bit = 16
			m.Timestamp, ok = r.str()
		case "offset":
			bit = 32
			var off uint64
			off, ok = r.uint()
			m.Offset = &off
		case "data":
			bit = 64
			m.Data, ok = r.raw()
		default: // error, and members encoding/json ignores
			return m, false
		}
		if !ok || seen&bit != 0 {
			return m, false
		}
		seen |= bit
		if r.consume(',') {
			continue
		}
		if r.consume('}') {
			return m, r.end()
		}
		return m, false
	}
}

func (r *envReader) ws() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\t' || r.b[r.i] == '\n' || r.b[r.i] == '\r') {
		r.i++
	}
}

func (r *envReader) consume(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *envReader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// str reads a string without escapes or control characters, in valid
// UTF-8.
func (r *envReader) str() (string, bool) {
	if !r.consume('"') {
		return "", false
	}
	start := r.i
	for ; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return string(s), utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// uint reads a whole number of at most 19 digits.
func (r *envReader) uint() (uint64, bool) {
	r.ws()
	start := r.i
	var n uint64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		n = n*10 + uint64(r.b[r.i]-'0')
		r.i++
	}
	d := r.i - start
	if d == 0 || d > 19 || (r.b[start] == '0' && d > 1) {
		return 0, false
	}
	if r.i < len(r.b) && (r.b[r.i] == '.' || r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		return 0, false
	}
	return n, true
}

// raw returns a copy of the JSON value at r.i, checked.
func (r *envReader) raw() (json.RawMessage, bool) {
	r.ws()
	if r.i >= len(r.b) {
		return nil, false
	}
	start := r.i
	switch c := r.b[r.i]; {
	case c == '{' || c == '[':
		depth := 0
	scan:
		for ; r.i < len(r.b); r.i++ {
			switch r.b[r.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					r.i++
					break scan
				}
			case '"':
				for r.i++; r.i < len(r.b) && r.b[r.i] != '"'; r.i++ {
					if r.b[r.i] == '\\' {
						r.i++
					}
				}
			}
		}
		if depth != 0 {
			return nil, false
		}
	case c == '"':
		for r.i++; r.i < len(r.b) && r.b[r.i] != '"'; r.i++ {
			if r.b[r.i] == '\\' {
				r.i++
			}
		}
		r.i++
	default: // a number or a literal: up to the next delimiter
		for r.i < len(r.b) && !bytes.ContainsRune([]byte(",}] \t\n\r"), rune(r.b[r.i])) {
			r.i++
		}
	}
	if r.i > len(r.b) {
		return nil, false
	}
	v := r.b[start:r.i]
	if !json.Valid(v) {
		return nil, false
	}
	return append(json.RawMessage(nil), v...), true
}
