package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestDialRequestsAndMessages(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{autoPong: true})
	c := dial(t, Config{URL: fs.URL, Token: "u1", SessionID: "s1"})
	sc := fs.accept(t)
	ctx := testCtx(t)

	if q := sc.req.URL.Query(); q.Get("token") != "u1" || q.Get("session_id") != "s1" {
		t.Errorf("query = %v, want token=u1 session_id=s1", q)
	}
	want := Connected{ConnectionID: "c_1", UserID: "u1", SessionID: "s1", HeartbeatInterval: 30, MaxMessageSize: 65536}
	if got := c.Info(); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	var res SubscribeResult
	done := async(func() (err error) {
		res, err = c.Subscribe(ctx, "record_1", "")
		return err
	})
	m := sc.expect(t, TypeSubscribe)
	if m.Collection != "record_1" || m.Document != "" || m.Data != nil || m.ID == "" {
		t.Errorf("subscribe message = %+v", m)
	}
	sc.reply(m, SubscribeResult{Offset: 40, Epoch: "e1"})
	if err := wait(t, done); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if res != (SubscribeResult{Offset: 40, Epoch: "e1"}) {
		t.Errorf("Subscribe = %+v", res)
	}

	sc.push(TypeOp, "record_1", "r1", 41)
	sc.send(Message{Type: TypePresence, Collection: "record_1", Data: mustJSON(map[string]any{"user_id": "u2"})})
	sc.send(Message{Type: TypeError, Error: &ErrorBody{Code: 400, Message: "invalid message"}})
	sc.push(TypeOp, "record_1", "r1", 41) // duplicate: dropped
	sc.push(TypeOp, "record_1", "r2", 42)
	for _, want := range []struct {
		typ    string
		offset uint64
	}{{TypeOp, 41}, {TypePresence, 0}, {TypeError, 0}, {TypeOp, 42}} {
		m := recv(t, c)
		var off uint64
		if m.Offset != nil {
			off = *m.Offset
		}
		if m.Type != want.typ || off != want.offset {
			t.Fatalf("got %s at %d, want %s at %d", m.Type, off, want.typ, want.offset)
		}
	}
	if pos, ok := c.Position("record_1"); !ok || pos != (Position{Offset: 42, Epoch: "e1"}) {
		t.Errorf("Position = %+v %v, want 42/e1", pos, ok)
	}

	// An error reply is a *ServerError.
	done = async(func() error {
		_, err := c.Request(ctx, Message{Type: TypeQuery, Collection: "record_9"})
		return err
	})
	m = sc.expect(t, TypeQuery)
	sc.send(Message{Type: TypeError, ID: m.ID, Error: &ErrorBody{Code: 404, Message: "unknown collection"}})
	var se *ServerError
	if err := wait(t, done); !errors.As(err, &se) || se.Code != 404 || se.Message != "unknown collection" {
		t.Errorf("Request error = %v, want *ServerError 404", err)
	}

	// Presence nil leaves: data is null.
	done = async(func() error { return c.Presence(ctx, "record_1", "r1", nil) })
	m = sc.expect(t, TypePresence)
	if string(m.Data) != "null" || m.Document != "r1" {
		t.Errorf("presence = %+v, data %s", m, m.Data)
	}
	sc.reply(m, nil)
	if err := wait(t, done); err != nil {
		t.Errorf("Presence: %v", err)
	}

	// The server ends a subscription: delivered, and forgotten.
	sc.send(Message{Type: TypeUnsubscribe, Collection: "record_1", Data: mustJSON(map[string]string{"reason": "forbidden"})})
	if m := recv(t, c); m.Type != TypeUnsubscribe {
		t.Errorf("got %s, want unsubscribe", m.Type)
	}
	if _, ok := c.Position("record_1"); ok {
		t.Error("record_1 still tracked after a server unsubscribe")
	}

	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if code := sc.closeCode(t); code != ws.StatusNormalClosure {
		t.Errorf("server saw close code %d, want 1000", code)
	}
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", c.Err())
	}
	if _, ok := <-c.Messages(); ok {
		t.Error("Messages not closed")
	}
	if _, err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
}

func TestUnsubscribe(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1"})
	sc := fs.accept(t)
	ctx := testCtx(t)

	done := async(func() error { _, err := c.Subscribe(ctx, "chat", "room1"); return err })
	sc.reply(sc.expect(t, TypeSubscribe), SubscribeResult{Offset: 1, Epoch: "e"})
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	done = async(func() error { return c.Unsubscribe(ctx, "chat", "room1") })
	m := sc.expect(t, TypeUnsubscribe)
	if m.Collection != "chat" || m.Document != "room1" {
		t.Errorf("unsubscribe = %+v", m)
	}
	sc.reply(m, nil)
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Position("chat"); ok {
		t.Error("chat still tracked")
	}
}

