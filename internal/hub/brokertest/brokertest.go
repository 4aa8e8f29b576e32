// Package brokertest holds the contract every hub.Broker implementation
// must pass (the memory broker in package hub, the Redis broker in package
// redisbroker), and a BrokerEventHandler that records what a broker says.
package brokertest

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/stream"
)

// Recorder is a hub.BrokerEventHandler that keeps what it is told.
type Recorder struct {
	mu      sync.Mutex
	pubs    []*hub.Publication
	resyncs []string
	resets  []string
	got     chan struct{}
}

var _ hub.BrokerEventHandler = (*Recorder)(nil)

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{got: make(chan struct{}, 1)} }

func (r *Recorder) signal() {
	select {
	case r.got <- struct{}{}:
	default:
	}
}

// HandlePublication implements hub.BrokerEventHandler.
func (r *Recorder) HandlePublication(p *hub.Publication) {
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
	r.signal()
}

// HandleResync implements hub.BrokerEventHandler.
func (r *Recorder) HandleResync(streamName string) {
	r.mu.Lock()
	r.resyncs = append(r.resyncs, streamName)
	r.mu.Unlock()
	r.signal()
}

// HandleReset implements hub.BrokerEventHandler.
func (r *Recorder) HandleReset(collection string) {
	r.mu.Lock()
	r.resets = append(r.resets, collection)
	r.mu.Unlock()
	r.signal()
}

// WaitTimeout bounds Wait: it covers a dead node's detection by the Redis
// broker (its key's TTL and a heartbeat) with room.
const WaitTimeout = 15 * time.Second

// Wait returns the publications once n have arrived in all.
func (r *Recorder) Wait(t testing.TB, n int) []*hub.Publication {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		r.mu.Lock()
		if len(r.pubs) >= n {
			out := slices.Clone(r.pubs)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("%d publications after %v, want %d", r.Count(), WaitTimeout, n)
		}
	}
}

// WaitSignals returns the resyncs and resets once n of them have arrived
// in all.
func (r *Recorder) WaitSignals(t testing.TB, n int) (resyncs, resets []string) {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		r.mu.Lock()
		if len(r.resyncs)+len(r.resets) >= n {
			resyncs, resets = slices.Clone(r.resyncs), slices.Clone(r.resets)
			r.mu.Unlock()
			return resyncs, resets
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("no %d resyncs and resets after %v", n, WaitTimeout)
		}
	}
}

// Count is the number of publications received.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubs)
}

// Start starts b with a new recorder, and closes b when the test ends.
func Start(t testing.TB, b hub.Broker) *Recorder {
	t.Helper()
	r := NewRecorder()
	if err := b.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return r
}

// Contract is what the hub relies on from a broker of one node. newBroker
// returns a new broker, not started, whose streams are empty, with a
// history of 100 publications or more kept for an hour or more.
func Contract(t *testing.T, newBroker func(t *testing.T) hub.Broker) {
	t.Run("StreamedInOrderWithHistory", func(t *testing.T) {
		ctx := context.Background()
		b := newBroker(t)
		rec := Start(t, b)
		if err := b.Subscribe(ctx, "chat"); err != nil {
			t.Fatal(err)
		}
		top, err := b.Top(ctx, "chat")
		if err != nil || top.Offset != 0 || top.Epoch == "" {
			t.Fatalf("Top of a new stream = %+v, %v", top, err)
		}
		for i := 1; i <= 3; i++ {
			pos, err := b.Publish(ctx, &hub.Publication{Kind: hub.KindMessage, Collection: "chat", Data: []byte(`{"i":` + strconv.Itoa(i) + `}`)})
			if err != nil || pos.Offset != uint64(i) || pos.Epoch != top.Epoch {
				t.Fatalf("publish %d: %+v %v (epoch %s)", i, pos, err, top.Epoch)
			}
		}
		got := rec.Wait(t, 3)
		for i, p := range got {
			if p.Offset != uint64(i+1) || p.Epoch != top.Epoch || p.Collection != "chat" {
				t.Fatalf("delivery %d: %+v", i, p)
			}
		}
		hist, pos, err := b.History(ctx, "chat", stream.Position{Offset: 1, Epoch: top.Epoch}, 10)
		if err != nil || len(hist) != 2 || hist[0].Offset != 2 || string(hist[1].Data) != `{"i":3}` || pos.Offset != 3 {
			t.Fatalf("History since 1: %+v %+v %v", hist, pos, err)
		}
		if _, _, err := b.History(ctx, "chat", stream.Position{Offset: 1, Epoch: "other"}, 10); err == nil {
			t.Fatal("History with another epoch: no error")
		}
	})

	t.Run("HistoryKeepsWhatThePublicationSays", func(t *testing.T) {
		ctx := context.Background()
		b := newBroker(t)
		Start(t, b)
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		sent := &hub.Publication{Kind: hub.KindOp, Collection: "docs", Document: "d1", Data: json.RawMessage(`[{"p":["a"],"oi":1}]`),
			Author: hub.Author{UserID: "u1", SessionID: "s1", ConnID: "c1"}, Exclude: []string{"c2"}, ExcludeUsers: []string{"u9"}, Time: at}
		pos, err := b.Publish(ctx, sent)
		if err != nil {
			t.Fatal(err)
		}
		hist, _, err := b.History(ctx, "docs", stream.Position{Epoch: pos.Epoch}, 10)
		if err != nil || len(hist) != 1 {
			t.Fatalf("History: %+v %v", hist, err)
		}
		p := hist[0]
		if p.Kind != sent.Kind || p.Collection != "docs" || p.Document != "d1" || string(p.Data) != string(sent.Data) ||
			p.Author != sent.Author || !slices.Equal(p.Exclude, sent.Exclude) ||
			!slices.Equal(p.ExcludeUsers, sent.ExcludeUsers) || !p.Time.Equal(at) || p.Offset != pos.Offset || p.Epoch != pos.Epoch {
			t.Fatalf("History gave %+v, published %+v at %+v", p, sent, pos)
		}
	})

	t.Run("UnstreamedReachTheNode", func(t *testing.T) {
		ctx := context.Background()
		b := newBroker(t)
		rec := Start(t, b)
		sent := []*hub.Publication{
			{Kind: hub.KindUser, Target: hub.Target{UserID: "u1"}, Data: []byte(`{}`)},
			{Kind: hub.KindDisconnect, Target: hub.Target{UserID: "u2", ConnID: "c2"}, Reconnect: true},
			{Kind: hub.KindEvent, Stream: "table:1", Collection: "record_1", Offset: 7, Epoch: "outbox1", Event: "rows_created", Data: []byte(`{}`)},
		}
		for _, p := range sent {
			if _, err := b.Publish(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		got := rec.Wait(t, len(sent))
		if p := got[0]; p.Kind != hub.KindUser || p.Target != (hub.Target{UserID: "u1"}) {
			t.Errorf("user publication: %+v", p)
		}
		if p := got[1]; p.Kind != hub.KindDisconnect || p.Target != (hub.Target{UserID: "u2", ConnID: "c2"}) || !p.Reconnect {
			t.Errorf("disconnect: %+v", p)
		}
		if p := got[2]; p.Kind != hub.KindEvent || p.Stream != "table:1" || p.Offset != 7 || p.Epoch != "outbox1" || p.Event != "rows_created" {
			t.Errorf("event: %+v", p)
		}
	})
}
