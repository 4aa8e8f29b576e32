package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/store"
)

// fakeWrites is a write path that is busy until end is called; asked
// receives a value each time the dispatcher looks at it.
type fakeWrites struct {
	mu    sync.Mutex
	idle  chan struct{} // nil: not busy
	asked chan struct{}
}

func newFakeWrites(busy bool) *fakeWrites {
	f := &fakeWrites{asked: make(chan struct{}, 1)}
	if busy {
		f.idle = make(chan struct{})
	}
	return f
}

func (f *fakeWrites) Busy() <-chan struct{} {
	select {
	case f.asked <- struct{}{}:
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.idle == nil {
		return nil
	}
	return f.idle
}

func (f *fakeWrites) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.idle)
	f.idle = nil
}

// offsetsReceiver records the offsets it is sent, in order, and signals
// each call on got.
func offsetsReceiver(t *testing.T) (srv *httptest.Server, offsets func() []uint64, got chan struct{}) {
	var mu sync.Mutex
	var offs []uint64
	got = make(chan struct{}, 1000)
	srv = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Error(err)
		}
		mu.Lock()
		offs = append(offs, p.Offset)
		mu.Unlock()
		got <- struct{}{}
	}))
	return srv, func() []uint64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]uint64(nil), offs...)
	}, got
}

func waitCalls(t *testing.T, got chan struct{}, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("fewer than %d calls", n)
		}
	}
}

// TestCallsGiveWayToWrites: while the node's writes are in flight, no
// call starts until they end (YieldMax is long here); then every event
// goes, in order.
func TestCallsGiveWayToWrites(t *testing.T) {
	noLeaks(t)
	st, table := sqliteTable(t)
	ctx := context.Background()
	rcv, offsets, got := offsetsReceiver(t)
	defer rcv.Close()
	if _, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true, OnFailure: "pause",
		Batch: 1, Secret: NewSecret(), CreatedBy: "u"}); err != nil {
		t.Fatal(err)
	}
	appendRows(t, st, table, 3)
	writes := newFakeWrites(true)
	d, err := New(Config{Store: st, Owner: "n1", AllowPrivate: true, Poll: 20 * time.Millisecond,
		Writes: writes, YieldMax: time.Hour, Lease: 10 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Stop()
	<-writes.asked // a call waits for the writes: none can start before end
	if n := len(offsets()); n != 0 {
		t.Fatalf("%d calls made while writes were in flight", n)
	}
	writes.end()
	waitCalls(t, got, 3)
	if o := offsets(); len(o) != 3 || o[0] != 1 || o[1] != 2 || o[2] != 3 {
		t.Fatalf("offsets %v", o)
	}
}

// TestCallsAreNeverStarvedByWrites: writes that never end delay each
// call by YieldMax at most; every event still arrives, in order. A
// negative YieldMax does not even look at the writes.
func TestCallsAreNeverStarvedByWrites(t *testing.T) {
	for _, c := range []struct {
		name  string
		yield time.Duration
		asks  bool
	}{
		{"bounded wait", 5 * time.Millisecond, true},
		{"no wait", -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			st, table := sqliteTable(t)
			ctx := context.Background()
			rcv, offsets, got := offsetsReceiver(t)
			defer rcv.Close()
			if _, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true,
				OnFailure: "pause", Batch: 1, Secret: NewSecret(), CreatedBy: "u"}); err != nil {
				t.Fatal(err)
			}
			appendRows(t, st, table, 5)
			writes := newFakeWrites(true) // never ends
			d, err := New(Config{Store: st, Owner: "n1", AllowPrivate: true, Poll: 20 * time.Millisecond,
				Writes: writes, YieldMax: c.yield})
			if err != nil {
				t.Fatal(err)
			}
			d.Start()
			defer d.Stop()
			waitCalls(t, got, 5)
			for i, off := range offsets() {
				if off != uint64(i+1) {
					t.Fatalf("offsets %v", offsets())
				}
			}
			select {
			case <-writes.asked:
				if !c.asks {
					t.Fatal("the writes were looked at with a negative YieldMax")
				}
			default:
				if c.asks {
					t.Fatal("the writes were never looked at")
				}
			}
		})
	}
}
