package sharedb

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
)

func TestParseCollection(t *testing.T) {
	for _, tc := range []struct {
		name, canonical, stream string
		ok                      bool
	}{
		{"record_5", "record_5", "table:5", true},
		{"rec_5", "record_5", "table:5", true},
		{"fld_12", "field_12", "table:12", true},
		{"viw_3", "view_3", "table:3", true},
		{"view_3", "view_3", "table:3", true},
		{"tbl_2", "table_2", "workspace:2", true},
		{"table_2", "table_2", "workspace:2", true},
		{"record_0", "", "", false},
		{"record_05", "", "", false},
		{"record_-5", "", "", false},
		{"record_", "", "", false},
		{"record", "", "", false},
		{"notes_5", "", "", false},
		{"publicview_abc", "", "", false},
		{"record_99999999999999999999", "", "", false},
	} {
		c, ok := parseCollection(tc.name)
		if ok != tc.ok || (ok && (c.canonical != tc.canonical || c.stream() != tc.stream || c.name != tc.name)) {
			t.Errorf("parseCollection(%q) = %+v, %v; want %q %q %v", tc.name, c, ok, tc.canonical, tc.stream, tc.ok)
		}
		if st, ok := StreamOf(docsPrefix + tc.name); ok != tc.ok || st != tc.stream {
			t.Errorf("StreamOf(sdb/%s) = %q, %v", tc.name, st, ok)
		}
	}
	for _, tc := range []struct{ hub, want string }{
		{"sdb/rec_5", "record_5"},
		{"sdb/tbl_2", "table_2"},
		{"sdbp/__col_cell_user_7", "record_7"},
		{"sdbp/news", ""},
		{"record_5", ""}, // a native collection: not this dialect's
		{"br/table/5", ""},
	} {
		if got, ok := StoreCollectionOf(tc.hub); got != tc.want || ok != (tc.want != "") {
			t.Errorf("StoreCollectionOf(%q) = %q, %v; want %q", tc.hub, got, ok, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		wantErr string // "" for none; else a substring
		echo    bool   // an inbound is returned to echo
	}{
		{`{"a":"pp"}`, "", true},
		{`  {"a":"f","c":"rec_1","d":"2","v":null}`, "", true},
		{`[]`, "JSON object", false},
		{`"pp"`, "JSON object", false},
		{``, "JSON object", false},
		{`{"a":`, "JSON object", false},
		{`{"a":1}`, "invalid a", true},
		{`{"a":"f","c":{}}`, "invalid c", true},
		{`{"a":"op","seq":"1"}`, "invalid seq", true},
		{`{"a":"p","pv":"0"}`, "invalid pv", true},
	} {
		in, err := decode([]byte(tc.msg))
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("decode(%s): %v; want %q", tc.msg, err, tc.wantErr)
		}
		if (in != nil) != tc.echo {
			t.Errorf("decode(%s): inbound %v; want one: %v", tc.msg, in, tc.echo)
		}
	}
}

func TestVersionAndQueryID(t *testing.T) {
	for raw, want := range map[string]int64{`3`: 3, `0`: 0, `null`: -1, ``: -1} {
		v, ok, err := version(json.RawMessage(raw), "v")
		if err != nil || (ok && v != want) || (!ok && want != -1) {
			t.Errorf("version(%q) = %d, %v, %v", raw, v, ok, err)
		}
	}
	for _, raw := range []string{`-1`, `1.5`, `"1"`, `1e300`, `{}`} {
		if _, _, err := version(json.RawMessage(raw), "v"); err == nil {
			t.Errorf("version(%q): no error", raw)
		}
	}
	if id, err := queryID(json.RawMessage(`12`)); err != nil || id != "12" {
		t.Errorf("queryID(12) = %q, %v", id, err)
	}
	for _, raw := range []string{``, `null`, `"1"`, `1.5`} {
		if _, err := queryID(json.RawMessage(raw)); err == nil {
			t.Errorf("queryID(%q): no error", raw)
		}
	}
}

// TestErrorReply: the request is echoed with error, as ShareDB's agent
// does; an "error" the client sent is replaced.
func TestErrorReply(t *testing.T) {
	in, err := decode([]byte(`{"a":"op","c":"rec_1","d":"2","v":3,"seq":4,"op":[],"error":"mine"}`))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(frameBody(t, errorReply(in, errorf(CodeSubmitRejected, "no"))), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "op", "c": "rec_1", "d": "2", "v": 3.0, "seq": 4.0, "op": []any{},
		"error": map[string]any{"code": CodeSubmitRejected, "message": "no"}}
	if !json0.Equal(got, want) {
		t.Errorf("errorReply = %v; want %v", got, want)
	}
	if b := frameBody(t, errorReply(nil, errNotObject)); string(b) != `{"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"a message must be a JSON object"}}` {
		t.Errorf("errorReply(nil) = %s", b)
	}
}

func TestSnapshotAndOpJSON(t *testing.T) {
	b, _ := snapshotOf(event.Document{ID: 4, V: 2, Exists: true, Data: json.RawMessage(`{"id":4}`)}, true).MarshalJSON()
	if string(b) != `{"d":"4","v":2,"data":{"id":4}}` {
		t.Errorf("existing: %s", b)
	}
	b, _ = snapshotOf(event.Document{ID: 4, V: 3}, false).MarshalJSON()
	if string(b) != `{"v":3,"type":null}` {
		t.Errorf("missing: %s (a client must not take it for a json0 document)", b)
	}
	for change, want := range map[string]string{
		`{"op":[{"p":["fields","1"],"oi":2}]}`: `{"a":"op","c":"rec_1","d":"4","v":2,"src":"s","seq":3,"op":[{"p":["fields","1"],"oi":2}]}`,
		`{"create":{"id":4}}`:                  `{"a":"op","c":"rec_1","d":"4","v":2,"src":"s","seq":3,"create":{"type":"http://sharejs.org/types/JSONv0","data":{"id":4}}}`,
		`{"del":true}`:                         `{"a":"op","c":"rec_1","d":"4","v":2,"src":"s","seq":3,"del":true}`,
	} {
		f, err := opFrame("rec_1", "4", event.LoggedChange{V: 2, Src: "s", Seq: 3, Change: json.RawMessage(change)})
		if err != nil || string(frameBody(t, f)) != want {
			t.Errorf("opFrame(%s) = %s, %v; want %s", change, frameBody(t, f), err, want)
		}
	}
	f, _ := opFrame("rec_1", "4", event.LoggedChange{V: 2, Seq: 3, Change: json.RawMessage(`{"op":[]}`)})
	if got := string(frameBody(t, f)); got != `{"a":"op","c":"rec_1","d":"4","v":2,"op":[]}` {
		t.Errorf("a REST write's op: %s (no src, no seq)", got)
	}
}

func TestDocDiff(t *testing.T) {
	var have, want any
	_ = json.Unmarshal([]byte(`{"fields":{"1":"a","2":5}}`), &have)
	_ = json.Unmarshal([]byte(`{"id":9,"order":"1.0","fields":{"1":"a","2":"5","3":null}}`), &want)
	op := docDiff(nil, have, want)
	got, err := json0.Apply(have, op)
	if err != nil || !json0.Equal(got, want) {
		t.Fatalf("docDiff gives %v (%v) applied: %v", op, err, got)
	}
	b, _ := json.Marshal(op)
	if string(b) != `[{"p":["fields","2"],"oi":"5","od":5},{"p":["fields","3"],"oi":null},{"p":["id"],"oi":9},{"p":["order"],"oi":"1.0"}]` {
		t.Errorf("docDiff = %s", b)
	}
	if op := docDiff(nil, want, want); len(op) != 0 {
		t.Errorf("docDiff of equal documents = %v", op)
	}
}

// frameBody strips a server text frame's header (payloads under 64 KiB).
func frameBody(t *testing.T, f []byte) []byte {
	t.Helper()
	switch n := f[1] & 0x7f; {
	case n < 126:
		return f[2:]
	case n == 126:
		return f[4:]
	}
	return f[10:]
}

// FuzzDecode: no client frame makes the parser or the error reply panic,
// and every error reply is a JSON object with an error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":"pp"}`, `{"a":"op","c":"rec_1","d":"1","v":1,"seq":1,"op":[{"p":["fields","1",0],"si":"x"}]}`,
		`{"a":"bs","c":"rec_1","b":{"1":2}}`, `{"a":"p","ch":"x","id":"y","p":{},"pv":1}`, `[`, `{"a":{}}`, `{"v":-1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decode(b)
		if err != nil {
			var pe *protoError
			if !asProto(err, &pe) {
				t.Fatalf("decode error %v is not a protocol error", err)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(frameBody(t, errorReply(in, pe)), &m) != nil || m["error"] == nil {
				t.Fatalf("error reply is not an object with an error")
			}
			return
		}
		_, _, _ = version(in.V, "v")
		_, _ = queryID(in.ID)
		_, _ = seqOf(in)
		_, _, _ = bulkIDs(in.B)
		_, _ = heldResults(in.R)
		if in.C != nil {
			if c, ok := parseCollection(*in.C); ok {
				_, _ = parseQuery(c, in.Q)
			}
		}
	})
}

func asProto(err error, pe **protoError) bool {
	p, ok := err.(*protoError)
	*pe = p
	return ok
}

// Op and ack frames are what json.Marshal writes for the same members in
// ShareDB's order, for names that need escapes and ones that do not, and
// each is a single allocation.
func TestOpFramesAsMarshal(t *testing.T) {
	type fixup struct {
		Src string          `json:"src"`
		Seq uint64          `json:"seq"`
		V   int64           `json:"v"`
		Op  json.RawMessage `json:"op"`
	}
	type msg struct {
		A     string          `json:"a"`
		C     string          `json:"c"`
		D     string          `json:"d"`
		V     int64           `json:"v"`
		Src   string          `json:"src,omitempty"`
		Seq   uint64          `json:"seq,omitempty"`
		Op    json.RawMessage `json:"op,omitempty"`
		Fixup []fixup         `json:"fixup,omitempty"`
	}
	op := json.RawMessage(`[{"p":["fields","5",0],"si":"x"}]`)
	fix := json.RawMessage(`[{"p":["fields","5"],"od":"1.5","oi":1.5}]`)
	for _, name := range []string{"record_3", "rec_3<&>", "é\"\\"} {
		for _, src := range []string{"s1", "<s>"} {
			want, _ := json.Marshal(msg{A: "op", C: name, D: name + "7", V: 12, Src: src, Seq: 9, Op: op})
			var w opBuilder
			w.head(name, name+"7", 12, src, 9, len(op))
			if got := frameBody(t, w.frame(op, nil, false)); !bytes.Equal(got, want) {
				t.Errorf("op frame:\n got %s\nwant %s", got, want)
			}
			for _, f := range []json.RawMessage{nil, fix} {
				m := msg{A: "op", C: name, D: "7", V: 12, Src: src, Seq: 9}
				if f != nil {
					m.Fixup = []fixup{{Src: src, Seq: 9, V: 12, Op: f}}
				}
				want, _ := json.Marshal(m)
				if got := frameBody(t, ackFrame(name, "7", 12, src, 9, f)); !bytes.Equal(got, want) {
					t.Errorf("ack frame:\n got %s\nwant %s", got, want)
				}
			}
		}
	}
	if n := testing.AllocsPerRun(10, func() {
		var w opBuilder
		w.head("record_3", "7", 12, "s1", 9, len(op))
		w.frame(op, nil, false)
	}); n != 1 {
		t.Errorf("op frame: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(10, func() { ackFrame("record_3", "7", 12, "s1", 9, fix) }); n != 1 {
		t.Errorf("ack frame: %v allocations, want 1", n)
	}
}