func TestTokenInHeaderAndLocalAddr(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{
		URL:       fs.URL,
		Token:     "u2",
		TokenMode: TokenInHeader,
		Header:    http.Header{"Origin": {"http://app.example"}},
		LocalAddr: "127.0.0.5",
	})
	sc := fs.accept(t)
	if got := sc.req.Header.Get("Authorization"); got != "Bearer u2" {
		t.Errorf("Authorization = %q", got)
	}
	if got := sc.req.Header.Get("Origin"); got != "http://app.example" {
		t.Errorf("Origin = %q", got)
	}
	if sc.req.URL.Query().Has("token") {
		t.Error("token in the query with TokenInHeader")
	}
	if host, _, _ := net.SplitHostPort(sc.req.RemoteAddr); host != "127.0.0.5" {
		t.Errorf("source address = %s, want 127.0.0.5", host)
	}
	if c.Info().UserID != "u2" {
		t.Errorf("UserID = %q", c.Info().UserID)
	}
}

func TestTokenInConnect(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u3", TokenMode: TokenInConnect, SessionID: "tab1"})
	sc := fs.accept(t)
	if q := sc.req.URL.Query(); q.Has("token") || q.Has("session_id") {
		t.Errorf("query = %v, want nothing with TokenInConnect", q)
	}
	if sc.connect.Type != TypeConnect {
		t.Fatalf("first message = %+v", sc.connect)
	}
	if info := c.Info(); info.UserID != "u3" || info.SessionID != "tab1" {
		t.Errorf("Info() = %+v", info)
	}
}

func TestTokenInConnectRejected(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{rejectConnect: true})
	_, err := Dial(testCtx(t), Config{URL: fs.URL, Token: "bad", TokenMode: TokenInConnect})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("Dial = %v, want *ServerError 401", err)
	}
}

func TestHandshakeRefused(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		status   int
		body     string
		wantCode string
		wantMsg  string
	}{
		{
			status:   401,
			body:     `{"error":{"code":"unauthorized","message":"invalid token"}}`,
			wantCode: "unauthorized",
			wantMsg:  "invalid token",
		},
		{
			status:   503,
			body:     `{"error":{"code":503,"message":"draining"}}`,
			wantCode: "503",
			wantMsg:  "draining",
		},
		{
			status: 429,
			body:   `not json`,
		},
	} {
		fs := newFakeServer(t, fakeOptions{refuse: func(*http.Request) (int, string) { return tc.status, tc.body }})
		_, err := Dial(testCtx(t), Config{URL: fs.URL, Token: "x"})
		var he *HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("Dial = %v, want *HandshakeError", err)
		}
		if he.Status != tc.status || he.Code != tc.wantCode || he.Message != tc.wantMsg {
			t.Errorf("HandshakeError = %+v, want %d %q %q", he, tc.status, tc.wantCode, tc.wantMsg)
		}
	}
}

