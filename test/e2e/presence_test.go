package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/pkg/client"
)

// presenceData is the data of a presence message.
type presenceData struct {
	UserID       string          `json:"user_id"`
	SessionID    string          `json:"session_id"`
	ConnectionID string          `json:"connection_id"`
	State        json.RawMessage `json:"state"`
}

// recvPresence expects c's next message to be presence of who in
// collection/document with state (nil: null).
func recvPresence(t *testing.T, c *client.Client, collection, document string, who client.Connected, state any) {
	t.Helper()
	m := recv(t, c)
	var d presenceData
	if m.Type != client.TypePresence || m.Collection != collection || m.Document != document || json.Unmarshal(m.Data, &d) != nil {
		t.Fatalf("got %s %s/%s %s; want presence on %s/%s", m.Type, m.Collection, m.Document, m.Data, collection, document)
	}
	if d.UserID != who.UserID || d.SessionID != who.SessionID || d.ConnectionID != who.ConnectionID {
		t.Errorf("presence from %+v; want %s/%s/%s", d, who.UserID, who.SessionID, who.ConnectionID)
	}
	if state == nil {
		if string(d.State) != "null" {
			t.Errorf("presence state %s; want null", d.State)
		}
	} else if !jsonEqual(t, d.State, state) {
		t.Errorf("presence state %s; want %s", d.State, mustJSON(t, state))
	}
}

// adminPresence is GET /api/ws/presence?channel=.
func (tn *testNode) adminPresence(t *testing.T, channel string) []presenceData {
	t.Helper()
	var out struct {
		Channel  string         `json:"channel"`
		Presence []presenceData `json:"presence"`
	}
	tn.adminOK(t, http.MethodGet, "/api/ws/presence?channel="+url.QueryEscape(channel), nil, &out)
	if out.Channel != channel || out.Presence == nil {
		t.Fatalf("presence answer for %q: %+v; want the channel and a list", channel, out)
	}
	return out.Presence
}

func setPresence(t *testing.T, c *client.Client, collection, document string, state any) {
	t.Helper()
	if err := c.Presence(ctxFor(t, waitTimeout), collection, document, state); err != nil {
		t.Fatalf("Presence(%s, %s): %v", collection, document, err)
	}
}

func TestPresenceLifecycle(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	a := tn.dialClient(t, client.Config{Token: tokenFor(t, "alice", "room*"), SessionID: "tab-a"})
	b := tn.dialUser(t, "bob", "room*")
	subscribe(t, a, "room", "")
	subscribe(t, b, "room", "")
	ai := a.Info()

	setPresence(t, a, "room", "", map[string]any{"cursor": 1})
	recvPresence(t, b, "room", "", ai, map[string]any{"cursor": 1})
	setPresence(t, a, "room", "", map[string]any{"cursor": 2, "name": "Alice"})
	recvPresence(t, b, "room", "", ai, map[string]any{"cursor": 2, "name": "Alice"})

	list := tn.adminPresence(t, "room")
	if len(list) != 1 || list[0].ConnectionID != ai.ConnectionID || list[0].UserID != "alice" || list[0].SessionID != "tab-a" ||
		!jsonEqual(t, list[0].State, map[string]any{"cursor": 2, "name": "Alice"}) {
		t.Errorf("admin presence %+v", list)
	}

	// Leaving with null, then through unsubscribe.
	setPresence(t, a, "room", "", nil)
	recvPresence(t, b, "room", "", ai, nil)
	setPresence(t, a, "room", "", map[string]any{"back": true})
	recvPresence(t, b, "room", "", ai, map[string]any{"back": true})
	if err := a.Unsubscribe(ctxFor(t, waitTimeout), "room", ""); err != nil {
		t.Fatal(err)
	}
	recvPresence(t, b, "room", "", ai, nil)
	if list := tn.adminPresence(t, "room"); len(list) != 0 {
		t.Errorf("admin presence after leaving: %+v", list)
	}

	// A late subscriber gets who is there, after its subscribe reply.
	setPresence(t, a, "room", "", map[string]any{"again": 1})
	recvPresence(t, b, "room", "", ai, map[string]any{"again": 1})
	c := tn.dialUser(t, "carol", "room*")
	subscribe(t, c, "room", "")
	recvPresence(t, c, "room", "", ai, map[string]any{"again": 1})

	// Disconnecting leaves everywhere.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	recvPresence(t, b, "room", "", ai, nil)
	recvPresence(t, c, "room", "", ai, nil)
	if list := tn.adminPresence(t, "room"); len(list) != 0 {
		t.Errorf("admin presence after disconnect: %+v", list)
	}
	// The author never hears its own presence, and nothing else arrived.
	tn.broadcast(t, "room", "end")
	recvMessage(t, b, "room", "end")
	recvMessage(t, c, "room", "end")
}

