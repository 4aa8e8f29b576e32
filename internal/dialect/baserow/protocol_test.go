package baserow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMessageID(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`7`, 7, true}, {`"7"`, 7, true}, {`9007199254740991`, 9007199254740991, true},
		{`9007199254740992`, 0, false}, {`0`, 0, false}, {`-1`, 0, false}, {`07`, 0, false}, {`1.5`, 0, false},
		{`1e3`, 0, false}, {`true`, 0, false}, {`null`, 0, false}, {`"abc"`, 0, false}, {`""`, 0, false},
		{`[1]`, 0, false}, {`{"a":1}`, 0, false}, {`" 7"`, 0, false}, {`"+7"`, 0, false}, {`"1_0"`, 0, false},
	}
	for _, tt := range tests {
		m := decodeMessage([]byte(`{"x":` + tt.raw + `}`))
		got, ok := m.id("x")
		if got != tt.want || ok != tt.ok {
			t.Errorf("id(%s) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := decodeMessage([]byte(`{}`)).id("x"); ok {
		t.Error("a missing id was read")
	}
}

func TestDecodeMessage(t *testing.T) {
	for _, junk := range []string{``, ` `, `[]`, `"x"`, `7`, `null`, `{`, `{"a":}`, `{"a":1}x`} {
		if m := decodeMessage([]byte(junk)); m != nil {
			t.Errorf("decodeMessage(%q) = %v; want nil", junk, m)
		}
	}
	if m := decodeMessage([]byte(` {"page":"table","table_id":1}`)); m == nil || messageKind(m) != "page_add" {
		t.Errorf("a page message: %v", m)
	}
}

// TestPageParse: each page reads only its keys, echoes what it read (or
// what was sent, or null), and refuses unusable parameters.
func TestPageParse(t *testing.T) {
	tests := []struct {
		page, msg string
		ok        bool
		echo, key string
	}{
		{"table", `{"table_id":3}`, true, `{"table_id":3}`, "table:3"},
		{"table", `{"table_id":"3","row_id":9,"slug":"x"}`, true, `{"table_id":3}`, "table:3"},
		{"table", `{}`, false, `{"table_id":null}`, ""},
		{"table", `{"table_id":{"a":1}}`, false, `{"table_id":{"a":1}}`, ""},
		{"row", `{"table_id":3,"row_id":4}`, true, `{"table_id":3,"row_id":4}`, "row:3/4"},
		{"row", `{"table_id":3}`, false, `{"table_id":3,"row_id":null}`, ""},
		{"view", `{"slug":"abc-_9"}`, true, `{"slug":"abc-_9","token":null}`, "view:abc-_9"},
		{"view", `{"slug":"abc","token":"t.k"}`, true, `{"slug":"abc","token":"t.k"}`, "view:abc"},
		{"view", `{"slug":"abc","token":null}`, true, `{"slug":"abc","token":null}`, "view:abc"},
		{"view", `{"slug":"abc","token":1}`, false, `{"slug":"abc","token":1}`, ""},
		{"view", `{"slug":"a b"}`, false, `{"slug":"a b","token":null}`, ""},
		{"view", `{"slug":""}`, false, `{"slug":"","token":null}`, ""},
	}
	for _, tt := range tests {
		typ := pageTypes[tt.page]
		p := &page{typ: typ}
		ok := typ.parse(decodeMessage([]byte(tt.msg)), p)
		if ok != tt.ok || string(p.echo) != tt.echo || (ok && p.key != tt.key) {
			t.Errorf("%s %s: ok %v echo %s key %q; want %v %s %q", tt.page, tt.msg, ok, p.echo, p.key, tt.ok, tt.echo, tt.key)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := newUUID()
		if err != nil || !validUUID(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("newUUID() = %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f", "0f1e2d3c_4b5a-4978-8695-a4b3c2d1e0f9", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fg"} {
		if validUUID(bad) {
			t.Errorf("validUUID(%q)", bad)
		}
	}
}

func TestCollections(t *testing.T) {
	for col, want := range map[string]string{"br/table/7": "table:7", "br/row/7": "table:7", "br/view/12": "table:12"} {
		if got, ok := StreamOf(col); !ok || got != want {
			t.Errorf("StreamOf(%q) = %q, %v; want %q", col, got, ok, want)
		}
	}
	for _, col := range []string{"record_7", "br/table/", "br/table/07", "br/table/-1", "br/cell/7", "br/table/7/x", "br", "table:7"} {
		if _, ok := StreamOf(col); ok {
			t.Errorf("StreamOf(%q) is a stream", col)
		}
	}
}

// FuzzClientMessage: no client frame makes the parsing panic, and every
// echo of parameters is a JSON object.
func FuzzClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"page":"table","table_id":1}`, `{"page":"row","table_id":"1","row_id":2}`, `{"page":"view","slug":"s","token":null}`,
		`{"remove_page":"table","table_id":1}`, `{"type":"replay_events","last_seen_id":3}`, `{"page":7}`, `[`, `{"table_id":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := decodeMessage(b)
		_ = messageKind(m)
		if m == nil {
			return
		}
		_, _ = m.id("last_seen_id")
		for _, typ := range pageTypes {
			p := &page{typ: typ}
			typ.parse(m, p)
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(p.echo, &obj); err != nil {
				t.Fatalf("%s echo %q of %q is not a JSON object: %v", typ.name(), p.echo, b, err)
			}
		}
	})
}
