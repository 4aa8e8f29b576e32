package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// rawConn is a client WebSocket connection driven frame by frame: it sends
// whatever it is told (junk included) and reads the server's frames as they
// are, control frames and close codes included. It answers nothing by
// itself unless autoPong is set, so a test decides whether it shows signs
// of life.
type rawConn struct {
	wsFrames
	nextID int
}

// wsFrames is the frame layer of a test's own WebSocket client (rawConn
// here, and the Baserow and ShareDB harnesses): masked frames out, the
// server's frames in, pings counted and, with autoPong, answered.
type wsFrames struct {
	t        *testing.T
	nc       net.Conn
	rd       io.Reader
	autoPong bool
	pings    int // WebSocket ping frames seen
}

// wireMsg is a server message as it arrived.
type wireMsg struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	Document   string          `json:"document"`
	Data       json.RawMessage `json:"data"`
	Error      *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Offset    *uint64 `json:"offset"`
	Timestamp string  `json:"timestamp"`

	raw []byte
}

func (m wireMsg) String() string { return string(m.raw) }

// refusal is an HTTP answer to an upgrade request that was not 101.
type refusal struct {
	Status      int
	ContentType string
	Code        string // error.code
	Message     string // error.message
	Body        []byte
}

// rawOpts configures rawDial.
type rawOpts struct {
	query  url.Values
	header http.Header
	rcvBuf int // SO_RCVBUF of the client socket, to make a slow reader (0: default)
	// noSettle skips the WebSocket ping rawDial sends right after the
	// upgrade (see expectConnected for why it sends one).
	noSettle bool
}

// rawDial opens a raw connection. It returns the refusal when the server
// answered the upgrade with an HTTP error; any other failure ends the test.
func (tn *testNode) rawDial(t *testing.T, o rawOpts) (*rawConn, *refusal) {
	t.Helper()
	u := tn.wsURL
	if len(o.query) > 0 {
		u += "?" + o.query.Encode()
	}
	var ref *refusal
	nd := net.Dialer{}
	if o.rcvBuf > 0 {
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	d := ws.Dialer{
		Header:  ws.HandshakeHeaderHTTP(o.header),
		NetDial: nd.DialContext,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			ref = &refusal{Status: status}
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			defer r.Body.Close()
			ref.ContentType = r.Header.Get("Content-Type")
			ref.Body, _ = io.ReadAll(r.Body)
			var e apiErrorBody
			if json.Unmarshal(ref.Body, &e) == nil {
				ref.Code, ref.Message = e.Error.Code, e.Error.Message
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, u)
	if err != nil {
		if ref != nil {
			return nil, ref
		}
		t.Fatalf("raw dial %s: %v", u, err)
	}
	rc := &rawConn{wsFrames: wsFrames{t: t, nc: nc, rd: nc}}
	if br != nil {
		rc.rd = br
	}
	t.Cleanup(func() { _ = nc.Close() })
	if !o.noSettle {
		// The server answers with a pong frame, which nextFrame skips.
		if err := rc.writeFrame(ws.OpPing, []byte("settle")); err != nil {
			t.Fatalf("settle ping: %v", err)
		}
	}
	return rc, nil
}

// mustRawDial is rawDial that fails the test on a refusal.
func (tn *testNode) mustRawDial(t *testing.T, o rawOpts) *rawConn {
	t.Helper()
	rc, ref := tn.rawDial(t, o)
	if ref != nil {
		t.Fatalf("upgrade refused: %d %s", ref.Status, ref.Body)
	}
	return rc
}

// rawUser opens a raw connection for sub (token in the query) and reads
// its connected message.
func (tn *testNode) rawUser(t *testing.T, sub string, channels ...string) (*rawConn, connectedData) {
	t.Helper()
	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {tokenFor(t, sub, channels...)}}})
	return rc, rc.expectConnected()
}

// connectedData is the data of a connected message.
type connectedData struct {
	ConnectionID      string `json:"connection_id"`
	UserID            string `json:"user_id"`
	SessionID         string `json:"session_id"`
	HeartbeatInterval *int   `json:"heartbeat_interval"`
	MaxMessageSize    *int   `json:"max_message_size"`
}

