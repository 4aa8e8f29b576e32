package jsonscan

import (
	"encoding/json"
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
