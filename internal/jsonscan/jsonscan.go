// Package jsonscan reads the plain form of small JSON messages in one
// pass, for the decoders on hot paths (json0 ops, the Go client's
// envelopes) that take it and leave anything else to encoding/json.
//
// A Scanner never says "malformed": a false result means "not the plain
// form", and the caller decodes the ordinary way. What it accepts it reads
// exactly as encoding/json would: strings without escapes or control
// characters, in valid UTF-8; numbers as JSON writes them.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Scanner reads a JSON text from the start.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next byte that is not white space.
func (s *Scanner) Peek() (byte, bool) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, false
	}
	return s.b[s.i], true
}

// Consume reads c, the next byte that is not white space, if it is.
func (s *Scanner) Consume(c byte) bool {
	if p, ok := s.Peek(); ok && p == c {
		s.i++
		return true
	}
	return false
}

// Literal reads lit (true, false, null) if it comes next.
func (s *Scanner) Literal(lit string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.ws()
	return s.i == len(s.b)
}

// String reads a string without escapes or control characters, in valid
// UTF-8.
func (s *Scanner) String() (string, bool) {
	v, ok := s.plain()
	return string(v), ok
}

// Key reads an object member's name, a string in the form String reads,
// and the colon after it; the name is a view of the input, not a copy.
func (s *Scanner) Key() ([]byte, bool) {
	v, ok := s.plain()
	return v, ok && s.Consume(':')
}

// plain reads a string in the form String reads and returns its content,
// a view of the input.
func (s *Scanner) plain() ([]byte, bool) {
	if !s.Consume('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// Number reads a JSON number token.
func (s *Scanner) Number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if !s.digits(true) {
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits(false) {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits(false) {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

// digits reads one or more digits; an integer part has no leading zero.
func (s *Scanner) digits(integer bool) bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - start
	return n > 0 && !(integer && n > 1 && s.b[start] == '0')
}

// Uint reads a whole number of at most maxDigits digits (no sign,
// fraction or exponent).
func (s *Scanner) Uint(maxDigits int) (uint64, bool) {
	tok, ok := s.Number()
	if !ok || len(tok) > maxDigits {
		return 0, false
	}
	var n uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Skip reads the value that comes next, of any kind, and returns its text.
// It checks only where the value ends: callers check the text itself
// (json.Valid, json.Unmarshal).
func (s *Scanner) Skip() ([]byte, bool) {
	c, ok := s.Peek()
	if !ok {
		return nil, false
	}
	start := s.i
	switch {
	case c == '{' || c == '[':
		depth := 0
		for ; s.i < len(s.b); s.i++ {
			switch s.b[s.i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.i++
					return s.b[start:s.i], true
				}
			case '"':
				if !s.skipString() {
					return nil, false
				}
			}
		}
		return nil, false
	case c == '"':
		if !s.skipString() {
			return nil, false
		}
		s.i++
		return s.b[start:s.i], true
	}
	for s.i < len(s.b) && bytes.IndexByte([]byte(",}] \t\n\r"), s.b[s.i]) < 0 {
		s.i++
	}
	return s.b[start:s.i], s.i > start
}

// skipString moves from a string's opening quote to its closing one.
func (s *Scanner) skipString() bool {
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			return true
		}
	}
	return false
}

// AppendString appends s as json.Marshal writes it: in quotes as it is
// when Verbatim (the names, ids and orders of the hot paths), else through
// json.Marshal.
func AppendString(b []byte, s string) []byte {
	if Verbatim(s) {
		return append(append(append(b, '"'), s...), '"')
	}
	j, _ := json.Marshal(s) // a string always encodes
	return append(b, j...)
}

// Verbatim reports that json.Marshal writes s as it is, in quotes: s is
// printable ASCII without the characters it escapes (" \ < > &). It is
// false for some strings json.Marshal writes as they are too (any
// non-ASCII): callers then write them through json.Marshal.
func Verbatim(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// RawVerbatim reports that json.Marshal writes raw, a JSON text held in
// a json.RawMessage, as it is: raw has no white space outside strings and
// none of the characters json.Marshal escapes there (< > & U+2028
// U+2029), as json.Marshal's own output has not.
func RawVerbatim(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'),
			c == '<' || c == '>' || c == '&',
			c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return false
		}
	}
	return true
}