// expectConnected reads the connected message, then makes one ping round
// trip.
//
// The ping works around a data race in the server (see
// TestBugTransportCloseRace): a connection the server closes before it has
// read anything from it races Poller.Watch's write of Conn.poller against
// Conn.Close's read. One message read by the server orders the two.
func (rc *rawConn) expectConnected() connectedData {
	rc.t.Helper()
	m := rc.next()
	if m.Type != "connected" {
		rc.t.Fatalf("first message: %s; want connected", m)
	}
	var d connectedData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		rc.t.Fatalf("connected data %s: %v", m.Data, err)
	}
	rc.ping()
	return d
}

// ---- writing ----

// writeFrame sends one masked, final frame.
func (rc *wsFrames) writeFrame(op ws.OpCode, payload []byte) error {
	p := append([]byte(nil), payload...)
	_ = rc.nc.SetWriteDeadline(time.Now().Add(waitTimeout))
	return ws.WriteFrame(rc.nc, ws.MaskFrameInPlace(ws.NewFrame(op, true, p)))
}

func (rc *wsFrames) mustWrite(op ws.OpCode, payload []byte) {
	rc.t.Helper()
	if err := rc.writeFrame(op, payload); err != nil {
		rc.t.Fatalf("write %v frame: %v", op, err)
	}
}

func (rc *wsFrames) sendText(s string) { rc.t.Helper(); rc.mustWrite(ws.OpText, []byte(s)) }

func (rc *wsFrames) sendJSON(v any) { rc.t.Helper(); rc.mustWrite(ws.OpText, mustJSON(rc.t, v)) }

// request sends m (a map; an id is added when it has none) and returns the
// next message, which should be its reply.
func (rc *rawConn) request(m map[string]any) wireMsg {
	rc.t.Helper()
	if _, ok := m["id"]; !ok {
		rc.nextID++
		m["id"] = fmt.Sprintf("r%d", rc.nextID)
	}
	rc.sendJSON(m)
	return rc.next()
}

// ping sends a ping message and expects its pong next: the connection is
// alive and nothing else was waiting.
func (rc *rawConn) ping() {
	rc.t.Helper()
	rc.nextID++
	id := fmt.Sprintf("ping%d", rc.nextID)
	m := rc.request(map[string]any{"type": "ping", "id": id})
	if m.Type != "pong" || m.ID != id {
		rc.t.Fatalf("after ping %q got %s; want its pong", id, m)
	}
}

// subscribe subscribes, expects the reply next, and returns once the
// subscription is live.
func (rc *rawConn) subscribe(collection, document string, data any) wireMsg {
	rc.t.Helper()
	m := map[string]any{"type": "subscribe", "collection": collection}
	if document != "" {
		m["document"] = document
	}
	if data != nil {
		m["data"] = data
	}
	r := rc.request(m)
	if r.Type != "subscribe" || r.ID != m["id"] {
		rc.t.Fatalf("subscribe %s.%s: got %s", collection, document, r)
	}
	rc.ping() // the subscription is live once this is answered (see subscribe)
	return r
}

// ---- reading ----

// readFrame reads one frame within timeout.
func (rc *wsFrames) readFrame(timeout time.Duration) (ws.Header, []byte, error) {
	_ = rc.nc.SetReadDeadline(time.Now().Add(timeout))
	h, err := ws.ReadHeader(rc.rd)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(rc.rd, p); err != nil {
		return h, nil, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	return h, p, nil
}

// nextFrame returns the next text frame or close frame, counting (and with
// autoPong answering) pings on the way.
func (rc *wsFrames) nextFrame(timeout time.Duration) (ws.OpCode, []byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		h, p, err := rc.readFrame(time.Until(deadline))
		if err != nil {
			return 0, nil, err
		}
		if !h.Fin {
			rc.t.Errorf("server sent a fragmented frame (op %v)", h.OpCode)
		}
		if h.Masked {
			rc.t.Errorf("server sent a masked frame (op %v)", h.OpCode)
		}
		switch h.OpCode {
		case ws.OpPing:
			rc.pings++
			if rc.autoPong {
				if err := rc.writeFrame(ws.OpPong, p); err != nil {
					return 0, nil, err
				}
			}
		case ws.OpPong:
		default:
			return h.OpCode, p, nil
		}
	}
}

