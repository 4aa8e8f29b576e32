package hub

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"
)

// TestEventsStayInTheirStream: with every collection in one shard, an event
// of table:1 whose renderer names a collection of table:2 does not reach
// that collection's subscribers (it would carry table 1's offset).
func TestEventsStayInTheirStream(t *testing.T) {
	ob := &outbox{}
	h := newTestHub(t, func(c *Config) {
		c.Streams = ob
		c.Renderers[0] = eventLines{}
		c.Shards = 1
	})
	_, trOne := h.subscriber(t, "u1", "rec_1", "")
	_, trTwo := h.subscriber(t, "u2", "rec_2", "")

	stray := ob.commit(1, "a")
	stray.Data, _ = json.Marshal(map[string]any{"table": 2, "docs": []string{"a"}})
	h.publish(t, stray)
	h.publish(t, ob.commit(1, "b"))
	h.publish(t, ob.commit(2, "c"))

	trOne.expect(t, "subscribed rec_1 0 true|ev 2 rec_1.b")
	trTwo.expect(t, "subscribed rec_2 0 true|ev 1 rec_2.c")
}

func TestRevokeChannel(t *testing.T) {
	h, ob := newStreamHub(t)
	_, trA1 := h.subscriber(t, "u1", "rec_1", "a")
	docA2, trA2 := h.subscriber(t, "u2", "rec_1", "a")
	h.sub(t, docA2, "rec_1", "b", nil)
	_, trWhole := h.subscriber(t, "u3", "rec_1", "")
	_, trOther := h.subscriber(t, "u4", "rec_2", "")

	if n := h.RevokeChannel("rec_1", "a"); n != 2 {
		t.Fatalf("RevokeChannel(rec_1, a) = %d, want 2", n)
	}
	if n := h.RevokeChannel("rec_1", "a"); n != 0 {
		t.Fatalf("again: %d, want 0", n)
	}
	h.publish(t, ob.commit(1, "a", "b"))
	trA1.expect(t, "subscribed rec_1.a 0 true|revoked rec_1.a")
	trA2.expect(t, "subscribed rec_1.a 0 true|subscribed rec_1.b 0 true|revoked rec_1.a|ev 1 rec_1.b")
	trWhole.waitLines(t, 3)

	// The whole collection: its subscribers and every document's.
	if n := h.RevokeChannel("rec_1", ""); n != 2 {
		t.Fatalf("RevokeChannel(rec_1) = %d, want 2", n)
	}
	h.publish(t, ob.commit(1, "b"))
	h.publish(t, ob.commit(2, "z"))
	trOther.expect(t, "subscribed rec_2 0 true|ev 1 rec_2.z")
	trWhole.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ev 1 rec_1.b|revoked rec_1")
	if got := trA2.waitLines(t, 5); got[len(got)-1] != "revoked rec_1.b" {
		t.Errorf("u2 got %q", got)
	}
	if s := h.Stats(); s.Subscriptions != 1 {
		t.Errorf("subscriptions left: %d, want 1", s.Subscriptions)
	}
}

type closingSession struct {
	lineSession
	closed atomic.Int32
}

func (s *closingSession) Closed() { s.closed.Add(1) }

func TestSessionCloserIsToldOnce(t *testing.T) {
	h, _ := newStreamHub(t)
	sess := &closingSession{}
	c, err := h.NewConn(ConnInfo{ID: "closer", Transport: newFakeTransport(), Session: sess})
	if err != nil {
		t.Fatal(err)
	}
	h.Authenticate(c, "u", "closer", time.Time{})
	h.sub(t, c, "rec_1", "", nil)
	c.Disconnect(DisconnectKicked)
	<-c.Done()
	c.Abort()
	if n := sess.closed.Load(); n != 1 {
		t.Fatalf("Closed called %d times, want 1", n)
	}
	if s := h.Stats(); s.Subscriptions != 0 {
		t.Fatalf("subscriptions left: %d", s.Subscriptions)
	}
}