func TestSendRawAndBinary(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1"})
	sc := fs.accept(t)
	if err := c.SendRaw([]byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendBinary([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(Message{Type: "bogus", ID: "mine"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		op  ws.OpCode
		raw string
	}{{ws.OpText, "not json"}, {ws.OpBinary, "\x01\x02\x03"}, {ws.OpText, `{"type":"bogus","id":"mine"}`}} {
		f, ok := sc.next()
		if !ok || f.op != want.op || string(f.raw) != want.raw {
			t.Errorf("server got %v %q, want %v %q", f.op, f.raw, want.op, want.raw)
		}
	}
	// A reply to a message sent with Send is nobody's: it goes to Messages.
	sc.send(Message{Type: TypeError, ID: "mine", Error: &ErrorBody{Code: 400, Message: "unknown type"}})
	if m := recv(t, c); m.Type != TypeError || m.ID != "mine" {
		t.Errorf("got %+v", m)
	}
}

func TestReconnectResubscribesWithSince(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	ev := make(events, 256)
	c := dial(t, Config{
		URL:          fs.URL,
		Token:        "u1",
		Reconnect:    true,
		ReconnectMin: time.Millisecond,
		ReconnectMax: 5 * time.Millisecond,
		OnEvent:      ev.on,
	})
	ev.next(t, EventConnected)
	sc := fs.accept(t)
	ctx := testCtx(t)

	subscribe := func(collection, document string, res SubscribeResult) {
		t.Helper()
		done := async(func() error { _, err := c.Subscribe(ctx, collection, document); return err })
		sc.reply(sc.expect(t, TypeSubscribe), res)
		if err := wait(t, done); err != nil {
			t.Fatal(err)
		}
	}
	subscribe("record_1", "", SubscribeResult{Offset: 10, Epoch: "e1"})
	subscribe("chat", "room1", SubscribeResult{Offset: 3, Epoch: "e2"})
	sc.push(TypeOp, "record_1", "r1", 11)
	sc.push(TypeMessage, "chat", "room1", 4)
	recv(t, c)
	recv(t, c)

	// A request in flight when the connection drops fails.
	pendingReq := async(func() error { _, err := c.Request(ctx, Message{Type: TypeQuery, Collection: "record_1"}); return err })
	sc.expect(t, TypeQuery)
	sc.drop()
	if err := wait(t, pendingReq); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("in-flight request = %v, want ErrConnectionLost", err)
	}
	if e := ev.next(t, EventDisconnected); !errors.Is(e.Err, ErrConnectionLost) {
		t.Errorf("Disconnected.Err = %v", e.Err)
	}
	ev.next(t, EventReconnecting)
	sc = fs.accept(t)
	ev.next(t, EventConnected)

	// Collections in order, each with its since.
	chat := sc.expect(t, TypeSubscribe)
	rec := sc.expect(t, TypeSubscribe)
	if chat.Collection != "chat" || chat.Document != "room1" || since(t, chat) != (Position{Offset: 4, Epoch: "e2"}) {
		t.Errorf("chat resubscribe = %+v since %+v", chat, since(t, chat))
	}
	if rec.Collection != "record_1" || rec.Document != "" || since(t, rec) != (Position{Offset: 11, Epoch: "e1"}) {
		t.Errorf("record_1 resubscribe = %+v since %+v", rec, since(t, rec))
	}

	// chat replays (4 is a duplicate) and recovers; record_1 cannot.
	sc.push(TypeMessage, "chat", "room1", 4)
	sc.push(TypeMessage, "chat", "room1", 5)
	sc.push(TypeMessage, "chat", "room1", 6)
	sc.reply(chat, SubscribeResult{Offset: 6, Epoch: "e2", Recovered: true})
	sc.reply(rec, SubscribeResult{Offset: 50, Epoch: "e9", Recovered: false})
	sc.push(TypeOp, "record_1", "r1", 51)
	for _, want := range []uint64{5, 6, 51} {
		if m := recv(t, c); m.Offset == nil || *m.Offset != want {
			t.Fatalf("got %+v, want offset %d", m, want)
		}
	}
	if e := ev.next(t, EventRecovered); e.Collection != "chat" || e.Document != "room1" || e.Result.Offset != 6 {
		t.Errorf("Recovered = %+v", e)
	}
	if e := ev.next(t, EventNotRecovered); e.Collection != "record_1" || e.Result.Epoch != "e9" {
		t.Errorf("NotRecovered = %+v", e)
	}
	if pos, _ := c.Position("record_1"); pos != (Position{Offset: 51, Epoch: "e9"}) {
		t.Errorf("record_1 position = %+v", pos)
	}
	if pos, _ := c.Position("chat"); pos != (Position{Offset: 6, Epoch: "e2"}) {
		t.Errorf("chat position = %+v", pos)
	}
}

func TestResubscribeRefused(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	ev := make(events, 256)
	c := dial(t, Config{URL: fs.URL, Token: "u1", Reconnect: true, ReconnectMin: time.Millisecond, OnEvent: ev.on})
	sc := fs.accept(t)
	ctx := testCtx(t)
	done := async(func() error { _, err := c.Subscribe(ctx, "record_7", ""); return err })
	sc.reply(sc.expect(t, TypeSubscribe), SubscribeResult{Offset: 1, Epoch: "e"})
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	sc.drop()
	sc = fs.accept(t)
	m := sc.expect(t, TypeSubscribe)
	sc.send(Message{Type: TypeError, ID: m.ID, Error: &ErrorBody{Code: 403, Message: "not a member"}})
	var se *ServerError
	if e := ev.next(t, EventResubscribeFailed); !errors.As(e.Err, &se) || se.Code != 403 || e.Collection != "record_7" {
		t.Errorf("ResubscribeFailed = %+v", e)
	}
	if _, ok := c.Position("record_7"); ok {
		t.Error("refused subscription still tracked")
	}
}

func TestTokenFuncOnReconnect(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	tokens := make(chan string, 2)
	tokens <- "t1"
	tokens <- "t2"
	c := dial(t, Config{
		URL:          fs.URL,
		Reconnect:    true,
		ReconnectMin: time.Millisecond,
		TokenFunc:    func(context.Context) (string, error) { return <-tokens, nil },
	})
	fs.accept(t).closeWith(CloseTokenExpired, "token expired")
	sc := fs.accept(t)
	if got := sc.req.URL.Query().Get("token"); got != "t2" {
		t.Errorf("token after reconnect = %q, want t2", got)
	}
	_ = c
}

func TestReconnectRefusedEnds(t *testing.T) {
	noLeaks(t)
	var refuse = make(chan struct{})
	fs := newFakeServer(t, fakeOptions{refuse: func(*http.Request) (int, string) {
		select {
		case <-refuse:
			return 403, `{"error":{"code":"forbidden","message":"origin not allowed"}}`
		default:
			return 0, ""
		}
	}})
	c := dial(t, Config{URL: fs.URL, Token: "u1", Reconnect: true, ReconnectMin: time.Millisecond})
	sc := fs.accept(t)
	close(refuse)
	sc.drop()
	waitDone(t, c)
	var he *HandshakeError
	if !errors.As(c.Err(), &he) || he.Status != 403 {
		t.Errorf("Err() = %v, want *HandshakeError 403", c.Err())
	}
}

func TestDisconnectWithoutReconnect(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1", Reconnect: true, ReconnectMin: time.Millisecond})
	sc := fs.accept(t)
	sc.send(Message{Type: TypeDisconnect, Data: mustJSON(disconnectData{Code: CloseKicked, Reason: "kicked", Reconnect: false})})
	sc.closeWith(CloseKicked, "kicked")
	if m := recv(t, c); m.Type != TypeDisconnect {
		t.Errorf("got %s, want disconnect", m.Type)
	}
	waitDone(t, c)
	if _, ok := <-c.Messages(); ok {
		t.Error("Messages not closed")
	}
	var ce *CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != CloseKicked || ce.Reason != "kicked" || ce.Reconnect {
		t.Errorf("Err() = %v, want *CloseError 4003", c.Err())
	}
	if n := fs.count.Load(); n != 1 {
		t.Errorf("%d connections, want no reconnect", n)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the end: %v", err)
	}
}

func TestConnectionLostWithoutReconnect(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1"})
	fs.accept(t).drop()
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Errorf("Err() = %v, want ErrConnectionLost", c.Err())
	}
}

func TestAutoPing(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{autoPong: true})
	// The pong must beat the next tick: leave room for a loaded machine.
	c := dial(t, Config{URL: fs.URL, Token: "u1", PingInterval: 50 * time.Millisecond})
	for range 3 {
		select {
		case <-fs.pings:
		case <-c.Done():
			t.Fatalf("client ended: %v", c.Err())
		case <-time.After(failsafe):
			t.Fatal("no ping")
		}
	}
	select {
	case <-c.Done():
		t.Fatalf("client ended: %v", c.Err())
	default:
	}
}

func TestPingTimeout(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1", PingInterval: 2 * time.Millisecond})
	sc := fs.accept(t)
	sc.expect(t, TypePing) // never answered
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrPingTimeout) {
		t.Errorf("Err() = %v, want ErrPingTimeout", c.Err())
	}
}