// next returns the next message; a close frame, a binary frame or silence
// fail the test.
func (rc *rawConn) next() wireMsg {
	rc.t.Helper()
	return rc.nextWithin(waitTimeout)
}

func (rc *rawConn) nextWithin(timeout time.Duration) wireMsg {
	rc.t.Helper()
	op, p, err := rc.nextFrame(timeout)
	if err != nil {
		rc.t.Fatalf("reading a message: %v", err)
	}
	switch op {
	case ws.OpText:
		return rc.decode(p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		rc.t.Fatalf("connection closed (%d %q) while a message was expected", code, reason)
	default:
		rc.t.Fatalf("unexpected %v frame: %q", op, p)
	}
	return wireMsg{}
}

func (rc *rawConn) decode(p []byte) wireMsg {
	rc.t.Helper()
	var m wireMsg
	if err := json.Unmarshal(p, &m); err != nil {
		rc.t.Fatalf("server message is not a JSON object: %q: %v", p, err)
	}
	m.raw = bytes.Clone(p)
	if m.Type == "" {
		rc.t.Errorf("server message without type: %s", p)
	}
	checkTimestamp(rc.t, m.Type, m.Timestamp)
	return m
}

// expectClose reads until the server's close frame and returns its code and
// the messages that came before it.
func (rc *rawConn) expectClose(timeout time.Duration) (ws.StatusCode, []wireMsg) {
	rc.t.Helper()
	deadline := time.Now().Add(timeout)
	var before []wireMsg
	for {
		op, p, err := rc.nextFrame(time.Until(deadline))
		if err != nil {
			rc.t.Fatalf("waiting for a close frame (after %d messages): %v", len(before), err)
		}
		switch op {
		case ws.OpText:
			before = append(before, rc.decode(p))
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(p)
			// After the close frame the server closes the TCP connection.
			if _, _, err := rc.readFrame(time.Until(deadline)); err == nil {
				rc.t.Errorf("a frame followed the close frame")
			}
			return code, before
		default:
			rc.t.Fatalf("unexpected %v frame while waiting for close", op)
		}
	}
}

// expectDisconnect expects a disconnect message with code and reconnect,
// then a close frame with the same code, with nothing in between.
func (rc *rawConn) expectDisconnect(code int, reconnect bool, timeout time.Duration) {
	rc.t.Helper()
	got, before := rc.expectClose(timeout)
	if int(got) != code {
		rc.t.Errorf("close code %d; want %d", got, code)
	}
	if len(before) == 0 {
		rc.t.Fatalf("no disconnect message before close %d", got)
	}
	d := before[len(before)-1]
	var data struct {
		Code      int    `json:"code"`
		Reason    string `json:"reason"`
		Reconnect *bool  `json:"reconnect"`
	}
	if d.Type != "disconnect" || json.Unmarshal(d.Data, &data) != nil {
		rc.t.Fatalf("last message before close: %s; want disconnect", d)
	}
	if data.Code != code || data.Reconnect == nil || *data.Reconnect != reconnect || data.Reason == "" {
		rc.t.Errorf("disconnect data %s; want code %d, reconnect %v and a reason", d.Data, code, reconnect)
	}
	for _, m := range before[:len(before)-1] {
		rc.t.Errorf("unexpected message before the disconnect: %s", m)
	}
}

// expectError checks that m is an error reply with code and id.
func expectError(t *testing.T, m wireMsg, code int, id string) {
	t.Helper()
	if m.Type != "error" || m.Error == nil || m.Error.Code != code || m.ID != id || m.Error.Message == "" {
		t.Fatalf("got %s; want error %d with id %q and a message", m, code, id)
	}
}
