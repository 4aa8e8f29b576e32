package e2e

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/pkg/client"
)

// nativeViewOp reads the next op on publicview_<slug> and checks that the
// hidden field secret (when not 0) did not reach it.
func nativeViewOp(t *testing.T, c *client.Client, slug string, secret int64) (client.Message, map[string]json.RawMessage) {
	t.Helper()
	m := recv(t, c)
	if m.Type != "op" || m.Collection != "publicview_"+slug {
		t.Fatalf("got %s %s %s, want an op on publicview_%s", m.Type, m.Collection, m.Data, slug)
	}
	if secret > 0 && (strings.Contains(string(m.Data), `"`+strconv.FormatInt(secret, 10)+`"`) || strings.Contains(string(m.Data), "top secret")) {
		t.Fatalf("a hidden field reached a public view subscriber: %s", m.Data)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	return m, d
}

// TestNativePublicView: publicview_<slug> over the native protocol, for any
// authenticated user: the view's projection as ops on record documents,
// only the rows its filter matches, only the fields it shows, rows moving
// in and out of the filter as create and del.
func TestNativePublicView(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		c := tn.dialUser(t, "stranger") // not a member of the workspace
		col := "publicview_" + v.Slug
		res, err := c.Subscribe(ctxFor(t, waitTimeout), col, "")
		if err != nil {
			t.Fatal(err)
		}
		name, status, amount := strconv.FormatInt(f.name, 10), strconv.FormatInt(f.status, 10), strconv.FormatInt(f.amount, 10)

		f.createRow(t, map[int64]any{f.name: "closed one", f.status: "closed", f.secret: "top secret"}, "")
		open := f.createRow(t, map[int64]any{f.name: "open one", f.status: "open", f.secret: "top secret", f.amount: "3"}, "")
		m, d := nativeViewOp(t, c, v.Slug, f.secret)
		if m.Document != strconv.FormatInt(open.ID, 10) || m.Offset == nil || *m.Offset != res.Offset+2 {
			t.Fatalf("create %+v %s: want row %d at offset %d (the closed row is not in the view)", m, m.Data, open.ID, res.Offset+2)
		}
		var create struct {
			ID     int64
			Fields map[string]json.RawMessage
		}
		if err := json.Unmarshal(d["create"], &create); err != nil || create.ID != open.ID ||
			string(create.Fields[name]) != `"open one"` || string(create.Fields[status]) != `"open"` || len(create.Fields) != 3 {
			t.Fatalf("create %s: want the three shown fields", d["create"])
		}

		f.patchRow(t, open.ID, map[int64]any{f.secret: "top secret 2"}, "") // hidden only: nothing
		f.patchRow(t, open.ID, map[int64]any{f.amount: "4", f.secret: "top secret 3"}, "")
		_, d = nativeViewOp(t, c, v.Slug, f.secret)
		if !strings.Contains(string(d["op"]), `["fields","`+amount+`"]`) || strings.Count(string(d["op"]), `"p"`) != 1 {
			t.Fatalf("update of a shown and a hidden field: op %s, want only the shown one", d["op"])
		}

		f.patchRow(t, open.ID, map[int64]any{f.status: "closed"}, "")
		if _, d = nativeViewOp(t, c, v.Slug, f.secret); string(d["del"]) != "true" {
			t.Fatalf("a row leaving the filter: %v, want del", d)
		}
		f.patchRow(t, open.ID, map[int64]any{f.status: "open"}, "")
		if _, d = nativeViewOp(t, c, v.Slug, f.secret); d["create"] == nil {
			t.Fatalf("a row entering the filter: %v, want create", d)
		}
		f.deleteRow(t, open.ID)
		if _, d = nativeViewOp(t, c, v.Slug, f.secret); string(d["del"]) != "true" {
			t.Fatalf("a row in the filter deleted: %v, want del", d)
		}

		// Resuming replays the projection from the outbox.
		again := tn.dialUser(t, "stranger")
		rec, err := again.SubscribeFrom(ctxFor(t, waitTimeout), col, "", client.Position{Offset: res.Offset, Epoch: res.Epoch})
		if err != nil || !rec.Recovered {
			t.Fatalf("resume: %+v %v", rec, err)
		}
		for _, want := range []string{"create", "op", "del", "create", "del"} {
			if _, d := nativeViewOp(t, again, v.Slug, f.secret); d[want] == nil {
				t.Fatalf("replay: %v, want %s", d, want)
			}
		}

		// Made private: the subscription ends (unsubscribe, forbidden).
		f.patchView(t, v.ID, map[string]any{"public": false})
		if m := recv(t, c); m.Type != "unsubscribe" || m.Collection != col {
			t.Fatalf("view made private: got %s %s %s", m.Type, m.Collection, m.Data)
		}
		if _, err := c.Subscribe(ctxFor(t, waitTimeout), col, ""); !isServerError(err, 404) {
			t.Fatalf("subscribe to a private view: %v, want 404", err)
		}
	})
}

// TestNativePublicViewPassword: a view with a password needs data.token
// from POST /api/views/{slug}/public/auth.
func TestNativePublicViewPassword(t *testing.T) {
	tn := startNode(t)
	f := newBrFixture(t, tn)
	v := f.publicView(t, map[string]any{"password": "correct horse"})
	token, _ := tn.viewToken(t, v.Slug, "correct horse")
	c := tn.dialUser(t, "stranger")
	col := "publicview_" + v.Slug
	for _, data := range []string{`null`, `{"token":"forged.token"}`} {
		_, err := c.Request(ctxFor(t, waitTimeout), client.Message{Type: client.TypeSubscribe, Collection: col, Data: json.RawMessage(data)})
		if !isServerError(err, 403) {
			t.Fatalf("subscribe with %s: %v, want 403", data, err)
		}
	}
	if _, err := c.Request(ctxFor(t, waitTimeout), client.Message{Type: client.TypeSubscribe, Collection: col,
		Data: json.RawMessage(`{"token":"` + token + `"}`)}); err != nil {
		t.Fatal(err)
	}
	r := f.createRow(t, map[int64]any{f.name: "seen"}, "")
	if m, _ := nativeViewOp(t, c, v.Slug, 0); m.Document != strconv.FormatInt(r.ID, 10) { // no hidden field here
		t.Fatalf("got %+v", m)
	}
	// A new password voids the token: the subscription ends.
	f.patchView(t, v.ID, map[string]any{"password": "battery staple"})
	if m := recv(t, c); m.Type != "unsubscribe" || m.Collection != col {
		t.Fatalf("new password: got %s %s", m.Type, m.Collection)
	}
}

func isServerError(err error, code int) bool {
	var se *client.ServerError
	return errors.As(err, &se) && se.Code == code
}
