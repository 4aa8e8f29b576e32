package json0

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tablecast/tablecast/internal/jsonscan"
)

// Decoding ops is on the path of every submit and of every op a client
// receives, so Op has its own UnmarshalJSON: the usual components (a path
// of keys and indexes, si/sd, oi/od/li/ld, lm, na, t) in the usual form
// are read in one pass; anything else (escapes in strings, text0's o,
// unknown members, duplicates, odd numbers) goes through Component's
// UnmarshalJSON, which is the reference: both give the same op for what
// the fast reader accepts (FuzzDecodeOp).

// UnmarshalJSON reads an op: a JSON array of components, or null (a nil
// op). Errors wrap ErrMalformed.
func (op *Op) UnmarshalJSON(data []byte) error {
	if out, ok := decodeOpFast(data); ok {
		*op = out
		return nil
	}
	t := bytes.TrimSpace(data)
	if bytes.Equal(t, []byte("null")) {
		*op = nil
		return nil
	}
	if len(t) == 0 || t[0] != '[' {
		return &Error{Component: -1, Err: ErrMalformed, Detail: "an op is a list of components"}
	}
	var comps []Component
	if err := json.Unmarshal(t, &comps); err != nil {
		return err
	}
	if comps == nil {
		comps = []Component{}
	}
	*op = comps
	return nil
}

func decodeOpFast(data []byte) (Op, bool) {
	sc := jsonscan.New(data)
	if !sc.Consume('[') {
		return nil, false
	}
	op := Op{}
	if sc.Consume(']') {
		return op, sc.End()
	}
	for {
		c, ok := component(sc)
		if !ok {
			return nil, false
		}
		op = append(op, c)
		if sc.Consume(',') {
			continue
		}
		if sc.Consume(']') {
			return op, sc.End()
		}
		return nil, false
	}
}

// index reads a path index or an lm: a whole number of at most 15 digits.
func index(sc *jsonscan.Scanner) (int, bool) {
	n, ok := sc.Uint(15)
	return int(n), ok
}

func float(sc *jsonscan.Scanner) (float64, bool) {
	tok, ok := sc.Number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	return f, err == nil
}

// value reads any JSON value as encoding/json decodes it into any.
func value(sc *jsonscan.Scanner) (any, bool) {
	c, ok := sc.Peek()
	switch {
	case !ok:
		return nil, false
	case c == '"':
		return sc.String()
	case c == '-' || (c >= '0' && c <= '9'):
		return float(sc)
	case c == '{' || c == '[':
		text, ok := sc.Skip()
		var v any
		return v, ok && json.Unmarshal(text, &v) == nil
	case sc.Literal("true"):
		return true, true
	case sc.Literal("false"):
		return false, true
	}
	return nil, sc.Literal("null")
}

// component reads one component object.
func component(sc *jsonscan.Scanner) (Component, bool) {
	var c Component
	if !sc.Consume('{') || sc.Consume('}') { // {}: no path
		return c, false
	}
	var seen uint16 // the members read, by their bit in memberBit
	for {
		key, ok := sc.String()
		bit := memberBit[key]
		if !ok || bit == 0 || seen&bit != 0 || !sc.Consume(':') {
			return c, false // o, members the reference ignores, duplicates
		}
		seen |= bit
		switch key {
		case "p":
			c.P, ok = path(sc)
		case "si", "sd":
			var s string
			if s, ok = sc.String(); key == "si" {
				c.SI = &s
			} else {
				c.SD = &s
			}
		case "oi", "od", "li", "ld":
			var v any
			v, ok = value(sc)
			dst := &c.OI
			switch key {
			case "od":
				dst = &c.OD
			case "li":
				dst = &c.LI
			case "ld":
				dst = &c.LD
			}
			*dst = Some(v)
		case "lm":
			var n int
			n, ok = index(sc)
			c.LM = &n
		case "na":
			var f float64
			f, ok = float(sc)
			c.NA = &f
		case "t":
			ok = false // t without o: left to the reference
		}
		if !ok {
			return c, false
		}
		if sc.Consume(',') {
			continue
		}
		return c, sc.Consume('}') && seen&memberBit["p"] != 0
	}
}

// memberBit numbers the members the fast reader takes.
var memberBit = map[string]uint16{"p": 1, "si": 2, "sd": 4, "oi": 8, "od": 16, "li": 32, "ld": 64, "lm": 128, "na": 256, "t": 512}

// path reads a path of keys and non-negative indexes.
func path(sc *jsonscan.Scanner) ([]any, bool) {
	if !sc.Consume('[') {
		return nil, false
	}
	p := make([]any, 0, 4)
	if sc.Consume(']') {
		return p, true
	}
	for {
		c, _ := sc.Peek()
		var elem any
		var ok bool
		if c == '"' {
			elem, ok = sc.String()
		} else {
			elem, ok = index(sc)
		}
		if !ok {
			return nil, false
		}
		p = append(p, elem)
		if sc.Consume(',') {
			continue
		}
		return p, sc.Consume(']')
	}
}
