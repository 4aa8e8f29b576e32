package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/stream"
)

type discard struct{}

func (discard) TryWriteBuffers(b *net.Buffers) (int64, error) {
	return discard{}.WriteBuffers(b, 0)
}

func (discard) WriteBuffers(b *net.Buffers, _ time.Duration) (int64, error) {
	n := int64(0)
	for _, x := range *b {
		n += int64(len(x))
	}
	*b = nil
	return n, nil
}
func (discard) CloseAfter(time.Duration) error { return nil }
func (discard) Close() error                   { return nil }

type session struct{}

func (session) DisconnectFrames(hub.Disconnect) []byte { return []byte("bye") }
func (session) RevokedFrame(string, string) []byte     { return nil }

type renderer struct{}

func (renderer) Render(p *hub.Publication) ([]byte, error) { return p.Data, nil }

// TestFanoutLatencyIsScraped: the hub's fanout latency histogram reaches
// /metrics with the buckets it always had, cumulative, and every frame and
// byte written is in the counters.
func TestFanoutLatencyIsScraped(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	hist := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 10, TTL: time.Minute})
	defer hist.Close()
	h, err := hub.New(hub.Config{Broker: hub.NewMemoryBroker(hist), Writers: 2,
		Renderers: [hub.MaxDialects]hub.Renderer{renderer{}}, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	m.RegisterHub(h)
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c, err := h.NewConn(hub.ConnInfo{Transport: discard{}, Session: session{}})
		if err != nil {
			t.Fatal(err)
		}
		h.Authenticate(c, fmt.Sprint("u", i), "s", time.Time{})
		if _, err := h.Subscribe(ctx, c, hub.SubscribeRequest{Collection: "chat"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, late := range []time.Duration{3 * time.Millisecond, 30 * time.Millisecond} {
		p := &hub.Publication{Kind: hub.KindMessage, Collection: "chat", Data: []byte("12345"), Time: at.Add(-late)}
		if _, err := h.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Shutdown(ctx); err != nil { // every write is counted once it returns
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`tablecast_fanout_latency_seconds_bucket{le="0.0001"} 0`,
		`tablecast_fanout_latency_seconds_bucket{le="0.0025"} 0`,
		`tablecast_fanout_latency_seconds_bucket{le="0.005"} 3`,
		`tablecast_fanout_latency_seconds_bucket{le="0.025"} 3`,
		`tablecast_fanout_latency_seconds_bucket{le="0.05"} 6`,
		`tablecast_fanout_latency_seconds_bucket{le="2.5"} 6`,
		`tablecast_fanout_latency_seconds_bucket{le="+Inf"} 6`,
		`tablecast_fanout_latency_seconds_sum 0.099`,
		`tablecast_fanout_latency_seconds_count 6`,
		`tablecast_frames_out_total 6`,
		`tablecast_bytes_out_total 30`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no %q in\n%s", want, grep(body, "tablecast_"))
		}
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
