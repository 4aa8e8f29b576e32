package json0

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
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

// opReader reads the simple form of an op; ok false means "not simple",
// never "malformed": the caller then decodes the ordinary way.
type opReader struct {
	b []byte
	i int
}

func decodeOpFast(data []byte) (Op, bool) {
	r := opReader{b: data}
	if !r.consume('[') {
		return nil, false
	}
	op := Op{}
	if r.consume(']') {
		return op, r.end()
	}
	for {
		c, ok := r.component()
		if !ok {
			return nil, false
		}
		op = append(op, c)
		if r.consume(',') {
			continue
		}
		if r.consume(']') {
			return op, r.end()
		}
		return nil, false
	}
}

func (r *opReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *opReader) consume(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *opReader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// str reads a string without escapes or control characters, in valid
// UTF-8 (encoding/json would change invalid bytes).
func (r *opReader) str() (string, bool) {
	if !r.consume('"') {
		return "", false
	}
	start := r.i
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return string(s), utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return "", false
		}
		r.i++
	}
	return "", false
}

// number reads a JSON number token.
func (r *opReader) number() ([]byte, bool) {
	r.ws()
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	digits := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	if r.i == digits || (r.b[digits] == '0' && r.i-digits > 1) {
		return nil, false
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		frac := r.i
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
		}
		if r.i == frac {
			return nil, false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		exp := r.i
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
		}
		if r.i == exp {
			return nil, false
		}
	}
	return r.b[start:r.i], true
}

// index reads a non-negative integer of at most 15 digits.
func (r *opReader) index() (int, bool) {
	tok, ok := r.number()
	if !ok || len(tok) > 15 || tok[0] == '-' {
		return 0, false
	}
	n := 0
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (r *opReader) float() (float64, bool) {
	tok, ok := r.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	return f, err == nil
}

// value reads any JSON value as encoding/json decodes it into any.
func (r *opReader) value() (any, bool) {
	r.ws()
	if r.i >= len(r.b) {
		return nil, false
	}
	switch c := r.b[r.i]; {
	case c == '"':
		return r.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.float()
	case c == '{' || c == '[':
		end, ok := r.skipNested()
		if !ok {
			return nil, false
		}
		var v any
		if json.Unmarshal(r.b[r.i:end], &v) != nil {
			return nil, false
		}
		r.i = end
		return v, true
	}
	for _, lit := range []struct {
		s string
		v any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if bytes.HasPrefix(r.b[r.i:], []byte(lit.s)) {
			r.i += len(lit.s)
			return lit.v, true
		}
	}
	return nil, false
}

// skipNested returns the end of the object or array at r.i, minding
// strings; encoding/json checks what is inside.
func (r *opReader) skipNested() (int, bool) {
	depth := 0
	for i := r.i; i < len(r.b); i++ {
		switch r.b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"':
			for i++; i < len(r.b) && r.b[i] != '"'; i++ {
				if r.b[i] == '\\' {
					i++
				}
			}
		}
	}
	return 0, false
}

// component reads one component object.
func (r *opReader) component() (Component, bool) {
	var c Component
	if !r.consume('{') {
		return c, false
	}
	var seen uint16 // the members read, by their bit in memberBit
	for first := true; ; first = false {
		if first && r.consume('}') {
			return c, false // no path
		}
		key, ok := r.str()
		bit := memberBit[key]
		if !ok || bit == 0 || seen&bit != 0 || !r.consume(':') {
			return c, false // o, members the reference ignores, duplicates
		}
		seen |= bit
		switch key {
		case "p":
			if c.P, ok = r.path(); !ok {
				return c, false
			}
		case "si", "sd":
			s, ok := r.str()
			if !ok {
				return c, false
			}
			if key == "si" {
				c.SI = &s
			} else {
				c.SD = &s
			}
		case "oi", "od", "li", "ld":
			v, ok := r.value()
			if !ok {
				return c, false
			}
			switch key {
			case "oi":
				c.OI = Some(v)
			case "od":
				c.OD = Some(v)
			case "li":
				c.LI = Some(v)
			default:
				c.LD = Some(v)
			}
		case "lm":
			n, ok := r.index()
			if !ok {
				return c, false
			}
			c.LM = &n
		case "na":
			f, ok := r.float()
			if !ok {
				return c, false
			}
			c.NA = &f
		case "t":
			// t without o: left to the reference.
			return c, false
		}
		if r.consume(',') {
			continue
		}
		if r.consume('}') {
			return c, seen&memberBit["p"] != 0
		}
		return c, false
	}
}

// memberBit numbers the members the fast reader takes.
var memberBit = map[string]uint16{"p": 1, "si": 2, "sd": 4, "oi": 8, "od": 16, "li": 32, "ld": 64, "lm": 128, "na": 256, "t": 512}

// path reads a path of keys and non-negative indexes.
func (r *opReader) path() ([]any, bool) {
	if !r.consume('[') {
		return nil, false
	}
	p := make([]any, 0, 4)
	if r.consume(']') {
		return p, true
	}
	for {
		r.ws()
		if r.i >= len(r.b) {
			return nil, false
		}
		if r.b[r.i] == '"' {
			s, ok := r.str()
			if !ok {
				return nil, false
			}
			p = append(p, s)
		} else {
			n, ok := r.index()
			if !ok {
				return nil, false
			}
			p = append(p, n)
		}
		if r.consume(',') {
			continue
		}
		if r.consume(']') {
			return p, true
		}
		return nil, false
	}
}
