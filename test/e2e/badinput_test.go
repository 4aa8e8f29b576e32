package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/pkg/client"
)

// badCase is one piece of bad input sent on a fresh connection.
type badCase struct {
	name  string
	send  func(rc *rawConn)
	code  int    // the error reply's code; 0: no error reply
	id    string // the error reply's id
	close ws.StatusCode
}

func text(s string) func(*rawConn) { return func(rc *rawConn) { rc.sendText(s) } }

// rawHeader writes a frame header as given (masked or not) and its payload.
func rawHeader(h ws.Header, payload []byte) func(*rawConn) {
	return func(rc *rawConn) {
		rc.t.Helper()
		p := append([]byte(nil), payload...)
		h.Length = int64(len(p))
		if h.Masked {
			h.Mask = ws.NewMask()
			ws.Cipher(p, h.Mask, 0)
		}
		if err := ws.WriteHeader(rc.nc, h); err != nil {
			rc.t.Fatal(err)
		}
		if _, err := rc.nc.Write(p); err != nil {
			rc.t.Fatal(err)
		}
	}
}

func badInputCases() []badCase {
	long := strings.Repeat("c", 129)
	cases := []badCase{
		{name: "not JSON", send: text("hello"), code: 400},
		{name: "JSON array", send: text(`[{"type":"ping","id":"x"}]`), code: 400},
		{name: "JSON string", send: text(`"ping"`), code: 400},
		{name: "JSON number", send: text(`42`), code: 400},
		{name: "JSON null", send: text(`null`), code: 400},
		{name: "empty frame", send: text(""), code: 400},
		{name: "only whitespace", send: text(" \n\t"), code: 400},
		{name: "truncated object", send: text(`{"type":"ping","id":"t"`), code: 400},
		{name: "trailing garbage", send: text(`{"type":"ping","id":"t"} x`), code: 400},
		{name: "missing type", send: text(`{"id":"m1"}`), code: 400, id: "m1"},
		{name: "empty type", send: text(`{"type":"","id":"m2"}`), code: 400, id: "m2"},
		{name: "type a number", send: text(`{"type":5,"id":"m3"}`), code: 400, id: "m3"},
		{name: "unknown type", send: text(`{"type":"explode","id":"m4"}`), code: 400, id: "m4"},
		{name: "collection a number", send: text(`{"type":"subscribe","id":"m5","collection":5}`), code: 400, id: "m5"},
		{name: "document an array", send: text(`{"type":"subscribe","id":"m6","collection":"allowed","document":[]}`), code: 400, id: "m6"},
		{name: "id an object", send: text(`{"type":"ping","id":{}}`), code: 400},
		{name: "id a number", send: text(`{"type":"ping","id":7}`), code: 400},
		{name: "id longer than 64", send: text(`{"type":"ping","id":"` + strings.Repeat("i", 65) + `"}`), code: 400},
		{name: "since not an object", send: text(`{"type":"subscribe","id":"m7","collection":"allowed","data":{"since":"yesterday"}}`), code: 400, id: "m7"},
		{name: "since offset a string", send: text(`{"type":"subscribe","id":"m8","collection":"allowed","data":{"since":{"offset":"1","epoch":"e"}}}`), code: 400, id: "m8"},
		{name: "collection with a space", send: text(`{"type":"subscribe","id":"n1","collection":"bad name"}`), code: 400, id: "n1"},
		{name: "collection with a dot", send: text(`{"type":"subscribe","id":"n2","collection":"allowed.x"}`), code: 400, id: "n2"},
		{name: "collection with a slash", send: text(`{"type":"subscribe","id":"n3","collection":"allowed/x"}`), code: 400, id: "n3"},
		{name: "collection not ASCII", send: text(`{"type":"subscribe","id":"n4","collection":"allowedü"}`), code: 400, id: "n4"},
		{name: "collection empty", send: text(`{"type":"subscribe","id":"n5","collection":""}`), code: 400, id: "n5"},
		{name: "collection missing", send: text(`{"type":"subscribe","id":"n6"}`), code: 400, id: "n6"},
		{name: "collection of 129", send: text(`{"type":"subscribe","id":"n7","collection":"` + long + `"}`), code: 400, id: "n7"},
		{name: "document of 129", send: text(`{"type":"subscribe","id":"n8","collection":"allowed","document":"` + long + `"}`), code: 400, id: "n8"},
		{name: "document with a star", send: text(`{"type":"subscribe","id":"n9","collection":"allowed","document":"*"}`), code: 400, id: "n9"},
		{name: "unsubscribe bad name", send: text(`{"type":"unsubscribe","id":"u1","collection":"a b"}`), code: 400, id: "u1"},
		{name: "presence bad name", send: text(`{"type":"presence","id":"p1","collection":"a b","data":{}}`), code: 400, id: "p1"},
		{name: "connect when connected", send: text(`{"type":"connect","id":"c1","data":{"token":"x"}}`), code: 400, id: "c1"},
		{name: "forbidden app channel", send: text(`{"type":"subscribe","id":"f1","collection":"secret"}`), code: 403, id: "f1"},
		{name: "forbidden presence", send: text(`{"type":"presence","id":"f2","collection":"secret","data":{}}`), code: 403, id: "f2"},
		{name: "query on an app channel", send: text(`{"type":"query","id":"q1","collection":"allowed","data":{}}`), code: 400, id: "q1"},
		{name: "submit on an app channel", send: text(`{"type":"submit","id":"q2","collection":"allowed","document":"d","data":{"v":0,"op":[]}}`), code: 400, id: "q2"},
		{name: "query on record_12", send: text(`{"type":"query","id":"q3","collection":"record_12","data":{}}`), code: 404, id: "q3"},
		{name: "submit on record_12", send: text(`{"type":"submit","id":"q4","collection":"record_12","document":"rec1","data":{"v":0,"op":[]}}`), code: 404, id: "q4"},
		{name: "binary frame", send: func(rc *rawConn) { rc.mustWrite(ws.OpBinary, []byte(`{"type":"ping","id":"b"}`)) }, code: 400},
		{name: "empty binary frame", send: func(rc *rawConn) { rc.mustWrite(ws.OpBinary, nil) }, code: 400},

		// Connection-ending input.
		{name: "invalid UTF-8", send: func(rc *rawConn) { rc.mustWrite(ws.OpText, []byte("{\"type\":\"ping\",\"id\":\"\xff\xfe\"}")) }, close: ws.StatusInvalidFramePayloadData},
		{name: "oversized frame", send: text(`{"type":"ping","id":"big","pad":"` + strings.Repeat("x", 2000) + `"}`), code: 413, close: ws.StatusMessageTooBig},
		{name: "oversized frame of 256KiB", send: func(rc *rawConn) {
			// The server stops reading at the header: the write may fail.
			_ = rc.writeFrame(ws.OpText, []byte(`{"type":"ping","pad":"`+strings.Repeat("z", 256<<10)+`"}`))
		}, code: 413, close: ws.StatusMessageTooBig},
		{name: "oversized in fragments", send: func(rc *rawConn) {
			part := []byte(strings.Repeat("y", 700))
			rawHeader(ws.Header{Fin: false, OpCode: ws.OpText, Masked: true}, part)(rc)
			rawHeader(ws.Header{Fin: true, OpCode: ws.OpContinuation, Masked: true}, part)(rc)
		}, code: 413, close: ws.StatusMessageTooBig},
		{name: "unmasked frame", send: rawHeader(ws.Header{Fin: true, OpCode: ws.OpText}, []byte(`{"type":"ping"}`)), close: ws.StatusProtocolError},
		{name: "reserved bits", send: rawHeader(ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText, Masked: true}, []byte(`{"type":"ping"}`)), close: ws.StatusProtocolError},
		{name: "reserved opcode", send: rawHeader(ws.Header{Fin: true, OpCode: 0x3, Masked: true}, []byte(`x`)), close: ws.StatusProtocolError},
		{name: "continuation without a message", send: rawHeader(ws.Header{Fin: true, OpCode: ws.OpContinuation, Masked: true}, []byte(`x`)), close: ws.StatusProtocolError},
		{name: "fragmented ping", send: rawHeader(ws.Header{Fin: false, OpCode: ws.OpPing, Masked: true}, []byte(`x`)), close: ws.StatusProtocolError},
		{name: "disconnect message", send: text(`{"type":"disconnect","id":"bye"}`), close: ws.StatusNormalClosure},
	}
	for _, col := range []string{"record_12", "field_3", "view_3", "table_7", "publicview_abc"} {
		cases = append(cases, badCase{
			name: "subscribe to " + col, code: 404, id: "s-" + col,
			send: text(`{"type":"subscribe","id":"s-` + col + `","collection":"` + col + `"}`),
		})
	}
	return cases
}

