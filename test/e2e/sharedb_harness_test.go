package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// sdbConn is a client of the ShareDB dialect (/sharedb) driven message by
// message, junk included, with ShareDB's messages as they are. The Node
// suite in test/sharedb drives the real sharedb client; these tests cover
// what it never sends.
type sdbConn struct {
	wsFrames
	src string // the id of init
}

// sdbMsg is one server message: its action and members as they came.
type sdbMsg struct {
	A   string
	M   map[string]json.RawMessage
	raw []byte
}

func (m sdbMsg) String() string { return string(m.raw) }

// errCode is the message's error code ("" without one).
func (m sdbMsg) errCode() string {
	var e struct{ Code string }
	if len(m.M["error"]) == 0 || json.Unmarshal(m.M["error"], &e) != nil {
		return ""
	}
	return e.Code
}

// str reads a string member.
func (m sdbMsg) str(key string) string {
	var s string
	_ = json.Unmarshal(m.M[key], &s)
	return s
}

// num reads a number member (-1 when absent or not a number).
func (m sdbMsg) num(key string) int64 {
	n := int64(-1)
	if json.Unmarshal(m.M[key], &n) != nil {
		return -1
	}
	return n
}

func (tn *testNode) sdbURL() string {
	return strings.Replace(tn.httpURL, "http://", "ws://", 1) + "/sharedb"
}

// sdbDialRaw opens a socket; a refusal is returned as its status and body.
func (tn *testNode) sdbDialRaw(t *testing.T, query url.Values, header http.Header) (*sdbConn, int, []byte) {
	t.Helper()
	u := tn.sdbURL()
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	status := 0
	var body []byte
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(header),
		OnStatusError: func(s int, _ []byte, resp io.Reader) {
			status = s
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				body, _ = io.ReadAll(r.Body)
				_ = r.Body.Close()
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, u)
	if err != nil {
		if status != 0 {
			return nil, status, body
		}
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &sdbConn{wsFrames: wsFrames{t: t, nc: nc, rd: nc, autoPong: true}}
	if br != nil {
		c.rd = br
	}
	t.Cleanup(func() { _ = nc.Close() })
	return c, 0, nil
}

// sdbOpen connects with the query given and does ShareDB's handshake: init
// from the server, hs, its answer.
func (tn *testNode) sdbOpen(t *testing.T, query url.Values, header http.Header) *sdbConn {
	t.Helper()
	c, status, body := tn.sdbDialRaw(t, query, header)
	if status != 0 {
		t.Fatalf("upgrade refused: %d %s", status, body)
	}
	init := c.expect("init")
	if init.num("protocol") != 1 || init.num("protocolMinor") != 2 || init.str("type") != "http://sharejs.org/types/JSONv0" {
		t.Fatalf("init %s", init)
	}
	c.src = init.str("id")
	c.sendJSON(map[string]any{"a": "hs", "id": nil, "protocol": 1, "protocolMinor": 2})
	hs := c.expect("hs")
	if hs.str("id") != c.src {
		t.Fatalf("hs %s: want id %q", hs, c.src)
	}
	return c
}

// sdbUser connects sub with the token in the query.
func (tn *testNode) sdbUser(t *testing.T, sub string) *sdbConn {
	t.Helper()
	return tn.sdbOpen(t, url.Values{"token": {tokenFor(t, sub)}}, nil)
}

// next returns the next message; a close or silence fails the test.
func (c *sdbConn) next() sdbMsg {
	c.t.Helper()
	op, p, err := c.nextFrame(waitTimeout)
	if err != nil {
		c.t.Fatalf("reading a message: %v", err)
	}
	if op == ws.OpClose {
		code, reason := ws.ParseCloseFrameData(p)
		c.t.Fatalf("closed (%d %q) while a message was expected", code, reason)
	}
	m := sdbMsg{raw: bytes.Clone(p)}
	if err := json.Unmarshal(p, &m.M); err != nil {
		c.t.Fatalf("server message is not a JSON object: %q: %v", p, err)
	}
	_ = json.Unmarshal(m.M["a"], &m.A)
	return m
}

// expect reads the next message and checks its action and that it is no
// error.
func (c *sdbConn) expect(action string) sdbMsg {
	c.t.Helper()
	m := c.next()
	if m.A != action || m.errCode() != "" {
		c.t.Fatalf("got %s; want %q", m, action)
	}
	return m
}

// expectError reads the next message: an error with the code, echoing
// action (or without an action when the request could not be read).
func (c *sdbConn) expectError(action, code string) sdbMsg {
	c.t.Helper()
	m := c.next()
	if m.A != action || m.errCode() != code {
		c.t.Fatalf("got %s; want an error %s on %q", m, code, action)
	}
	return m
}

// sync makes a pp round trip: everything the server queued before its
// answer has been read once it returns, and the socket is alive.
func (c *sdbConn) sync() {
	c.t.Helper()
	c.sendJSON(map[string]any{"a": "pp"})
	if m := c.next(); m.A != "pp" {
		c.t.Fatalf("got %s; want the pp answer (nothing else was expected)", m)
	}
}

// expectClose reads until the close frame and returns its code.
func (c *sdbConn) expectClose() (ws.StatusCode, []sdbMsg) {
	c.t.Helper()
	var msgs []sdbMsg
	for {
		op, p, err := c.nextFrame(waitTimeout)
		if err != nil {
			c.t.Fatalf("waiting for the close frame: %v (after %v)", err, msgs)
		}
		if op == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(p)
			return code, msgs
		}
		var m sdbMsg
		m.raw = bytes.Clone(p)
		_ = json.Unmarshal(p, &m.M)
		_ = json.Unmarshal(m.M["a"], &m.A)
		msgs = append(msgs, m)
	}
}

// sdbFixture is a workspace of "owner" with "editor" and "viewer" members
// and a table with a text field (primary) and a number field.
type sdbFixture struct {
	ws, tbl     int64
	text, num   string // field ids
	col         string // record_<tbl>
	firstRow    int64
	firstRowVer int64
}

func newSdbFixture(t *testing.T, tn *testNode) sdbFixture {
	t.Helper()
	var w struct{ ID int64 }
	tn.rest(t, "owner", "POST", "/api/workspaces", map[string]any{"name": "sdb"}, "", &w)
	for user, role := range map[string]string{"editor": "editor", "viewer": "viewer"} {
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", w.ID), map[string]any{"user_id": user, "role": role}, "", &struct{}{})
	}
	var tb struct {
		ID     int64
		Fields []struct{ ID int64 }
	}
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/tables", w.ID), map[string]any{
		"name": "t", "fields": []map[string]any{{"name": "Name", "type": "text"}, {"name": "N", "type": "number"}},
	}, "", &tb)
	f := sdbFixture{ws: w.ID, tbl: tb.ID, text: fmt.Sprint(tb.Fields[0].ID), num: fmt.Sprint(tb.Fields[1].ID), col: fmt.Sprintf("record_%d", tb.ID)}
	var row struct{ ID, Version int64 }
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tb.ID), map[string]any{"fields": map[string]any{f.text: "hello"}}, "", &row)
	f.firstRow, f.firstRowVer = row.ID, row.Version
	return f
}
