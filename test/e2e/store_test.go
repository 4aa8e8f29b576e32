package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
	"github.com/tablecast/tablecast/pkg/client"
)

// rest calls the store's REST API as a user; origin, when set, is sent as
// X-WebSocket-Id.
func (tn *testNode) rest(t *testing.T, user, method, path string, body any, origin string, out any) int {
	t.Helper()
	return tn.restHeader(t, user, method, path, body, "X-WebSocket-Id", origin, out)
}

// restHeader is rest with the socket's id in the header named (when id is
// set). A 2xx answer is decoded into out; any other fails the test when out
// is not nil, and is returned otherwise.
func (tn *testNode) restHeader(t *testing.T, user, method, path string, body any, header, id string, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(mustJSON(t, body))
	}
	req, err := http.NewRequestWithContext(ctxFor(t, waitTimeout), method, tn.httpURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, user))
	if id != "" {
		req.Header.Set(header, id)
	}
	resp, err := tn.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		if out != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// tableFixture is a workspace owned by "owner" with one table; it returns
// the workspace id, the table id and the primary field id.
func tableFixture(t *testing.T, tn *testNode) (ws, tbl, field int64) {
	t.Helper()
	var w struct{ ID int64 }
	tn.rest(t, "owner", "POST", "/api/workspaces", map[string]any{"name": "acme"}, "", &w)
	var tb struct{ ID int64 }
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/tables", w.ID), map[string]any{"name": "tasks"}, "", &tb)
	var fields struct {
		Results []struct {
			ID      int64
			Primary bool
		}
	}
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/fields", tb.ID), nil, "", &fields)
	for _, f := range fields.Results {
		if f.Primary {
			return w.ID, tb.ID, f.ID
		}
	}
	t.Fatalf("table %d has no primary field", tb.ID)
	return
}

func opData(t *testing.T, m client.Message) map[string]json.RawMessage {
	t.Helper()
	if m.Type != "op" {
		t.Fatalf("got %s %s, want an op", m.Type, m.Data)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRESTWritesReachRecordSubscribers: create, cell change and delete made
// through REST arrive as ops on record_T with versions and table offsets;
// the writer's own socket (X-WebSocket-Id) is left out.
func TestRESTWritesReachRecordSubscribers(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		ws, tbl, name := tableFixture(t, tn)
		col := fmt.Sprintf("record_%d", tbl)
		reader := tn.dialUser(t, "owner")
		writer := tn.dialUser(t, "owner")
		sub := subscribe(t, reader, col, "")
		subscribe(t, writer, col, "")
		_ = ws

		var row struct {
			ID      int64
			Version int64
		}
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl),
			map[string]any{"fields": map[string]any{strconv.FormatInt(name, 10): "first"}}, writer.Info().ConnectionID, &row)
		m := recv(t, reader)
		d := opData(t, m)
		if m.Document != strconv.FormatInt(row.ID, 10) || string(d["v"]) != "0" || m.Offset == nil || *m.Offset != sub.Offset+1 {
			t.Fatalf("create op %+v %s", m, m.Data)
		}
		if !jsonEqual(t, d["create"], map[string]any{"id": row.ID, "order": "1.00000000000000000000",
			"fields": map[string]any{strconv.FormatInt(name, 10): "first"}}) {
			t.Fatalf("create snapshot %s", d["create"])
		}

		tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, row.ID),
			map[string]any{"fields": map[string]any{strconv.FormatInt(name, 10): "second"}}, "", &row)
		m = recv(t, reader)
		d = opData(t, m)
		want := []map[string]any{{"p": []any{"fields", strconv.FormatInt(name, 10)}, "od": "first", "oi": "second"}}
		if string(d["v"]) != "1" || !jsonEqual(t, d["op"], want) || *m.Offset != sub.Offset+2 {
			t.Fatalf("update op %s", m.Data)
		}

		if st := tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, row.ID), nil, "", nil); st != http.StatusNoContent {
			t.Fatalf("delete: %d", st)
		}
		d = opData(t, recv(t, reader))
		if string(d["del"]) != "true" || string(d["v"]) != "2" {
			t.Fatalf("delete op %v", d)
		}
		// The writer's socket missed only the create it caused.
		if d := opData(t, recv(t, writer)); d["op"] == nil {
			t.Fatalf("writer's first message is not the update: %v", d)
		}
	})
}