func TestCloseWhileReconnecting(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	ev := make(events, 256)
	c := dial(t, Config{URL: fs.URL, Token: "u1", Reconnect: true, ReconnectMin: time.Hour, OnEvent: ev.on})
	fs.accept(t).drop()
	ev.next(t, EventReconnecting)
	if _, err := c.Ping(testCtx(t)); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Ping while reconnecting = %v, want ErrNotConnected", err)
	}
	done := async(c.Close)
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() = %v", c.Err())
	}
}

func TestCloseWithSlowConsumer(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	c := dial(t, Config{URL: fs.URL, Token: "u1", MessageBuffer: 1})
	sc := fs.accept(t)
	for i := range 10 {
		sc.push(TypeMessage, "chat", "", uint64(i+1))
	}
	// Nobody reads Messages: the reader is blocked; Close must still end it.
	if err := wait(t, async(c.Close)); err != nil {
		t.Fatal(err)
	}
	if code := sc.closeCode(t); code != ws.StatusNormalClosure {
		t.Errorf("server saw close code %d, want 1000", code)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 10*time.Second
	for attempt := 1; attempt <= 20; attempt++ {
		ceil := min(hi, lo<<min(attempt-1, 30))
		for range 50 {
			if d := backoff(attempt, lo, hi); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempt, d, ceil)
			}
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "http://localhost/api/ws/socket"},
		{URL: "ws://localhost/api/ws/socket", LocalAddr: "not-an-ip"},
	} {
		if _, err := Dial(context.Background(), cfg); err == nil {
			t.Errorf("Dial(%+v) succeeded", cfg)
		}
	}
}

