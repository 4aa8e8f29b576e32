package hub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDeliveryReachesCollectionAndDocumentSubscribersOnce(t *testing.T) {
	h := newTestHub(t, nil)
	_, trCol := h.subscriber(t, "u1", "rows", "")
	_, trDoc := h.subscriber(t, "u2", "rows", "r1")
	both, trBoth := h.subscriber(t, "u3", "rows", "")
	h.sub(t, both, "rows", "r1", nil)
	_, trOther := h.subscriber(t, "u4", "rows", "r2")

	p := msg("rows", "r1", `{"x":1}`)
	h.publish(t, p)
	h.publish(t, msg("rows", "", `{"all":1}`))

	want := map[*fakeTransport][]string{
		trCol:  {"subscribed rows 0 true", "message rows.r1 1 {\"x\":1}", "message rows 2 {\"all\":1}"},
		trDoc:  {"subscribed rows.r1 0 true", "message rows.r1 1 {\"x\":1}"},
		trBoth: {"subscribed rows 0 true", "subscribed rows.r1 1 true", "message rows.r1 1 {\"x\":1}", "message rows 2 {\"all\":1}"},
	}
	// "both" subscribed to the document after the first subscription, at offset 0:
	// its second reply still says offset 0 since nothing was published yet.
	want[trBoth][1] = "subscribed rows.r1 0 true"
	for tr, lines := range want {
		tr.expect(t, strings.Join(lines, "|"))
	}
	if got := p.Delivered(); got != 3 {
		t.Errorf("document message delivered %d times, want 3 (collection, document, both once)", got)
	}
	// Its subscribe reply is written by the writer pool like everything
	// else: wait for it, then nothing beyond it may have come (the
	// messages above were queued to every subscriber before the waits).
	trOther.waitLines(t, 1)
	if l := trOther.lines(); len(l) != 1 {
		t.Errorf("subscriber of another document got %q", l)
	}
}

func TestExclusions(t *testing.T) {
	h := newTestHub(t, nil)
	a, trA := h.conn(t, "alice")
	b, trB := h.conn(t, "bob")
	c, trC := h.conn(t, "carol")
	for _, conn := range []*Conn{a, b, c} {
		h.sub(t, conn, "news", "", nil)
	}
	tests := []struct {
		name string
		pub  *Publication
		want map[*fakeTransport]bool
	}{
		{"by connection", &Publication{Kind: KindMessage, Collection: "news", Data: []byte("1"), Exclude: []string{a.ID()}},
			map[*fakeTransport]bool{trA: false, trB: true, trC: true}},
		{"by user", &Publication{Kind: KindMessage, Collection: "news", Data: []byte("2"), ExcludeUsers: []string{"bob"}},
			map[*fakeTransport]bool{trA: true, trB: false, trC: true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.publish(t, tt.pub)
			// A barrier everyone receives: once each has it, whatever was
			// queued for them before has been written too.
			barrier := fmt.Sprintf(`"barrier%d"`, i)
			bp := h.publish(t, msg("news", "", barrier))
			for tr, want := range tt.want {
				lines := tr.waitLines(t, 1)
				for !strings.Contains(lines[len(lines)-1], barrier) {
					lines = tr.waitLines(t, len(lines)+1)
				}
				got := strings.Contains(strings.Join(lines, "\n"), fmt.Sprintf("news %d %s", tt.pub.Offset, tt.pub.Data))
				if got != want {
					t.Errorf("delivered=%v, want %v (barrier at %d): %q", got, want, bp.Offset, lines)
				}
			}
		})
	}
}

