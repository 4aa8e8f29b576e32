package client

import (
	"encoding/json"

	"github.com/tablecast/tablecast/internal/jsonscan"
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

func decodeMessageFast(data []byte) (Message, bool) {
	var m Message
	sc := jsonscan.New(data)
	if !sc.Consume('{') {
		return m, false
	}
	if sc.Consume('}') {
		return m, sc.End()
	}
	var seen uint8
	for {
		key, ok := sc.String()
		if !ok || !sc.Consume(':') {
			return m, false
		}
		var bit uint8
		switch key {
		case "type":
			bit = 1
			m.Type, ok = sc.String()
		case "id":
			bit = 2
			m.ID, ok = sc.String()
		case "collection":
			bit = 4
			m.Collection, ok = sc.String()
		case "document":
			bit = 8
			m.Document, ok = sc.String()
		case "timestamp":
			bit = 16
			m.Timestamp, ok = sc.String()
		case "offset":
			bit = 32
			var off uint64
			off, ok = sc.Uint(19)
			m.Offset = &off
		case "data":
			bit = 64
			var text []byte
			text, ok = sc.Skip()
			ok = ok && json.Valid(text)
			m.Data = append(json.RawMessage(nil), text...)
		default: // error, and members encoding/json ignores
			return m, false
		}
		if !ok || seen&bit != 0 {
			return m, false
		}
		seen |= bit
		if sc.Consume(',') {
			continue
		}
		return m, sc.Consume('}') && sc.End()
	}
}
