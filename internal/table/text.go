package table

import (
	"bytes"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Text matching works on stored JSON strings as they are, decoding escapes on
// the fly, so that a match does not allocate. Case-insensitive means Unicode
// simple case folding: every rune is replaced by the smallest rune of its
// folding orbit (so "a", "A" both become "A", and the Kelvin sign becomes
// "K"), the same equivalence as strings.EqualFold.

// foldRune returns the canonical member of r's case-folding orbit.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < least {
			least = f
		}
	}
	return least
}

// foldString folds s (compile time; it allocates).
func foldString(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = utf8.AppendRune(b, foldRune(r))
	}
	return string(b)
}

// jsonBody returns the text between the quotes of a JSON string literal.
func jsonBody(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// nextRune decodes the rune at b[i:] of a JSON string body and returns it
// with the number of bytes it took. A broken escape or byte is U+FFFD.
func nextRune(b []byte, i int) (rune, int) {
	c := b[i]
	if c < utf8.RuneSelf && c != '\\' {
		return rune(c), 1
	}
	if c != '\\' {
		return utf8.DecodeRune(b[i:])
	}
	if i+1 >= len(b) {
		return utf8.RuneError, 1
	}
	switch b[i+1] {
	case '"', '\\', '/':
		return rune(b[i+1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return utf8.RuneError, 2
		}
		if utf16.IsSurrogate(r) {
			if r2, ok := hex4(b, i+8); ok && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 12
				}
			}
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return utf8.RuneError, 2
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendFold decodes a JSON string body and appends it folded to dst.
func appendFold(dst, body []byte) []byte {
	for i := 0; i < len(body); {
		r, n := nextRune(body, i)
		i += n
		dst = utf8.AppendRune(dst, foldRune(r))
	}
	return dst
}

// isASCIIPlain reports whether a JSON string body is ASCII without escapes,
// so that its bytes are its characters.
func isASCIIPlain(body []byte) bool {
	for _, c := range body {
		if c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

// bigFold holds the buffers for folding long values, which do not fit the
// stack buffer of a match.
var bigFold = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const stackFold = 256

// containsFold reports whether the JSON string body contains needle, which is
// folded and not empty.
func containsFold(body, needle []byte) bool {
	if isASCIIPlain(body) {
		return indexFoldASCII(body, needle)
	}
	if len(body) <= stackFold {
		var buf [stackFold * 2]byte
		return bytes.Contains(appendFold(buf[:0], body), needle)
	}
	p := bigFold.Get().(*[]byte)
	folded := appendFold((*p)[:0], body)
	found := bytes.Contains(folded, needle)
	*p = folded[:0]
	bigFold.Put(p)
	return found
}

// indexFoldASCII reports whether the ASCII text hay contains the folded
// needle. A needle with a non-ASCII rune cannot be in it.
func indexFoldASCII(hay, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	for i := 0; i < n; i++ {
		if needle[i] >= utf8.RuneSelf {
			return false
		}
	}
	if n > len(hay) {
		return false
	}
	first := needle[0]
	for i := 0; i+n <= len(hay); i++ {
		if upper(hay[i]) != first {
			continue
		}
		j := 1
		for j < n && upper(hay[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// equalFoldTrim reports whether the JSON string body, without surrounding
// white space, equals needle, which is folded and trimmed.
func equalFoldTrim(body, needle []byte) bool {
	if isASCIIPlain(body) {
		body = bytes.TrimSpace(body)
		if len(body) != len(needle) {
			return false
		}
		for i := range body {
			if upper(body[i]) != needle[i] {
				return false
			}
		}
		return true
	}
	if len(body) <= stackFold {
		var buf [stackFold * 2]byte
		return bytes.Equal(bytes.TrimSpace(appendFold(buf[:0], body)), needle)
	}
	p := bigFold.Get().(*[]byte)
	folded := appendFold((*p)[:0], body)
	eq := bytes.Equal(bytes.TrimSpace(folded), needle)
	*p = folded[:0]
	bigFold.Put(p)
	return eq
}

// isBlank reports whether a JSON string body is empty or only white space.
func isBlank(body []byte) bool {
	for i := 0; i < len(body); {
		r, n := nextRune(body, i)
		if !unicode.IsSpace(r) {
			return false
		}
		i += n
	}
	return true
}

// cmpFold compares two JSON string bodies by their folded runes.
func cmpFold(a, b []byte) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ra, na := nextRune(a, i)
		rb, nb := nextRune(b, j)
		if fa, fb := foldRune(ra), foldRune(rb); fa != fb {
			if fa < fb {
				return -1
			}
			return 1
		}
		i += na
		j += nb
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

// AppendJSONString appends s as a JSON string literal. Unlike encoding/json
// it does not escape <, > and &, so stored text stays readable and most
// values have no escapes at all. U+2028 and U+2029 are escaped (the text
// is also valid JavaScript); invalid UTF-8 becomes U+FFFD, as encoding/json
// does.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i += n
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' { // kept out of JavaScript sources
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
				i += n
				start = i
				continue
			}
			i += n
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