func TestSubscribeSinceReplaysExactlyWhatWasMissed(t *testing.T) {
	h := newTestHub(t, nil)
	var last stream.Position
	for i := 1; i <= 5; i++ {
		last = h.publish(t, msg("feed", "", strconv.Itoa(i)))
	}
	tests := []struct {
		name  string
		since stream.Position
		want  []string
	}{
		{"missed three", stream.Position{Offset: 2, Epoch: last.Epoch},
			[]string{"message feed 3 3", "message feed 4 4", "message feed 5 5", "subscribed feed 5 true"}},
		{"up to date", last, []string{"subscribed feed 5 true"}},
		{"other epoch", stream.Position{Offset: 2, Epoch: "nope"}, []string{"subscribed feed 5 false"}},
		{"from the future", stream.Position{Offset: 99, Epoch: last.Epoch}, []string{"subscribed feed 5 false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, tr := h.conn(t, "u")
			since := tt.since
			h.sub(t, c, "feed", "", &since)
			tr.expect(t, strings.Join(tt.want, "|"))
		})
	}
	t.Run("pruned", func(t *testing.T) {
		for i := 6; i <= 20; i++ { // the history keeps 10
			last = h.publish(t, msg("feed", "", strconv.Itoa(i)))
		}
		c, tr := h.conn(t, "u")
		h.sub(t, c, "feed", "", &stream.Position{Offset: 3, Epoch: last.Epoch})
		if got := tr.waitLines(t, 1); got[0] != "subscribed feed 20 false" || len(got) != 1 {
			t.Errorf("got %q", got)
		}
	})
	t.Run("document subscription replays only its document", func(t *testing.T) {
		before := h.publish(t, msg("feed", "d1", "1"))
		h.publish(t, msg("feed", "d2", "2"))
		h.publish(t, msg("feed", "d1", "3"))
		c, tr := h.conn(t, "u")
		h.sub(t, c, "feed", "d1", &stream.Position{Offset: before.Offset - 1, Epoch: before.Epoch})
		tr.expect(t, "message feed.d1 21 1|message feed.d1 23 3|subscribed feed.d1 23 true")
	})
}

// TestSubscriptionIsLiveFromItsReply publishes while clients subscribe: every
// subscriber must see each offset after its reply exactly once, in order.
func TestSubscriptionIsLiveFromItsReply(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.SendQueue = 64 << 20 })
	const publishes = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < publishes; i++ {
			if _, err := h.Publish(context.Background(), msg("live", "", `"x"`)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var trs []*fakeTransport
	for i := 0; i < 20; i++ {
		c, tr := h.conn(t, "u")
		h.sub(t, c, "live", "", nil)
		trs = append(trs, tr)
	}
	<-done
	for _, tr := range trs {
		lines := tr.waitLines(t, 1)
		var from int
		if _, err := fmt.Sscanf(lines[0], "subscribed live %d true", &from); err != nil {
			t.Fatalf("first line %q: %v", lines[0], err)
		}
		lines = tr.waitLines(t, 1+publishes-from)
		for i, l := range lines[1:] {
			if want := fmt.Sprintf("message live %d \"x\"", from+1+i); l != want {
				t.Fatalf("after reply at %d, line %d is %q, want %q", from, i, l, want)
			}
		}
	}
}

func TestBroadcastToUserReachesAllTheirConnections(t *testing.T) {
	h := newTestHub(t, nil)
	_, tr1 := h.conn(t, "ann")
	c2, tr2 := h.conn(t, "ann")
	_, trOther := h.conn(t, "ben")
	unauth, trUnauth := h.conn(t, "")
	_ = unauth
	p := &Publication{Kind: KindUser, Target: Target{UserID: "ann"}, Data: []byte(`"hi"`), Exclude: []string{c2.ID()}}
	h.publish(t, p)
	tr1.waitLines(t, 1)
	if p.Delivered() != 1 || len(tr2.lines()) != 0 || len(trOther.lines()) != 0 || len(trUnauth.lines()) != 0 {
		t.Fatalf("delivered %d; excluded %q, other %q", p.Delivered(), tr2.lines(), trOther.lines())
	}
	p2 := &Publication{Kind: KindUser, Target: Target{UserID: "ann"}, Data: []byte(`"all"`)}
	h.publish(t, p2)
	tr2.waitLines(t, 1)
	if p2.Delivered() != 2 {
		t.Fatalf("delivered to %d connections, want 2", p2.Delivered())
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.SendQueue = 1024 })
	c, tr := h.conn(t, "slow")
	tr.block = make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(tr.block) }) }
	t.Cleanup(release)
	fast, trFast := h.conn(t, "fast")
	h.sub(t, c, "firehose", "", nil)
	h.sub(t, fast, "firehose", "", nil)
	big := `"` + strings.Repeat("x", 200) + `"`
	for i := 0; i < 10; i++ {
		h.publish(t, msg("firehose", "", big))
		trFast.waitLines(t, 2+i) // the fast client reads each one
	}
	release()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("slow consumer not closed")
	}
	lines := tr.lines()
	if last := lines[len(lines)-1]; last != "disconnect 4002" {
		t.Fatalf("last frame %q, want the 4002 disconnect", last)
	}
	if got := h.Stats().DroppedSlow; got != 1 {
		t.Fatalf("dropped_slow %d, want 1", got)
	}
	if got := len(trFast.waitLines(t, 11)); got != 11 {
		t.Fatalf("fast consumer got %d lines", got)
	}
	if st := h.Stats(); st.Connections != 1 || st.Subscriptions != 1 {
		t.Fatalf("slow consumer not forgotten: %+v", st)
	}
}

