package hub

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		channel  string
		col, doc string
		ok       bool
	}{
		{"news", "news", "", true},
		{"record_12.rec1", "record_12", "rec1", true},
		{"a:b-c_D9", "a:b-c_D9", "", true},
		{"", "", "", false},
		{"news.", "", "", false},
		{".doc", "", "", false},
		{"news.a.b", "", "", false}, // '.' is not in a document name
		{"new s", "", "", false},
		{"néws", "", "", false},
		{strings.Repeat("x", 128), strings.Repeat("x", 128), "", true},
		{strings.Repeat("x", 129), "", "", false},
		{"c." + strings.Repeat("d", 129), "", "", false},
	} {
		col, doc, ok := SplitChannel(tt.channel)
		if ok != tt.ok || col != tt.col || doc != tt.doc {
			t.Errorf("SplitChannel(%.20q) = %q, %q, %v; want %q, %q, %v", tt.channel, col, doc, ok, tt.col, tt.doc, tt.ok)
		}
	}
}
