package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// brConn is a client of the page protocol (/ws/core/), driven frame by
// frame like rawConn, speaking the protocol exactly as
// baserow-dialect.md writes it.
type brConn struct {
	wsFrames
	wsID string // web_socket_id of the authentication message
}

// brMsg is one server message: its type and its members as they came.
type brMsg struct {
	Type string
	M    map[string]json.RawMessage
	raw  []byte
}

func (m brMsg) String() string { return string(m.raw) }

// num reads an integer member.
func (m brMsg) num(t *testing.T, key string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal(m.M[key], &n); err != nil {
		t.Fatalf("%s: %q is not an integer: %s", m, key, m.M[key])
	}
	return n
}

// eventID is the message's _event_id.
func (m brMsg) eventID(t *testing.T) uint64 {
	t.Helper()
	return uint64(m.num(t, "_event_id"))
}

// decodeInto reads a member into v.
func (m brMsg) decodeInto(t *testing.T, key string, v any) {
	t.Helper()
	if err := json.Unmarshal(m.M[key], v); err != nil {
		t.Fatalf("%s: member %q: %v", m, key, err)
	}
}

func (tn *testNode) brURL() string {
	return strings.Replace(tn.httpURL, "http://", "ws://", 1) + "/ws/core/"
}

// brDialRaw opens a socket with the query given; a refusal (an HTTP
// answer instead of the upgrade) is returned as its status.
func (tn *testNode) brDialRaw(t *testing.T, query url.Values, header http.Header) (*brConn, int) {
	t.Helper()
	u := tn.brURL()
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	status := 0
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(header),
		OnStatusError: func(s int, _ []byte, resp io.Reader) {
			status = s
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				_ = r.Body.Close()
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, u)
	if err != nil {
		if status != 0 {
			return nil, status
		}
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &brConn{wsFrames: wsFrames{t: t, nc: nc, rd: nc, autoPong: true}}
	if br != nil {
		c.rd = br
	}
	t.Cleanup(func() { _ = nc.Close() })
	return c, 0
}

// brDial connects with jwt_token and expects a successful authentication.
func (tn *testNode) brDial(t *testing.T, jwt string, extra ...string) *brConn {
	t.Helper()
	q := url.Values{"jwt_token": {jwt}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	c, status := tn.brDialRaw(t, q, nil)
	if status != 0 {
		t.Fatalf("upgrade refused: %d", status)
	}
	m := c.next()
	if m.Type != "authentication" || string(m.M["success"]) != "true" {
		t.Fatalf("first message %s; want a successful authentication", m)
	}
	m.decodeInto(t, "web_socket_id", &c.wsID)
	// One round trip: the server has read from the socket (see
	// expectConnected for the race this avoids).
	c.sync()
	return c
}

// brUser connects as sub.
func (tn *testNode) brUser(t *testing.T, sub string) *brConn {
	t.Helper()
	return tn.brDial(t, tokenFor(t, sub))
}

// brAnon connects anonymously.
func (tn *testNode) brAnon(t *testing.T) *brConn { t.Helper(); return tn.brDial(t, "anonymous") }

// next returns the next message; a close or silence fails the test.
func (c *brConn) next() brMsg {
	c.t.Helper()
	op, p, err := c.nextFrame(waitTimeout)
	if err != nil {
		c.t.Fatalf("reading a message: %v", err)
	}
	if op == ws.OpClose {
		code, reason := ws.ParseCloseFrameData(p)
		c.t.Fatalf("closed (%d %q) while a message was expected", code, reason)
	}
	return c.decode(p)
}

func (c *brConn) decode(p []byte) brMsg {
	c.t.Helper()
	m := brMsg{raw: bytes.Clone(p)}
	if err := json.Unmarshal(p, &m.M); err != nil {
		c.t.Fatalf("server message is not a JSON object: %q: %v", p, err)
	}
	if err := json.Unmarshal(m.M["type"], &m.Type); err != nil || m.Type == "" {
		c.t.Fatalf("server message without a type: %s", p)
	}
	return m
}

// expect reads the next message and checks its type.
func (c *brConn) expect(typ string) brMsg {
	c.t.Helper()
	m := c.next()
	if m.Type != typ {
		c.t.Fatalf("got %s; want %s", m, typ)
	}
	return m
}

// expectClose reads until the close frame and returns its code and the
// messages before it.
func (c *brConn) expectClose() (ws.StatusCode, []brMsg) {
	c.t.Helper()
	var before []brMsg
	for {
		op, p, err := c.nextFrame(waitTimeout)
		if err != nil {
			c.t.Fatalf("waiting for the close frame (after %d messages): %v", len(before), err)
		}
		if op == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(p)
			return code, before
		}
		before = append(before, c.decode(p))
	}
}

// sync makes a round trip the server answers in order (an unknown page
// is refused): everything the server queued for this socket before it
// read the request arrives first.
func (c *brConn) sync() {
	c.t.Helper()
	c.sendJSON(map[string]any{"page": "sync-marker"})
	m := c.next()
	if m.Type != "page_add_failed" || string(m.M["page"]) != `"sync-marker"` {
		c.t.Fatalf("got %s; want the sync marker's page_add_failed", m)
	}
}

// addPage sends {"page":name, params...} and expects page_add with the
// parameters as want (nil: params themselves).
func (c *brConn) addPage(name string, params map[string]any) brMsg {
	c.t.Helper()
	msg := map[string]any{"page": name}
	for k, v := range params {
		msg[k] = v
	}
	c.sendJSON(msg)
	m := c.next()
	if m.Type != "page_add" || string(m.M["page"]) != strconv.Quote(name) {
		c.t.Fatalf("adding page %s %v: got %s", name, params, m)
	}
	return m
}

// addPageFails expects page_add_failed with the error word.
func (c *brConn) addPageFails(name any, params map[string]any, word string) brMsg {
	c.t.Helper()
	msg := map[string]any{"page": name}
	for k, v := range params {
		msg[k] = v
	}
	c.sendJSON(msg)
	m := c.next()
	if m.Type != "page_add_failed" || string(m.M["error"]) != strconv.Quote(word) {
		c.t.Fatalf("adding page %v %v: got %s; want page_add_failed %q", name, params, m, word)
	}
	return m
}

// tablePage adds the table page of tbl.
func (c *brConn) tablePage(tbl int64) {
	c.t.Helper()
	c.addPage("table", map[string]any{"table_id": tbl})
}

// restAs calls the REST API as user with the WebSocketId header (Baserow's
// spelling) when wsID is set.
func (tn *testNode) restAs(t *testing.T, user, method, path string, body any, wsID string, out any) int {
	t.Helper()
	return tn.restHeader(t, user, method, path, body, "WebSocketId", wsID, out)
}

// publicGet reads GET /api/views/{slug}/public/rows, every page of it,
// with the view token when given.
func (tn *testNode) publicRows(t *testing.T, slug, token string) (map[int64]map[string]json.RawMessage, uint64) {
	t.Helper()
	out := map[int64]map[string]json.RawMessage{}
	var offset uint64
	cursor := ""
	for {
		path := "/api/views/" + slug + "/public/rows?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		req, _ := http.NewRequestWithContext(ctxFor(t, waitTimeout), "GET", tn.httpURL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := tn.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		var page struct {
			Results []struct {
				ID     int64                      `json:"id"`
				Fields map[string]json.RawMessage `json:"fields"`
			} `json:"results"`
			NextCursor *string `json:"next_cursor"`
			Offset     uint64  `json:"offset"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if offset == 0 {
			offset = page.Offset
		}
		for _, r := range page.Results {
			row := map[string]json.RawMessage{}
			for k, v := range r.Fields {
				row["field_"+k] = v
			}
			out[r.ID] = row
		}
		if page.NextCursor == nil {
			return out, offset
		}
		cursor = *page.NextCursor
	}
}

func fieldKey(id int64) string { return fmt.Sprintf("field_%d", id) }

// subtests runs subtests of t whose steps use conns: each subtest's
// helpers fail the subtest, not t.
func subtests(t *testing.T, conns ...*brConn) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		t.Run(name, func(st *testing.T) {
			for _, c := range conns {
				c.t = st
			}
			defer func() {
				for _, c := range conns {
					c.t = t
				}
			}()
			f(st)
		})
	}
}

// storeShape turns a cell in Baserow's shape back into the store's: a
// select's {"id","value","color"} (or a list of them) into its choice id
// (or ids). Other values are left as they are.
func storeShape(v json.RawMessage) json.RawMessage {
	var one struct {
		ID    *int64  `json:"id"`
		Value *string `json:"value"`
	}
	trimmed := bytes.TrimSpace(v)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		if json.Unmarshal(trimmed, &one) == nil && one.ID != nil && one.Value != nil {
			return json.RawMessage(strconv.FormatInt(*one.ID, 10))
		}
	case len(trimmed) > 1 && trimmed[0] == '[' && trimmed[1] == '{':
		var many []struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(trimmed, &many) == nil {
			ids := make([]int64, len(many))
			for i, c := range many {
				ids[i] = c.ID
			}
			b, _ := json.Marshal(ids)
			return b
		}
	}
	return v
}

// sameCell compares two cells as values: a select in Baserow's shape
// equals its choice id, and a number equals its decimal string ("2.50"
// and 2.5 are the same number).
func sameCell(a, b json.RawMessage) bool {
	a, b = storeShape(a), storeShape(b)
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	if fmt.Sprint(x) == fmt.Sprint(y) {
		return true
	}
	rat := func(v any) (*big.Rat, bool) {
		switch n := v.(type) {
		case string:
			return new(big.Rat).SetString(n)
		case float64:
			return new(big.Rat).SetString(strconv.FormatFloat(n, 'f', -1, 64))
		}
		return nil, false
	}
	rx, okX := rat(x)
	ry, okY := rat(y)
	return okX && okY && rx.Cmp(ry) == 0
}