// TestBadInput sends each piece of bad input on its own connection and
// checks the error code, whether the connection survives (a ping still
// gets its pong) or is closed with the right code, and that another client
// notices nothing (its next message is the next broadcast).
func TestBadInput(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-message-size", "1024"))
	observer := tn.dialUser(t, "observer", "watch")
	subscribe(t, observer, "watch", "")
	n := 0
	for _, tc := range badInputCases() {
		t.Run(tc.name, func(t *testing.T) {
			rc, _ := tn.rawUser(t, "user", "allowed*")
			tc.send(rc)
			if tc.close == 0 {
				expectError(t, rc.next(), tc.code, tc.id)
				rc.ping()
			} else {
				code, before := rc.expectClose(waitTimeout)
				if code != tc.close {
					t.Errorf("close code %d; want %d", code, tc.close)
				}
				switch {
				case tc.code != 0 && len(before) == 1:
					expectError(t, before[0], tc.code, tc.id)
				case tc.code != 0 || len(before) != 0:
					t.Errorf("before the close: %v; want only an error %d", before, tc.code)
				}
			}
			n++
			tn.broadcast(t, "watch", n)
			recvMessage(t, observer, "watch", n)
		})
	}
}

// TestErrorReplyIDNeverLongerThan64: an id over 64 characters is never
// repeated, even when the message has another fault too.
func TestErrorReplyIDNeverLongerThan64(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "user", "allowed")
	long := strings.Repeat("L", 100)
	for _, msg := range []string{
		`{"type":"ping","id":"` + long + `"}`,
		`{"type":"subscribe","id":"` + long + `","collection":5}`,
		`{"type":5,"id":"` + long + `"}`,
	} {
		rc.sendText(msg)
		m := rc.next()
		if m.Type != "error" || m.Error == nil || m.Error.Code != 400 {
			t.Errorf("%s: got %s; want error 400", msg, m)
		}
		if len(m.ID) > 64 {
			t.Errorf("%s: the error reply repeats an id of %d characters (at most 64)", msg, len(m.ID))
		}
	}
}

