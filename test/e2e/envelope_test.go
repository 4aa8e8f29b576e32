package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// TestEnvelopeRepliesRepeatTypeAndID: the direct reply to each client
// message repeats its type and id (errors: type error, same id). Every
// message read through rawConn also has its timestamp checked.
func TestEnvelopeRepliesRepeatTypeAndID(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice", "room*")
	tests := []struct {
		msg      map[string]any
		wantType string
	}{
		{map[string]any{"type": "ping", "id": "a"}, "pong"},
		{map[string]any{"type": "subscribe", "id": "b", "collection": "room"}, "subscribe"},
		{map[string]any{"type": "subscribe", "id": "b2", "collection": "room", "document": "d1"}, "subscribe"},
		{map[string]any{"type": "presence", "id": "c", "collection": "room", "data": map[string]any{"x": 1}}, "presence"},
		{map[string]any{"type": "presence", "id": "c2", "collection": "room", "data": nil}, "presence"},
		{map[string]any{"type": "unsubscribe", "id": "d", "collection": "room"}, "unsubscribe"},
		{map[string]any{"type": "unsubscribe", "id": "d2", "collection": "room", "document": "d1"}, "unsubscribe"},
		{map[string]any{"type": "unsubscribe", "id": "e", "collection": "never-subscribed"}, "unsubscribe"},
		{map[string]any{"type": "query", "id": "f", "collection": "room"}, "error"},
		{map[string]any{"type": "nonsense", "id": "g"}, "error"},
		{map[string]any{"type": "ping", "id": "1234567890123456789012345678901234567890123456789012345678901234"}, "pong"},
		{map[string]any{"type": "ping", "id": "ünïcode id"}, "pong"},
	}
	for _, tc := range tests {
		m := rc.request(tc.msg)
		if m.Type != tc.wantType || m.ID != tc.msg["id"] {
			t.Errorf("%v: reply %s; want type %q and id %q", tc.msg, m, tc.wantType, tc.msg["id"])
		}
		if m.Type == "subscribe" || m.Type == "unsubscribe" || m.Type == "presence" {
			if m.Collection != tc.msg["collection"] {
				t.Errorf("%v: reply collection %q", tc.msg, m.Collection)
			}
			if doc, _ := tc.msg["document"].(string); m.Document != doc {
				t.Errorf("%v: reply document %q; want %q", tc.msg, m.Document, doc)
			}
		}
	}
	// Without an id the reply has none.
	if m := rc.request(map[string]any{"type": "ping", "id": ""}); m.Type != "pong" || m.ID != "" || containsKey(t, m.raw, "id") {
		t.Errorf("ping without id: %s", m)
	}
}

// TestPingEchoesTimestamp: pong.data.timestamp is the ping's timestamp,
// whatever JSON value it is.
func TestPingEchoesTimestamp(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice")
	for _, ts := range []string{
		`1700000000123`, `1.5`, `-0`, `"2026-01-01T00:00:00Z"`, `""`, `{"a":[1,2,{"b":null}]}`,
		`[1,"x"]`, `true`, `null`, `12345678901234567890123`,
	} {
		rc.sendText(`{"type":"ping","id":"p","timestamp":` + ts + `}`)
		m := rc.next()
		if m.Type != "pong" || m.ID != "p" {
			t.Fatalf("ping with timestamp %s: got %s", ts, m)
		}
		got := dataField(t, m.Data, "timestamp")
		if !jsonEqual(t, got, json.RawMessage(ts)) {
			t.Errorf("ping timestamp %s echoed as %s", ts, got)
		}
		if ts == `12345678901234567890123` && string(got) != ts {
			t.Errorf("a large number lost precision: %s became %s", ts, got)
		}
	}
	// No timestamp: null.
	m := rc.request(map[string]any{"type": "ping", "id": "none"})
	if got := dataField(t, m.Data, "timestamp"); string(got) != "null" {
		t.Errorf("ping without timestamp: data.timestamp %s; want null", got)
	}
}

