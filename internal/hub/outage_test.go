package hub

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

var errBrokerDown = errors.New("broker down")

// downBroker is a memory broker whose cluster side is away: subscriptions
// stay pending and app channels' streams cannot be read.
type downBroker struct {
	*MemoryBroker
	down atomic.Bool
}

func (b *downBroker) Subscribe(ctx context.Context, name string) error {
	if b.down.Load() {
		return errors.Join(ErrSubscribePending, errBrokerDown)
	}
	return b.MemoryBroker.Subscribe(ctx, name)
}

func (b *downBroker) Top(ctx context.Context, name string) (stream.Position, error) {
	if b.down.Load() {
		return stream.Position{}, errBrokerDown
	}
	return b.MemoryBroker.Top(ctx, name)
}

// failingOutbox is an outbox whose reads fail while failing is set.
type failingOutbox struct {
	*outbox
	failing atomic.Bool
}

func (o *failingOutbox) Top(ctx context.Context, s string) (stream.Position, error) {
	if o.failing.Load() {
		return stream.Position{}, errors.New("store down")
	}
	return o.outbox.Top(ctx, s)
}

func newOutageHub(t *testing.T) (*testHub, *downBroker, *failingOutbox) {
	ob := &failingOutbox{outbox: &outbox{}}
	var b *downBroker
	h := newTestHub(t, func(c *Config) {
		b = &downBroker{MemoryBroker: c.Broker.(*MemoryBroker)}
		c.Broker = b
		c.Streams = ob
		c.Renderers[0] = eventLines{}
	})
	return h, b, ob
}

// TestTableStreamSubscribesWithoutTheBroker: while the broker cannot
// subscribe, a table stream's subscription is still made (its history is
// the store) and delivers this node's events; an app channel's is refused
// with ErrUnavailable and leaves nothing behind.
func TestTableStreamSubscribesWithoutTheBroker(t *testing.T) {
	h, b, ob := newOutageHub(t)
	b.down.Store(true)
	c, tr := h.subscriber(t, "u1", "rec_1", "")
	h.publish(t, ob.commit(1, "a"))
	tr.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a")

	_, err := h.Subscribe(context.Background(), c, SubscribeRequest{Collection: "lobby"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errBrokerDown) {
		t.Fatalf("app channel subscribe while the broker is down: %v, want ErrUnavailable", err)
	}
	if st := h.Stats(); st.Subscriptions != 1 {
		t.Errorf("%d subscriptions after the refusal, want 1 (rec_1)", st.Subscriptions)
	}
	b.down.Store(false)
	h.sub(t, c, "lobby", "", nil) // the refusal left nothing that blocks a retry
}

// TestFailedCatchUpResumesSubscribers: when a stream cannot be caught up
// after the broker comes back (the store is away too), its subscribers
// are told to resume (4002) rather than left waiting for what was missed.
func TestFailedCatchUpResumesSubscribers(t *testing.T) {
	h, _, ob := newOutageHub(t)
	_, tr := h.subscriber(t, "u1", "fld_1", "")
	_, trOther := h.subscriber(t, "u2", "rec_2", "")
	ob.failing.Store(true)
	(*brokerEvents)(h.Hub).HandleResync("table:1")
	if got := tr.waitLines(t, 2); got[1] != "disconnect 4002" {
		t.Errorf("subscriber of the stream got %q, want a 4002", got)
	}
	if got := trOther.lines(); len(got) != 1 {
		t.Errorf("another stream's subscriber got %q", got)
	}
}

// clusterBroker is a memory broker with a cluster whose session writes
// wait for gate (Redis slow or away).
type clusterBroker struct {
	*MemoryBroker
	gate chan struct{}
	mu   sync.Mutex
	puts []string // "<connection id> online|offline", as written
}

func (b *clusterBroker) PutPresence(context.Context, string, PresenceInfo) error { return nil }
func (b *clusterBroker) ClusterPresence(context.Context, string, string) ([]PresenceInfo, error) {
	return nil, nil
}
func (b *clusterBroker) ClusterOnline(context.Context, string) ([]SessionInfo, error) {
	return nil, nil
}
func (b *clusterBroker) NodeStats(context.Context) ([]Stats, error) { return nil, nil }

func (b *clusterBroker) PutSession(ctx context.Context, _ string, s SessionInfo, online bool) error {
	select {
	case <-b.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	state := "offline"
	if online {
		state = "online"
	}
	b.puts = append(b.puts, s.ConnectionID+" "+state)
	return nil
}

func (b *clusterBroker) written() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.puts...)
}

// TestGreetingNotHeldUpByTheCluster: authenticating a connection does not
// wait for the cluster's session record, which is written when the cluster
// answers; a connection gone meanwhile is not left online there (its
// record is dropped unwritten, or followed by its end).
func TestGreetingNotHeldUpByTheCluster(t *testing.T) {
	var b *clusterBroker
	h := newTestHub(t, func(c *Config) {
		b = &clusterBroker{MemoryBroker: c.Broker.(*MemoryBroker), gate: make(chan struct{})}
		c.Broker = b
	})
	start := time.Now()
	kept, _ := h.conn(t, "u1")
	gone, _ := h.conn(t, "u2")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("authenticating two connections took %v with the cluster blocked", d)
	}
	gone.Abort()
	<-gone.Done()
	close(b.gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := strings.Join(b.written(), "|")
		keptOnline := strings.Contains(got, kept.ID()+" online")
		goneOK := !strings.Contains(got, gone.ID()) || strings.Contains(got, gone.ID()+" offline")
		if keptOnline && goneOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("written %q; want %s online, and %s not left online", got, kept.ID(), gone.ID())
		}
		time.Sleep(10 * time.Millisecond) // polling the fake cluster
	}
}