// TestChannelsClaim: app channels are allowed by the token's channels claim,
// a trailing * matching any suffix.
func TestChannelsClaim(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc, _ := tn.rawUser(t, "alice", "news*", "chat", "a*b")
	none, _ := tn.rawUser(t, "bob")
	for _, tc := range []struct {
		collection string
		ok         bool
	}{
		{"news", true}, {"news-eu", true}, {"newsroom", true}, {"news:x_y", true},
		{"chat", true}, {"chat-2", false}, {"cha", false}, {"sport", false},
		{"a*b", false}, {"axb", false}, // a * inside an entry is literal, and a*b is not a valid name
		{"NEWS", false},
	} {
		rc.sendJSON(map[string]any{"type": "subscribe", "id": "s", "collection": tc.collection})
		m := rc.next()
		if tc.ok && m.Type != "subscribe" {
			t.Errorf("subscribe %q: %s; want allowed", tc.collection, m)
		}
		if !tc.ok {
			want := 403
			if strings.Contains(tc.collection, "*") {
				want = 400
			}
			if m.Type != "error" || m.Error.Code != want {
				t.Errorf("subscribe %q: %s; want error %d", tc.collection, m, want)
			}
		}
	}
	expectError(t, none.request(map[string]any{"type": "subscribe", "id": "x", "collection": "news"}), 403, "x")
}

// TestMaxSubscriptions: one subscription too many is refused (error 429,
// as session.go answers); subscribing again to a channel does not count.
func TestMaxSubscriptions(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-subscriptions", "2"))
	rc, _ := tn.rawUser(t, "alice", "*")
	rc.subscribe("a", "", nil)
	rc.subscribe("a", "doc", nil)
	expectError(t, rc.request(map[string]any{"type": "subscribe", "id": "third", "collection": "c"}), 429, "third")
	rc.subscribe("a", "", nil) // again: not a new one
	rc.request(map[string]any{"type": "unsubscribe", "collection": "a"})
	rc.subscribe("c", "", nil)
	if s := tn.stats(t); s.Subscriptions != 2 {
		t.Errorf("stats subscriptions %d; want 2", s.Subscriptions)
	}
}