// TestSubscribeRetriesUnavailable: a subscription refused for now (503 with
// retry_after, the server's broker away) is sent again by the client
// itself, after retry_after; so is a resubscription after a reconnect,
// from the position the client holds.
func TestSubscribeRetriesUnavailable(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	ev := make(events, 256)
	c := dial(t, Config{URL: fs.URL, Token: "u1", Reconnect: true, ReconnectMin: time.Millisecond, ReconnectMax: 5 * time.Millisecond, OnEvent: ev.on})
	sc := fs.accept(t)
	ctx := testCtx(t)
	var res SubscribeResult
	done := async(func() (err error) { res, err = c.Subscribe(ctx, "lobby", ""); return err })
	unavailable := &ErrorBody{Code: 503, Message: "temporarily unavailable: retry", RetryAfter: 1}
	first := sc.expect(t, TypeSubscribe)
	refused := time.Now()
	sc.send(Message{Type: TypeError, ID: first.ID, Error: unavailable})
	again := sc.expect(t, TypeSubscribe)
	if waited := time.Since(refused); waited < 900*time.Millisecond {
		t.Errorf("retried after %v, before retry_after (1 s)", waited)
	}
	if again.ID == first.ID || again.Collection != "lobby" {
		t.Errorf("retry = %+v", again)
	}
	sc.reply(again, SubscribeResult{Offset: 4, Epoch: "e", Recovered: true})
	if err := wait(t, done); err != nil || res.Offset != 4 {
		t.Fatalf("Subscribe = %+v, %v", res, err)
	}

	sc.drop()
	sc = fs.accept(t)
	m := sc.expect(t, TypeSubscribe)
	sc.send(Message{Type: TypeError, ID: m.ID, Error: &ErrorBody{Code: 503, Message: "temporarily unavailable: retry"}})
	m = sc.expect(t, TypeSubscribe)
	if got := since(t, m); got != (Position{Offset: 4, Epoch: "e"}) {
		t.Errorf("resubscription retried from %+v, want offset 4", got)
	}
	sc.reply(m, SubscribeResult{Offset: 4, Epoch: "e", Recovered: true})
	ev.next(t, EventRecovered)
	if p, ok := c.Position("lobby"); !ok || p.Offset != 4 {
		t.Errorf("position after the retried resubscription = %+v %v", p, ok)
	}
}

// TestServerUnsubscribeWithReconnect: an unsubscribe the server sends with
// reconnect true (a subscription it could not keep for now) makes the
// client subscribe again from its position; without it the subscription
// is forgotten.
func TestServerUnsubscribeWithReconnect(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{})
	ev := make(events, 256)
	c := dial(t, Config{URL: fs.URL, Token: "u1", OnEvent: ev.on})
	sc := fs.accept(t)
	ctx := testCtx(t)
	done := async(func() error { _, err := c.Subscribe(ctx, "publicview_s", ""); return err })
	sc.reply(sc.expect(t, TypeSubscribe), SubscribeResult{Offset: 3, Epoch: "e"})
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	sc.send(Message{Type: TypeUnsubscribe, Collection: "publicview_s", Data: mustJSON(map[string]any{"reason": "unavailable", "reconnect": true})})
	m := sc.expect(t, TypeSubscribe)
	if got := since(t, m); got != (Position{Offset: 3, Epoch: "e"}) || m.Collection != "publicview_s" {
		t.Fatalf("resubscription %+v from %+v", m, got)
	}
	sc.reply(m, SubscribeResult{Offset: 3, Epoch: "e", Recovered: true})
	ev.next(t, EventRecovered)
	sc.send(Message{Type: TypeUnsubscribe, Collection: "publicview_s", Data: mustJSON(map[string]any{"reason": "forbidden"})})
	if m := recv(t, c); m.Type != TypeUnsubscribe {
		t.Fatalf("got %+v", m)
	}
	if _, ok := c.Position("publicview_s"); ok {
		t.Error("a revoked subscription is still tracked")
	}
}
