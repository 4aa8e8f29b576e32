package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		in   string
		read func(s *Scanner) (string, bool)
		want string
		ok   bool
	}{
		{` "abc" `, str, "abc", true},
		{`"é"`, str, "é", true},
		{`"a\"b"`, str, "", false},
		{"\"a\nb\"", str, "", false},
		{"\"\xff\"", str, "", false},
		{`"abc`, str, "", false},
		{`-12.5e+3`, num, "-12.5e+3", true},
		{`0`, num, "0", true},
		{`01`, num, "", false},
		{`1.`, num, "", false},
		{`-`, num, "", false},
		{`1e`, num, "", false},
		{`{"a":[1,"]}"],"b":{}}`, skip, `{"a":[1,"]}"],"b":{}}`, true},
		{`["\\"]`, skip, `["\\"]`, true},
		{`[1,2`, skip, "", false},
		{`"x\"y"`, skip, `"x\"y"`, true},
		{`true,`, skip, "true", true},
		{`12345`, uint5, "12345", true},
		{`123456`, uint5, "", false},
		{`-1`, uint5, "", false},
		{`1.5`, uint5, "", false},
		{` "name" : 1`, key, "name", true},
		{`"name" 1`, key, "", false},
		{`"na\"me":1`, key, "", false},
		{`"na`, key, "", false},
	} {
		got, ok := tc.read(New([]byte(tc.in)))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%q: %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	s := New([]byte(` [ true , null ] `))
	if !s.Consume('[') || !s.Literal("true") || !s.Consume(',') || s.Literal("true") || !s.Literal("null") || !s.Consume(']') || !s.End() {
		t.Error("literals and punctuation")
	}
}

func str(s *Scanner) (string, bool) { return s.String() }

func key(s *Scanner) (string, bool) {
	b, ok := s.Key()
	return string(b), ok
}

func num(s *Scanner) (string, bool) {
	b, ok := s.Number()
	return string(b), ok && s.End()
}

func skip(s *Scanner) (string, bool) {
	b, ok := s.Skip()
	return string(b), ok
}

func uint5(s *Scanner) (string, bool) {
	n, ok := s.Uint(5)
	b, _ := json.Marshal(n)
	return string(b), ok && s.End()
}

// Verbatim and RawVerbatim say true only where json.Marshal writes its
// input as it is, and do for the common forms.
func TestVerbatim(t *testing.T) {
	for _, s := range []string{"", "abc", "record_12", "2026-12-07T01:02:03.000Z", "a b", "a<b", "a>b", "a&b", `a"b`, `a\b`,
		"a\nb", "é", "\x7f", "\x00", "\u2028"} {
		b, _ := json.Marshal(s)
		same := string(b) == `"`+s+`"`
		ascii := !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x7f })
		if got := Verbatim(s); (got && !same) || (!got && same && ascii) {
			t.Errorf("Verbatim(%q) = %v, json.Marshal writes %s", s, got, b)
		}
	}
	for _, raw := range []string{`[]`, `{"a":1}`, `[{"p":["fields","5",0],"si":"a b"}]`, `[ 1]`, `{"a" :1}`, "[1,\n2]",
		`["<"]`, `["\u003c"]`, `["a\"b c"]`, "[\"\u2028\"]", `"&"`, `"é"`, `{"a":"\\"}`, `{"a":"\\ "}`} {
		b, err := json.Marshal(json.RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, same := RawVerbatim([]byte(raw)), string(b) == raw; got != same {
			t.Errorf("RawVerbatim(%s) = %v, json.Marshal writes %s", raw, got, b)
		}
	}
}

// AppendString writes what json.Marshal writes, on the fast path and off it.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "record_12", "0.5", `a"b`, `a\b`, "<&>", "é", "\u2028", "\x00", "\xff"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	}
}