// TestRateLimit: messages over the limit get error 429, the connection
// stays open and recovers once the bucket refills; others notice nothing.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--rate-limit", "5/s,5"))
	observer := tn.dialUser(t, "observer", "watch")
	subscribe(t, observer, "watch", "")
	rc, _ := tn.rawUser(t, "flooder")
	const sent = 15
	for i := 0; i < sent; i++ {
		rc.sendJSON(map[string]any{"type": "ping", "id": fmt.Sprint(i)})
	}
	pongs, limited := 0, 0
	for i := 0; i < sent; i++ {
		m := rc.next()
		switch {
		case m.Type == "pong":
			pongs++
		case m.Type == "error" && m.Error.Code == 429:
			limited++
		default:
			t.Fatalf("reply %d: %s", i, m)
		}
	}
	if limited < sent-6 || pongs == 0 {
		t.Errorf("%d pongs and %d errors 429 for %d pings at 5/s with a burst of 5", pongs, limited, sent)
	}
	// Still open: once tokens are back, pings are answered again.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(waitTimeout); ; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatal("no pong after the flood")
		}
		if m := rc.request(map[string]any{"type": "ping"}); m.Type == "pong" {
			break
		}
	}
	tn.broadcast(t, "watch", "still here")
	recvMessage(t, observer, "watch", "still here")
}

// TestRateLimitedRequestsGetAReply: a request refused by the rate limit is
// still a request: its error reply must carry its id (the envelope rule),
// or a client waiting for that id (pkg/client.Request) waits forever.
func TestRateLimitedRequestsGetAReply(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--rate-limit", "2/s,2"))
	c := tn.dialUser(t, "alice")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := c.Ping(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	unanswered := 0
	for err := range errs {
		var se *client.ServerError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code == 429:
		case errors.Is(err, context.DeadlineExceeded):
			unanswered++
		default:
			t.Errorf("ping: %v", err)
		}
	}
	if unanswered > 0 {
		t.Errorf("%d of 8 rate-limited pings never got a reply with their id (the 429 error has no id)", unanswered)
	}
}

// TestRateAbuse: a sustained flood far over the limit is disconnected with
// 4004; another client notices nothing. The flood (2,000 messages a second,
// 100 times the limit) is paced so that the flooder reads its replies as
// fast as they come: see TestRateAbuseUnpacedFlood for why.
func TestRateAbuse(t *testing.T) {
	t.Parallel()
	testRateAbuse(t, 20)
}

// TestRateAbuseUnpacedFlood: the same with a flooder that writes as fast as
// it can. The server's disconnect 4004 and close frame must still reach it.
// They do not: the server closes the socket while unread client data sits
// in its receive buffer, so the kernel resets the connection and drops the
// unsent disconnect and close frames.
func TestRateAbuseUnpacedFlood(t *testing.T) {
	t.Parallel()
	testRateAbuse(t, 0)
}

// testRateAbuse floods with perTick messages every 10ms (0: no pause).
func testRateAbuse(t *testing.T, perTick int) {
	tn := startNode(t, withArgs("--rate-limit", "20/s,20"), withAbuseWindow(500*time.Millisecond))
	observer := tn.dialUser(t, "observer", "watch")
	subscribe(t, observer, "watch", "")
	rc, _ := tn.rawUser(t, "flooder")

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		frame := []byte(`{"type":"ping"}`)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < perTick || perTick == 0; i++ {
				if rc.writeFrame(ws.OpText, frame) != nil {
					return
				}
				if perTick == 0 && i == 1000 {
					break
				}
			}
			if perTick > 0 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}
	}()
	code, before := rc.expectClose(10 * time.Second)
	close(stop)
	<-done
	if code != 4004 {
		t.Errorf("close code %d; want 4004", code)
	}
	if len(before) == 0 || before[len(before)-1].Type != "disconnect" {
		t.Fatalf("no disconnect message before close (%d messages)", len(before))
	}
	last := before[len(before)-1]
	if !jsonEqual(t, dataField(t, last.Data, "code"), 4004) || !jsonEqual(t, dataField(t, last.Data, "reconnect"), true) {
		t.Errorf("disconnect %s; want code 4004, reconnect true", last)
	}
	limited := 0
	for _, m := range before[:len(before)-1] {
		if m.Type == "error" && m.Error.Code == 429 {
			limited++
		} else if m.Type != "pong" {
			t.Errorf("unexpected message during the flood: %s", m)
		}
	}
	if limited == 0 {
		t.Error("no error 429 before the 4004")
	}
	tn.broadcast(t, "watch", "fine")
	recvMessage(t, observer, "watch", "fine")
	// The flooder may come back.
	rc2, _ := tn.rawUser(t, "flooder")
	rc2.ping()
}
