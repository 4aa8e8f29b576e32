package hub

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/testsupport/cputime"
)

// discardTransport counts what it is given.
type discardTransport struct{ n atomic.Int64 }

func (d *discardTransport) WriteBuffers(bufs *net.Buffers, _ time.Duration) (int64, error) {
	var n int64
	for _, b := range *bufs {
		n += int64(len(b))
	}
	*bufs = (*bufs)[:0]
	d.n.Add(n)
	return n, nil
}
func (d *discardTransport) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	return d.WriteBuffers(bufs, 0)
}
func (d *discardTransport) CloseAfter(time.Duration) error { return nil }
func (d *discardTransport) Close() error                   { return nil }

type frameRenderer struct{ frame []byte }

func (r frameRenderer) Render(*Publication) ([]byte, error) { return r.frame, nil }

// benchHub starts a hub whose n connections are subscribed to "bench" and
// write into discarding transports; every publication renders as frame.
func benchHub(b *testing.B, n int, frame []byte) *Hub {
	b.Helper()
	hist := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 100, TTL: time.Minute})
	b.Cleanup(hist.Close)
	h, err := New(Config{Broker: NewMemoryBroker(hist), Renderers: [MaxDialects]Renderer{frameRenderer{frame}}, SendQueue: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	th := &testHub{Hub: h}
	for i := 0; i < n; i++ {
		c, err := h.NewConn(ConnInfo{ID: fmt.Sprintf("b%d", i), Transport: &discardTransport{}, Session: lineSession{}})
		if err != nil {
			b.Fatal(err)
		}
		h.Authenticate(c, "u", "s", time.Time{})
		th.sub(b, c, "bench", "", nil)
	}
	return h
}

// BenchmarkFanout measures one publication reaching every subscriber of a
// channel: the broker, one render, and a queue append per subscriber.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := benchHub(b, subs, make([]byte, 100))
			data := []byte(`{"n":1}`)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := &Publication{Kind: KindMessage, Collection: "bench", Data: data}
				if _, err := h.Publish(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
		})
	}
}

// BenchmarkDeliver isolates the per-subscriber loop: no broker, no history,
// the frame already rendered. Its allocs/op divided by the subscribers is the
// allocation per delivery, which must be zero.
func BenchmarkDeliver(b *testing.B) {
	const subs = 1000
	h := benchHub(b, subs, make([]byte, 100))
	p := &Publication{Kind: KindMessage, Collection: "bench", Offset: 1 << 40, Epoch: "x", Time: time.Now()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.deliver(p)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
}

// countingTransport counts frames into a counter its hub's connections
// share, and says on reached when the count hits target.
type countingTransport struct {
	discardTransport
	frames  *atomic.Int64
	target  *atomic.Int64
	reached chan struct{}
}

func (t *countingTransport) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	k := int64(len(*bufs))
	n, err := t.discardTransport.TryWriteBuffers(bufs)
	if t.frames.Add(k) == t.target.Load() {
		t.reached <- struct{}{}
	}
	return n, err
}

// BenchmarkPacedFanout is a steady load without the kernel: each
// publication is written to every subscriber before the next is made, so
// that nothing batches, and an op is the time from the publish call to the
// last subscriber's write (the burst a paced client sees; the p99 of
// `bench fanout --rate` is its last part). cpu-ns/delivery is the process's
// CPU time per delivery, every goroutine's.
func BenchmarkPacedFanout(b *testing.B) {
	for _, subs := range []int{2000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			hist := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 100, TTL: time.Minute})
			b.Cleanup(hist.Close)
			h, err := New(Config{Broker: NewMemoryBroker(hist), Renderers: [MaxDialects]Renderer{frameRenderer{make([]byte, 100)}}})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Shutdown(context.Background()) })
			var frames, target atomic.Int64
			reached := make(chan struct{}, 1)
			th := &testHub{Hub: h}
			for i := range subs {
				c, err := h.NewConn(ConnInfo{ID: fmt.Sprintf("p%d", i), Session: lineSession{},
					Transport: &countingTransport{frames: &frames, target: &target, reached: reached}})
				if err != nil {
					b.Fatal(err)
				}
				h.Authenticate(c, "u", "s", time.Time{})
				target.Add(1) // the subscribe reply
				th.sub(b, c, "bench", "", nil)
				<-reached
			}
			data := []byte(`{"n":1}`)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := cputime.Process()
			for i := 0; i < b.N; i++ {
				target.Add(int64(subs))
				p := &Publication{Kind: KindMessage, Collection: "bench", Data: data}
				if _, err := h.Publish(ctx, p); err != nil {
					b.Fatal(err)
				}
				<-reached
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
			// The CPU every goroutine spent (the writers' included): what
			// a delivery costs the server, less sensitive than the time to
			// other load on the machine.
			if cpu1, ok := cputime.Process(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*subs), "cpu-ns/delivery")
			}
		})
	}
}