// TestQueryThenSubscribeFromItsOffset: a query's offset is where a
// subscription picks up, and a client that was away replays from the outbox.
func TestQueryThenSubscribeFromItsOffset(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		_, tbl, name := tableFixture(t, tn)
		col := fmt.Sprintf("record_%d", tbl)
		key := strconv.FormatInt(name, 10)
		for _, v := range []string{"a", "b"} {
			tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl), map[string]any{"fields": map[string]any{key: v}}, "", &struct{}{})
		}
		c := tn.dialUser(t, "owner")
		reply, err := c.Request(ctxFor(t, waitTimeout), client.Message{Type: "query", Collection: col, Data: mustJSON(t, map[string]any{"limit": 10})})
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Results []struct {
				Document string
				V        int64
				Data     struct{ Fields map[string]string }
			}
			Offset uint64
		}
		if err := json.Unmarshal(reply.Data, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Results) != 2 || page.Results[1].Data.Fields[key] != "b" || page.Results[0].V != 1 {
			t.Fatalf("query %s", reply.Data)
		}
		// Written after the query, before the subscription: replayed from the outbox.
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl), map[string]any{"fields": map[string]any{key: "c"}}, "", &struct{}{})
		res, err := c.SubscribeFrom(ctxFor(t, waitTimeout), col, "", client.Position{Offset: page.Offset, Epoch: "outbox1"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Recovered || res.Offset != page.Offset+1 {
			t.Fatalf("subscribe from %d: %+v", page.Offset, res)
		}
		m := recv(t, c)
		if d := opData(t, m); *m.Offset != page.Offset+1 || d["create"] == nil {
			t.Fatalf("replayed %s", m.Data)
		}
		text := tn.metricsText(t)
		if v := metricValue(text, `tablecast_store_tx_seconds_count{kind="write"}`); v < 3 {
			t.Errorf("store write transactions counted: %v, want at least 3", v)
		}
		// The missed event was delivered on this node a moment ago: it is
		// replayed from memory, without reading the outbox.
		if !strings.Contains(text, "tablecast_stream_store_reads_total") {
			t.Error("no tablecast_stream_store_reads_total in /metrics")
		} else if v := metricValue(text, "tablecast_stream_store_reads_total"); v != 0 {
			t.Errorf("outbox reads: %v, want 0 (served from the recent events)", v)
		}
	})
}

func TestStoreCollectionsNeedMembership(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		ws, tbl, _ := tableFixture(t, tn)
		col := fmt.Sprintf("record_%d", tbl)
		stranger := tn.dialUser(t, "stranger")
		_, err := stranger.Subscribe(ctxFor(t, waitTimeout), col, "")
		var se *client.ServerError
		if !asServerError(err, &se) || se.Code != 404 {
			t.Fatalf("stranger subscribing: %v, want 404 (not a hint that the table exists)", err)
		}
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", ws), map[string]any{"user_id": "guest", "role": "viewer"}, "", &struct{}{})
		guest := tn.dialUser(t, "guest")
		subscribe(t, guest, col, "")
		subscribe(t, guest, fmt.Sprintf("table_%d", ws), "")

		// Removing the member ends their subscriptions at once.
		if st := tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/workspaces/%d/members/guest", ws), nil, "", nil); st >= 300 {
			t.Fatalf("remove member: %d", st)
		}
		got := map[string]bool{}
		for i := 0; i < 2; i++ {
			m := recv(t, guest)
			if m.Type != "unsubscribe" || string(dataField(t, m.Data, "reason")) != `"forbidden"` {
				t.Fatalf("got %s %s, want unsubscribe forbidden", m.Type, m.Data)
			}
			got[m.Collection] = true
		}
		if !got[col] || !got[fmt.Sprintf("table_%d", ws)] {
			t.Fatalf("unsubscribed from %v", got)
		}
		if _, err := guest.Subscribe(ctxFor(t, waitTimeout), col, ""); !asServerError(err, &se) || se.Code != 404 {
			t.Fatalf("resubscribing after removal: %v", err)
		}
	})
}

func asServerError(err error, target **client.ServerError) bool {
	return errors.As(err, target)
}

// TestRacingWritersAreDeliveredInOffsetOrder: two writers on one table,
// concurrently; every subscriber receives every event once, offsets
// consecutive.
func TestRacingWritersAreDeliveredInOffsetOrder(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		_, tbl, name := tableFixture(t, tn)
		subs := []*client.Client{tn.dialUser(t, "owner"), tn.dialUser(t, "owner")}
		var start uint64
		for _, c := range subs {
			start = subscribe(t, c, fmt.Sprintf("record_%d", tbl), "").Offset
		}
		const perWriter = 15
		token := tokenFor(t, "owner") // the writers run off the test goroutine: no t there
		errs := make(chan error, 2)
		for w := 0; w < 2; w++ {
			go func(w int) {
				for i := 0; i < perWriter; i++ {
					body := fmt.Sprintf(`{"fields":{"%d":"w%d-%d"}}`, name, w, i)
					req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tables/%d/rows", tn.httpURL, tbl), strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := tn.hc.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("write: %d", resp.StatusCode)
						return
					}
				}
				errs <- nil
			}(w)
		}
		for i := 0; i < 2; i++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range subs {
			for i := uint64(1); i <= 2*perWriter; i++ {
				m := recv(t, c)
				if m.Type != "op" || m.Offset == nil || *m.Offset != start+i {
					t.Fatalf("message %d: %s offset %v, want op at %d", i, m.Type, m.Offset, start+i)
				}
			}
		}
	})
}