// TestStuckConsumerCountsAsSlow: a client that reads nothing for the
// write timeout is closed, and counted with the slow consumers, though
// its queue never overflowed.
func TestStuckConsumerCountsAsSlow(t *testing.T) {
	h := newTestHub(t, nil)
	c, tr := h.conn(t, "stuck")
	tr.block, tr.expire = make(chan struct{}), true
	t.Cleanup(func() { close(tr.block) })
	h.sub(t, c, "ch", "", nil)
	h.publish(t, msg("ch", "", `"x"`))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("stuck consumer not closed")
	}
	if got := h.Stats().DroppedSlow; got != 1 {
		t.Fatalf("dropped_slow %d, want 1", got)
	}
}

func TestPresenceJoinUpdateLeave(t *testing.T) {
	h := newTestHub(t, nil)
	_, trW := h.subscriber(t, "w", "doc", "")
	actor, _ := h.subscriber(t, "a", "doc", "")
	ctx := context.Background()

	if err := h.SetPresence(ctx, actor, "doc", "", []byte(`{"cell":"A1"}`)); err != nil {
		t.Fatal(err)
	}
	if err := h.SetPresence(ctx, actor, "doc", "", []byte(`{"cell":"B2"}`)); err != nil {
		t.Fatal(err)
	}
	if got := h.Presence("doc", ""); len(got) != 1 || string(got[0].State) != `{"cell":"B2"}` {
		t.Fatalf("presence %+v", got)
	}
	_, trLate := h.subscriber(t, "late", "doc", "")
	if got := trLate.waitLines(t, 2); got[1] != `presence doc 0 {"cell":"B2"}` {
		t.Fatalf("late subscriber was not told who is here: %q", got)
	}
	h.Unsubscribe(ctx, actor, "doc", "")
	trW.expect(t, `subscribed doc 0 true|presence doc 0 {"cell":"A1"}|presence doc 0 {"cell":"B2"}|presence doc 0 null`)
	if got := h.Presence("doc", ""); len(got) != 0 {
		t.Fatalf("presence after leaving: %+v", got)
	}
	t.Run("disconnect ends presence", func(t *testing.T) {
		other, _ := h.conn(t, "o")
		if err := h.SetPresence(ctx, other, "doc", "", []byte(`{"here":true}`)); err != nil {
			t.Fatal(err)
		}
		trW.waitLines(t, 5)
		other.Abort()
		if got := trW.waitLines(t, 6); got[5] != "presence doc 0 null" {
			t.Fatalf("got %q", got)
		}
	})
}

func TestSweeperClosesSilentExpiredAndUnauthenticated(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(10000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := newTestHub(t, func(c *Config) {
		c.Now = clock
		c.HeartbeatInterval = 10 * time.Second
		c.ConnectionTimeout = 30 * time.Second
		c.AuthTimeout = 5 * time.Second
		c.PingFrame = []byte("ping\n")
	})
	silent, trSilent := h.conn(t, "s")
	expiring, trExp := h.conn(t, "e")
	expiring.SetExpiry(now.Add(15 * time.Second))
	alive, trAlive := h.conn(t, "a")
	unauth, trUnauth := h.conn(t, "")

	advance(6 * time.Second)
	h.sweepOnce()
	<-unauth.Done()
	if got := trUnauth.lines(); len(got) != 1 || got[0] != "disconnect 4001" {
		t.Fatalf("unauthenticated: %q", got)
	}
	advance(5 * time.Second)
	alive.Touch()
	h.sweepOnce()
	if got := trAlive.waitLines(t, 1); got[0] != "ping" {
		t.Fatalf("no ping after the heartbeat interval: %q", got)
	}
	advance(5 * time.Second)
	h.sweepOnce()
	<-expiring.Done()
	if got := trExp.lines(); got[len(got)-1] != "disconnect 4001" {
		t.Fatalf("expired: %q", got)
	}
	advance(15 * time.Second)
	alive.Touch()
	h.sweepOnce()
	<-silent.Done()
	if got := trSilent.lines(); got[len(got)-1] != "disconnect 4005" {
		t.Fatalf("silent: %q", got)
	}
	select {
	case <-alive.Done():
		t.Fatal("a connection showing signs of life was closed")
	default:
	}
}

func TestTooManySubscriptions(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.MaxSubscriptions = 2 })
	c, _ := h.subscriber(t, "u", "a", "")
	h.sub(t, c, "b", "", nil)
	h.sub(t, c, "a", "", nil) // again: not a new subscription
	_, err := h.Subscribe(context.Background(), c, SubscribeRequest{Collection: "c"})
	if err != ErrTooManySubscriptions {
		t.Fatalf("err %v, want ErrTooManySubscriptions", err)
	}
	h.Unsubscribe(context.Background(), c, "a", "")
	h.sub(t, c, "c", "", nil)
}