// TestPresenceOnDocuments: presence on a document reaches that document's
// and its collection's subscribers; the collection's admin listing includes
// its documents'.
func TestPresenceOnDocuments(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	a := tn.dialUser(t, "alice", "room")
	col := tn.dialUser(t, "bob", "room")
	doc := tn.dialUser(t, "carol", "room")
	other := tn.dialUser(t, "dave", "room")
	both := tn.dialUser(t, "erin", "room")
	subscribe(t, col, "room", "")
	subscribe(t, doc, "room", "doc1")
	subscribe(t, other, "room", "doc2")
	subscribe(t, both, "room", "")
	subscribe(t, both, "room", "doc1")

	// Presence without a subscription is allowed.
	setPresence(t, a, "room", "doc1", map[string]any{"row": 4})
	recvPresence(t, col, "room", "doc1", a.Info(), map[string]any{"row": 4})
	recvPresence(t, doc, "room", "doc1", a.Info(), map[string]any{"row": 4})
	recvPresence(t, both, "room", "doc1", a.Info(), map[string]any{"row": 4}) // once
	for _, ch := range []string{"room.doc1", "room"} {
		if list := tn.adminPresence(t, ch); len(list) != 1 || list[0].ConnectionID != a.Info().ConnectionID {
			t.Errorf("admin presence %s: %+v", ch, list)
		}
	}
	if list := tn.adminPresence(t, "room.doc2"); len(list) != 0 {
		t.Errorf("admin presence room.doc2: %+v", list)
	}
	tn.broadcast(t, "room.doc2", "end")
	recvMessage(t, col, "room", "end")
	recvMessage(t, other, "room", "end")
	recvMessage(t, both, "room", "end")
}

// TestPresenceInvalid: presence data must be an object of at most 1 KiB, on
// an allowed, well-named channel.
func TestPresenceInvalid(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice", "room")
	pad := func(n int) string { // an object of exactly n bytes
		return `{"p":"` + strings.Repeat("x", n-8) + `"}`
	}
	for _, tc := range []struct {
		name, data string
		code       int
	}{
		{"object of 1 KiB", pad(1024), 0},
		{"object of 1 KiB + 1", pad(1025), 413},
		{"object of 4 KiB", pad(4096), 413},
		{"array", `[1,2]`, 400},
		{"string", `"here"`, 400},
		{"number", `5`, 400},
		{"boolean", `true`, 400},
		{"empty object", `{}`, 0},
		{"null leaves", `null`, 0},
	} {
		rc.sendText(`{"type":"presence","id":"p","collection":"room","data":` + tc.data + `}`)
		m := rc.next()
		if tc.code == 0 {
			if m.Type != "presence" || m.ID != "p" || m.Collection != "room" {
				t.Errorf("%s: got %s; want the presence ack", tc.name, m)
			}
			continue
		}
		t.Run(tc.name, func(t *testing.T) { expectError(t, m, tc.code, "p") })
	}
	expectError(t, rc.request(map[string]any{"type": "presence", "id": "f", "collection": "elsewhere", "data": map[string]any{}}), 403, "f")
	expectError(t, rc.request(map[string]any{"type": "presence", "id": "s", "collection": "record_1", "data": map[string]any{}}), 404, "s")
	rc.ping()
}
