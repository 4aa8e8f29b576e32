package table

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f", "é ü 中文 🎉",
		"line\u2028sep\u2029", "bad \xff utf8 \xc3", "<script>&", strings.Repeat("x", 1000),
	} {
		b := AppendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Errorf("%q: decodes to %q; want %q", s, got, want)
		}
		if strings.ContainsRune(string(b), '\u2028') || strings.ContainsRune(string(b), '\u2029') {
			t.Errorf("%q: U+2028/2029 not escaped: %s", s, b)
		}
		if !utf8.Valid(b) {
			t.Errorf("%q: not valid UTF-8: %q", s, b)
		}
	}
}