// TestEventCommittedButNeverPublished: the process dies between a commit and
// its publish (here: the event is committed straight into the outbox while
// no server runs). After a restart the relay publishes it, and a client that
// was away receives it with the offset it was committed with.
func TestEventCommittedButNeverPublished(t *testing.T) {
	t.Parallel()
	dbPath := t.TempDir() + "/crash.db"
	dbURL := "sqlite://" + dbPath
	first := startNode(t, withDatabase(dbURL))
	_, tbl, name := tableFixture(t, first)
	key := strconv.FormatInt(name, 10)
	var row event.Row
	first.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl),
		map[string]any{"fields": map[string]any{key: "before"}}, "", &row)
	if err := first.shutdown(ctxFor(t, waitTimeout)); err != nil {
		t.Fatal(err)
	}

	// The write whose publish never happened.
	ctx := ctxFor(t, waitTimeout)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	after := row
	after.Version++
	after.Fields = table.Values{name: json.RawMessage(`"after"`)}
	payload := mustJSON(t, event.RowsUpdated{
		TableMeta:       event.TableMeta{TableID: tbl, Actor: "owner"},
		Rows:            []event.Row{after},
		RowsBefore:      []event.Row{row},
		UpdatedFieldIDs: []int64{name},
	})
	var lost uint64
	err = st.Update(ctx, func(tx store.Tx) error {
		lost, err = tx.AppendEvent(ctx, store.TableStream(tbl), event.EventRowsUpdated, payload)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	second := startNode(t, withDatabase(dbURL))
	c := second.dialUser(t, "owner")
	res, err := c.SubscribeFrom(ctxFor(t, waitTimeout), fmt.Sprintf("record_%d", tbl), "", client.Position{Offset: lost - 1, Epoch: "outbox1"})
	if err != nil || !res.Recovered || res.Offset != lost {
		t.Fatalf("subscribe: %+v, %v", res, err)
	}
	m := recv(t, c)
	d := opData(t, m)
	want := []map[string]any{{"p": []any{"fields", key}, "od": "before", "oi": "after"}}
	if *m.Offset != lost || !jsonEqual(t, d["op"], want) {
		t.Fatalf("got %s at %v, want the lost change at %d", m.Data, m.Offset, lost)
	}
	// And the relay published it when the server came back. The running
	// node holds the database (a second store cannot open it): a plain
	// read-only connection reads its outbox (store.Unpublished's table),
	// as any SQLite reader may.
	db, err := sql.Open("sqlite", dbPath+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, waitTimeout, "the outbox to have nothing unpublished", func() bool {
		var n int
		if err := db.QueryRowContext(ctxFor(t, waitTimeout), "SELECT count(*) FROM outbox").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// TestRESTRefusesInvalidUTF8: a body that is not UTF-8 is refused with 400
// and stores nothing, as the sockets close such frames with 1007 (JSON
// decoding would otherwise store U+FFFD for each bad byte).
func TestRESTRefusesInvalidUTF8(t *testing.T) {
	tn := startNode(t)
	_, tbl, name := tableFixture(t, tn)
	field := strconv.FormatInt(name, 10)
	for _, body := range []string{
		`{"fields":{"` + field + `":"bad ` + "\xff\xfe" + ` bytes"}}`,
		`{"fields":{"` + field + "\xc3\x28" + `":"x"}}`,
	} {
		req, err := http.NewRequestWithContext(ctxFor(t, waitTimeout), "POST", fmt.Sprintf("%s/api/tables/%d/rows", tn.httpURL, tbl), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokenFor(t, "owner"))
		resp, err := tn.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "UTF-8") {
			t.Errorf("body %q: %d %s, want 400 naming UTF-8", body, resp.StatusCode, b)
		}
	}
	var rows struct{ Results []json.RawMessage }
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows", tbl), nil, "", &rows)
	if len(rows.Results) != 0 {
		t.Errorf("rows stored: %s", rows.Results)
	}
}
