package hub

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

// fakeTransport records what the hub writes, one line per frame. block, when
// set, makes writes wait until it is closed (a client that does not read).
type fakeTransport struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
	wrote  chan struct{} // signalled after every write
	block  chan struct{}
	// expire, with block, makes a blocking write give up at once as one
	// past its deadline would (a client that read nothing for WriteTimeout).
	expire bool
}

func newFakeTransport() *fakeTransport { return &fakeTransport{wrote: make(chan struct{}, 1)} }

func (t *fakeTransport) WriteBuffers(bufs *net.Buffers, _ time.Duration) (int64, error) {
	if t.block != nil {
		if t.expire {
			select {
			case <-t.block:
			default:
				return 0, fmt.Errorf("fake write: %w", os.ErrDeadlineExceeded)
			}
		}
		<-t.block
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, net.ErrClosed
	}
	var n int64
	for _, b := range *bufs {
		t.buf.Write(b)
		n += int64(len(b))
	}
	*bufs = nil
	select {
	case t.wrote <- struct{}{}:
	default:
	}
	return n, nil
}

// TryWriteBuffers writes nothing while the client is blocked (a full
// socket), everything otherwise.
func (t *fakeTransport) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	if t.block != nil {
		select {
		case <-t.block:
		default:
			return 0, nil
		}
	}
	return t.WriteBuffers(bufs, 0)
}

func (t *fakeTransport) CloseAfter(time.Duration) error { return t.Close() }

func (t *fakeTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return nil
}

func (t *fakeTransport) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSuffix(t.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitLines waits until at least n lines were written.
func (t *fakeTransport) waitLines(tb testing.TB, n int) []string {
	tb.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if l := t.lines(); len(l) >= n {
			return l
		}
		select {
		case <-t.wrote:
		case <-deadline:
			tb.Fatalf("timed out waiting for %d lines; have %q", n, t.lines())
		}
	}
}

// expect waits for the lines in want ("|" between them) and checks that
// they are all that was written.
func (t *fakeTransport) expect(tb testing.TB, want string) {
	tb.Helper()
	n := strings.Count(want, "|") + 1
	if got := strings.Join(t.waitLines(tb, n), "|"); got != want {
		tb.Errorf("got %q, want %q", got, want)
	}
}

// lineRenderer renders "kind channel offset data".
type lineRenderer struct{}

func (lineRenderer) Render(p *Publication) ([]byte, error) {
	return []byte(fmt.Sprintf("%s %s %d %s\n", p.Kind, p.Channel(), p.Offset, p.Data)), nil
}

type lineSession struct{}

func (lineSession) RevokedFrame(collection, document string) []byte {
	return []byte("revoked " + channelKey(collection, document) + "\n")
}

func (lineSession) DisconnectFrames(d Disconnect) []byte {
	return []byte(fmt.Sprintf("disconnect %d\n", d.Code))
}

type testHub struct {
	*Hub
	history *stream.MemoryHistory
}

func newTestHub(t testing.TB, mod func(*Config)) *testHub {
	t.Helper()
	hist := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 10, TTL: time.Minute})
	cfg := Config{NodeID: "test", Broker: NewMemoryBroker(hist), Renderers: [MaxDialects]Renderer{lineRenderer{}}}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		hist.Close()
	})
	return &testHub{Hub: h, history: hist}
}

var connSeq struct {
	sync.Mutex
	n int
}

func (h *testHub) conn(t testing.TB, user string) (*Conn, *fakeTransport) {
	t.Helper()
	connSeq.Lock()
	connSeq.n++
	id := fmt.Sprintf("c%d", connSeq.n)
	connSeq.Unlock()
	tr := newFakeTransport()
	c, err := h.NewConn(ConnInfo{ID: id, Transport: tr, Session: lineSession{}})
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		h.Authenticate(c, user, id, time.Time{})
	}
	return c, tr
}

func (h *testHub) sub(t testing.TB, c *Conn, col, doc string, since *stream.Position) SubscribeResult {
	t.Helper()
	res, err := h.Subscribe(context.Background(), c, SubscribeRequest{
		Collection: col, Document: doc, Since: since,
		Reply: func(r SubscribeResult) []byte {
			return []byte(fmt.Sprintf("subscribed %s %d %v\n", channelKey(col, doc), r.Position.Offset, r.Recovered))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// subscriber connects user and subscribes it to col (doc: one document).
func (h *testHub) subscriber(t testing.TB, user, col, doc string) (*Conn, *fakeTransport) {
	t.Helper()
	c, tr := h.conn(t, user)
	h.sub(t, c, col, doc, nil)
	return c, tr
}

// subscribers connects n users (u0, u1, ...) subscribed to col and returns
// their transports.
func (h *testHub) subscribers(t testing.TB, n int, col string) []*fakeTransport {
	t.Helper()
	trs := make([]*fakeTransport, n)
	for i := range trs {
		_, trs[i] = h.subscriber(t, fmt.Sprintf("u%d", i), col, "")
	}
	return trs
}

func (h *testHub) publish(t testing.TB, p *Publication) stream.Position {
	t.Helper()
	pos, err := h.Publish(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func msg(col, doc, data string) *Publication {
	return &Publication{Kind: KindMessage, Collection: col, Document: doc, Data: []byte(data)}
}