// TestUnknownFieldsIgnored: unknown fields anywhere do not matter.
func TestUnknownFieldsIgnored(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice", "news")
	m := rc.request(map[string]any{"type": "ping", "id": "x", "extra": map[string]any{"deep": []int{1}}, "v": 3, "op": "?"})
	if m.Type != "pong" || m.ID != "x" {
		t.Errorf("ping with unknown fields: %s", m)
	}
	m = rc.request(map[string]any{"type": "subscribe", "id": "s", "collection": "news", "data": map[string]any{"whatever": true}})
	if m.Type != "subscribe" || m.ID != "s" {
		t.Errorf("subscribe with unknown data fields: %s", m)
	}
	tn.broadcast(t, "news", map[string]any{"k": "v"})
	if m := rc.next(); m.Type != "message" || m.Collection != "news" || !jsonEqual(t, m.Data, map[string]any{"k": "v"}) {
		t.Errorf("broadcast after subscribing: %s", m)
	}
}

// TestServerMessagesCarryTimestamps drives one of every server message type
// through pkg/client and checks the timestamps of all of them (recv checks
// each).
func TestServerMessagesCarryTimestamps(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	a := tn.dialUser(t, "alice", "ch")
	b := tn.dialUser(t, "bob", "ch")
	subscribe(t, a, "ch", "")
	subscribe(t, b, "ch", "")
	if err := b.Presence(ctxFor(t, waitTimeout), "ch", "", map[string]any{"here": true}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, a); m.Type != "presence" {
		t.Errorf("got %s; want presence", m.Type)
	}
	tn.broadcast(t, "ch", 1)
	recvMessage(t, a, "ch", 1)
	tn.adminOK(t, "POST", "/api/ws/publish/document", map[string]any{"collection": "ch", "document": "d", "operation": []any{}}, nil)
	if m := recv(t, a); m.Type != "op" {
		t.Errorf("got %s; want op", m.Type)
	}
	tn.adminOK(t, "POST", "/api/ws/broadcast/user", map[string]any{"user_id": "alice", "message": "hi"}, nil)
	if m := recv(t, a); m.Type != "message" || m.Collection != "" || !jsonEqual(t, m.Data, "hi") {
		t.Errorf("user message: %+v", m)
	}
	tn.adminOK(t, "POST", "/api/ws/disconnect", map[string]any{"connection_id": a.Info().ConnectionID}, nil)
	if m := recv(t, a); m.Type != "disconnect" {
		t.Errorf("got %s; want disconnect", m.Type)
	}
}

func containsKey(t *testing.T, raw []byte, key string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	_, ok := m[key]
	return ok
}

// TestFragmentedAndBoundaryMessages: a message may come in fragments, with
// control frames between them and characters split across them; a message
// of exactly max_message_size bytes is accepted.
func TestFragmentedAndBoundaryMessages(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-message-size", "1024"))
	rc, _ := tn.rawUser(t, "alice")
	msg := []byte(`{"type":"ping","id":"frag","timestamp":"é-ü"}`)
	cut := bytes.IndexRune(msg, 'é') + 1 // inside the two bytes of é
	rawHeader(ws.Header{Fin: false, OpCode: ws.OpText, Masked: true}, msg[:cut])(rc)
	rawHeader(ws.Header{Fin: true, OpCode: ws.OpPing, Masked: true}, []byte("between"))(rc)
	rawHeader(ws.Header{Fin: false, OpCode: ws.OpContinuation, Masked: true}, msg[cut:cut+3])(rc)
	rawHeader(ws.Header{Fin: true, OpCode: ws.OpContinuation, Masked: true}, msg[cut+3:])(rc)
	m := rc.next()
	if m.Type != "pong" || m.ID != "frag" || !jsonEqual(t, dataField(t, m.Data, "timestamp"), "é-ü") {
		t.Errorf("fragmented ping: %s", m)
	}

	exact := `{"type":"ping","id":"max","pad":"`
	exact += strings.Repeat("x", 1024-len(exact)-2) + `"}`
	if len(exact) != 1024 {
		t.Fatalf("built %d bytes", len(exact))
	}
	rc.sendText(exact)
	if m := rc.next(); m.Type != "pong" || m.ID != "max" {
		t.Errorf("message of exactly max_message_size: %s", m)
	}
	rc.sendText(exact[:len(exact)-2] + `x"}`)
	expectError(t, rc.next(), 413, "")
	if code, _ := rc.expectClose(waitTimeout); code != ws.StatusMessageTooBig {
		t.Errorf("close %d; want 1009", code)
	}
}
