package hub

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
)

// stallTransport holds its first non-blocking write until release is
// closed, as a writev does when the operating system sets the writer's
// thread aside: the writer that flushes it is stuck meanwhile.
type stallTransport struct {
	*fakeTransport
	entered chan struct{} // closed when the first write began
	release chan struct{}
	once    sync.Once
	calls   int // guarded by the hub: one flusher per connection at a time
}

// newStallTransport returns a transport released at the latest when t ends
// (before the hub's shutdown, which waits for its writers).
func newStallTransport(t *testing.T) *stallTransport {
	s := &stallTransport{fakeTransport: newFakeTransport(), entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(s.free)
	return s
}

func (t *stallTransport) free() { t.once.Do(func() { close(t.release) }) }

func (t *stallTransport) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	t.calls++
	if t.calls == 1 {
		close(t.entered)
		<-t.release
	}
	return t.fakeTransport.TryWriteBuffers(bufs)
}

// TestAStuckWriterDoesNotHoldItsConnections: while one writer is stuck in a
// write, its sibling flushes what was pushed to it (its head) and, once it
// is free again, the stuck one takes back part of the sibling's list (its
// taken list): every other subscriber gets the publication.
func TestAStuckWriterDoesNotHoldItsConnections(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.Writers = 2 })
	// Connections are given writers in turn: z and y share a writer (A).
	z := newStallTransport(t)
	zc, err := h.NewConn(ConnInfo{ID: "z", Transport: z, Session: lineSession{}})
	if err != nil {
		t.Fatal(err)
	}
	h.conn(t, "") // on B
	y := newStallTransport(t)
	yc, err := h.NewConn(ConnInfo{ID: "y", Transport: y, Session: lineSession{}})
	if err != nil {
		t.Fatal(err)
	}
	if zc.writer != yc.writer {
		t.Fatal("z and y have different writers")
	}
	var others []*fakeTransport
	for i := range 200 {
		c, tr := h.conn(t, fmt.Sprintf("u%d", i))
		h.sub(t, c, "chat", "", nil)
		tr.waitLines(t, 1) // the subscribe reply
		others = append(others, tr)
	}

	zc.Send([]byte("hello z\n"))
	<-z.entered // A is stuck on z
	yc.Send([]byte("hello y\n"))
	if _, err := h.Publish(context.Background(), msg("chat", "", `"hi"`)); err != nil { // ~100 connections pushed to A, behind y
		t.Fatal(err)
	}
	<-y.entered // B took A's pushed list and is stuck on y
	z.free()    // A is free: it takes from B's list
	for _, tr := range others {
		tr.waitLines(t, 2)
	}
	y.free()
	z.waitLines(t, 1)
	y.waitLines(t, 1)
}

// TestSharedListsKeepEveryConnectionsOrder: with writers taking work from
// one another, each subscriber still gets every publication once, in order.
func TestSharedListsKeepEveryConnectionsOrder(t *testing.T) {
	h := newTestHub(t, func(c *Config) { c.Writers = 4 })
	const conns, msgs = 300, 40
	trs := h.subscribers(t, conns, "chat")
	for i := range msgs {
		h.publish(t, msg("chat", "", fmt.Sprint(i)))
	}
	for _, tr := range trs {
		lines := tr.waitLines(t, 1+msgs)
		if len(lines) != 1+msgs {
			t.Fatalf("%d lines, want %d: %q", len(lines), 1+msgs, lines)
		}
		for i, l := range lines[1:] {
			if want := fmt.Sprintf("message chat %d %d", i+1, i); l != want {
				t.Fatalf("line %d is %q, want %q", i+1, l, want)
			}
		}
	}
}
