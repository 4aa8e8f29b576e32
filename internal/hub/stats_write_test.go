package hub

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// fullTransport never takes a non-blocking write, as a socket whose buffer
// is full: every batch written to it goes through Conn.drainSlow.
type fullTransport struct{ *fakeTransport }

func (fullTransport) TryWriteBuffers(*net.Buffers) (int64, error) { return 0, nil }

// TestStatsCountEveryFrameWritten: the frames and bytes every writer and
// the slow drains wrote are in Stats, and every publication's frame is in
// the fanout latency histogram (replies are not: they have no publication
// time), in the bucket its latency falls in.
func TestStatsCountEveryFrameWritten(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	h := newTestHub(t, func(c *Config) {
		c.Writers = 2
		c.Now = func() time.Time { return at }
	})
	const conns, msgs = 40, 5
	trs := h.subscribers(t, conns, "chat")
	slow := fullTransport{newFakeTransport()}
	sc, err := h.NewConn(ConnInfo{ID: "slow", Transport: slow, Session: lineSession{}})
	if err != nil {
		t.Fatal(err)
	}
	h.Authenticate(sc, "s", "slow", time.Time{})
	h.sub(t, sc, "chat", "", nil)
	trs = append(trs, slow.fakeTransport)

	for i := range msgs {
		p := msg("chat", "", fmt.Sprint(i))
		p.Time = at.Add(-3 * time.Millisecond) // written 3 ms after it entered
		h.publish(t, p)
	}
	var bytes int64
	for _, tr := range trs {
		tr.waitLines(t, 1+msgs)
		tr.mu.Lock()
		bytes += int64(tr.buf.Len())
		tr.mu.Unlock()
	}
	// Shutdown waits for the writers and drains, so every write they made
	// is counted; its goodbyes are written outside the counted path.
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	s := h.Stats()
	if want := int64((conns + 1) * (1 + msgs)); s.MessagesOut != want {
		t.Errorf("messages out %d, want %d (every reply and publication)", s.MessagesOut, want)
	}
	if s.BytesOut != bytes {
		t.Errorf("bytes out %d, the transports got %d", s.BytesOut, bytes)
	}
	if got, want := h.slowOut.frames.Load(), int64(1+msgs); got != want {
		t.Errorf("the slow drains counted %d frames, want %d (all of the full socket's)", got, want)
	}
	l := h.FanoutLatency()
	n := uint64((conns + 1) * msgs)
	if l.Count() != n || l.Counts[5] != n || l.Sum != time.Duration(n)*3*time.Millisecond {
		t.Errorf("fanout latency %v (count %d), want all %d in the (2.5ms, 5ms] bucket, sum %v",
			l.Counts, l.Count(), n, time.Duration(n)*3*time.Millisecond)
	}
}

// TestStatsSumEveryWriter: what each writer and the slow drains counted is
// summed, each latency in its bucket (bounds inclusive, the last bucket
// unbounded).
func TestStatsSumEveryWriter(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.Writers = 3 })
	at := time.Unix(100, 0)
	now := func() time.Time { return at }
	stamp := func(d time.Duration) int64 { return at.Add(-d).UnixNano() }
	for i := range h.writers {
		// a reply (no stamp) and a publication written 1 ms after it entered
		h.writers[i].out.record(2, int64(10*(i+1)), []int64{0, stamp(time.Millisecond)}, now)
	}
	h.slowOut.record(2, 5, []int64{stamp(2500 * time.Millisecond), stamp(3 * time.Second)}, now)

	s := h.Stats()
	if s.MessagesOut != 8 || s.BytesOut != 10+20+30+5 {
		t.Errorf("messages out %d, bytes out %d; want 8 and 65", s.MessagesOut, s.BytesOut)
	}
	l := h.FanoutLatency()
	want := make([]uint64, len(fanoutBounds)+1)
	want[3] = 3                   // 1ms: the bucket up to 1ms
	want[len(fanoutBounds)-1] = 1 // 2.5s: the last bounded bucket
	want[len(fanoutBounds)] = 1   // 3s: the unbounded one
	if fmt.Sprint(l.Counts) != fmt.Sprint(want) || l.Sum != 3*time.Millisecond+5500*time.Millisecond {
		t.Errorf("fanout latency %v sum %v, want %v sum 5.503s", l.Counts, l.Sum, want)
	}
	if len(l.Bounds) != len(fanoutBounds) || l.Bounds[0] != 100*time.Microsecond {
		t.Errorf("bounds %v", l.Bounds)
	}
}