func TestShutdownDisconnectsEveryoneAndStopsGoroutines(t *testing.T) {
	hist := stream.NewMemoryHistory(stream.MemoryHistoryConfig{})
	defer hist.Close()
	h, err := New(Config{Broker: NewMemoryBroker(hist), Renderers: [MaxDialects]Renderer{lineRenderer{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	th := &testHub{Hub: h}
	var trs []*fakeTransport
	for i := 0; i < 5; i++ {
		c, tr := th.conn(t, "u")
		th.sub(t, c, "x", "", nil)
		trs = append(trs, tr)
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		l := tr.lines()
		if l[len(l)-1] != "disconnect 4000" || !tr.closed {
			t.Fatalf("after shutdown: %q closed=%v", l, tr.closed)
		}
	}
	if _, err := h.NewConn(ConnInfo{ID: "late", Transport: newFakeTransport(), Session: lineSession{}}); err != ErrClosed {
		t.Fatalf("new connection during shutdown: %v", err)
	}
	if st := h.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.Channels != 0 {
		t.Fatalf("stats after shutdown: %+v", st)
	}
}

func TestUserIndexKeepsTheRemainingConnections(t *testing.T) {
	h := newTestHub(t, nil)
	first, _ := h.conn(t, "zoe")
	_, tr2 := h.conn(t, "zoe")
	third, tr3 := h.conn(t, "zoe")
	if got := h.Stats().Users; got != 1 {
		t.Fatalf("users %d, want 1", got)
	}
	first.Abort() // the one kept inline: another takes its place
	p := &Publication{Kind: KindUser, Target: Target{UserID: "zoe"}, Data: []byte(`1`)}
	h.publish(t, p)
	tr2.waitLines(t, 1)
	tr3.waitLines(t, 1)
	if p.Delivered() != 2 || len(h.Online("zoe")) != 2 {
		t.Fatalf("delivered %d, online %d; want 2 and 2", p.Delivered(), len(h.Online("zoe")))
	}
	third.Abort()
	if got := len(h.UserConns("zoe")); got != 1 {
		t.Fatalf("%d connections left, want 1", got)
	}
	for _, c := range h.UserConns("zoe") {
		c.Abort()
	}
	if st := h.Stats(); st.Users != 0 || st.Connections != 0 {
		t.Fatalf("after everyone left: %+v", st)
	}
}

// countingRenderer fails on the data `"bad"` and counts its calls for it.
type countingRenderer struct {
	lineRenderer
	bad *atomic.Int64
}

func (r countingRenderer) Render(p *Publication) ([]byte, error) {
	if string(p.Data) == `"bad"` {
		r.bad.Add(1)
		return nil, errors.New("cannot render")
	}
	return r.lineRenderer.Render(p)
}

// A publication that does not render is rendered once, not once per
// subscriber, and reaches nobody; the next one goes out as usual.
func TestRenderFailureIsNotRetriedPerSubscriber(t *testing.T) {
	var bad atomic.Int64
	h := newTestHub(t, func(c *Config) { c.Renderers[0] = countingRenderer{bad: &bad} })
	trs := h.subscribers(t, 3, "rows")
	h.publish(t, msg("rows", "", `"bad"`))
	h.publish(t, msg("rows", "", `"good"`))
	for _, tr := range trs {
		tr.expect(t, `subscribed rows 0 true|message rows 2 "good"`)
	}
	if n := bad.Load(); n != 1 {
		t.Fatalf("the failing publication was rendered %d times, want once", n)
	}
}
