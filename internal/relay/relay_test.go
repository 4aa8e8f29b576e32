package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/relay.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// commit writes n events on stream s in one transaction and returns them,
// as a write does before it publishes.
func commit(t *testing.T, st store.Store, s store.Stream, n int) []store.Event {
	t.Helper()
	var out []store.Event
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			off, err := tx.AppendEvent(context.Background(), s, "rows_updated", []byte(fmt.Sprintf(`{"i":%d}`, i)))
			if err != nil {
				return err
			}
			out = append(out, store.Event{Stream: s, Offset: off, Type: "rows_updated"})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sink records what reached the broker; fail makes it refuse.
type sink struct {
	mu   sync.Mutex
	got  []string
	fail bool
	note chan struct{}
}

func newSink() *sink { return &sink{note: make(chan struct{}, 100)} }

func (s *sink) publish(_ context.Context, events []store.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("broker down")
	}
	for _, e := range events {
		s.got = append(s.got, fmt.Sprintf("%s@%d", e.Stream, e.Offset))
	}
	s.note <- struct{}{}
	return nil
}

func (s *sink) setFail(v bool) { s.mu.Lock(); s.fail = v; s.mu.Unlock() }

func (s *sink) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func newRelay(t *testing.T, cfg Config) *Relay {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func unpublished(t *testing.T, st store.Store) int {
	t.Helper()
	ev, err := st.Unpublished(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ev)
}

func TestPublishMarksPublished(t *testing.T) {
	st, sk := openStore(t), newSink()
	r := newRelay(t, Config{Outbox: st, Sink: sk.publish})
	events := commit(t, st, store.TableStream(1), 3)
	if err := r.Publish(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sk.seen()); got != "[table:1@1 table:1@2 table:1@3]" {
		t.Fatalf("published %s", got)
	}
	if n := unpublished(t, st); n != 0 {
		t.Fatalf("%d events still unpublished", n)
	}
}

// TestCrashBetweenCommitAndPublish: the writer commits and never publishes
// (it died, or the broker refused); the next relay pass publishes the events
// with the offsets they were committed with, in order.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	st, sk := openStore(t), newSink()
	r := newRelay(t, Config{Outbox: st, Sink: sk.publish})
	lost := commit(t, st, store.TableStream(7), 2) // never handed to Publish
	sk.setFail(true)
	refused := commit(t, st, store.TableStream(7), 1)
	if err := r.Publish(context.Background(), refused); err == nil {
		t.Fatal("publish to a failing broker reported success")
	}
	sk.setFail(false)
	if n := r.Drain(context.Background()); n != 3 {
		t.Fatalf("drained %d, want 3", n)
	}
	want := fmt.Sprintf("[table:7@%d table:7@%d table:7@%d]", lost[0].Offset, lost[1].Offset, refused[0].Offset)
	if got := fmt.Sprint(sk.seen()); got != want {
		t.Fatalf("published %s, want %s", got, want)
	}
	if n := r.Drain(context.Background()); n != 0 {
		t.Fatalf("second pass published %d again", n)
	}
}

func TestRunPublishesWhatAFailedPublishLeft(t *testing.T) {
	st, sk := openStore(t), newSink()
	r := newRelay(t, Config{Outbox: st, Sink: sk.publish, Interval: time.Hour})
	r.Start()
	defer r.Stop()
	sk.setFail(true)
	events := commit(t, st, store.TableStream(2), 1)
	_ = r.Publish(context.Background(), events) // fails, and wakes the relay
	sk.setFail(false)
	r.wake() // the wake-up may have been consumed while the sink still failed
	select {
	case <-sk.note:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not republish")
	}
	if got := fmt.Sprint(sk.seen()); got != "[table:2@1]" {
		t.Fatalf("published %s", got)
	}
}

func TestPruneKeepsUnpublished(t *testing.T) {
	st, sk := openStore(t), newSink()
	future := time.Now().Add(48 * time.Hour)
	r := newRelay(t, Config{Outbox: st, Sink: sk.publish, Retention: time.Hour, Now: func() time.Time { return future }})
	published := commit(t, st, store.TableStream(3), 2)
	if err := r.Publish(context.Background(), published); err != nil {
		t.Fatal(err)
	}
	commit(t, st, store.TableStream(4), 1) // not published
	r.Prune(context.Background())
	oldest, err := st.OldestEventOffset(context.Background(), store.TableStream(3))
	if err != nil {
		t.Fatal(err)
	}
	if oldest != 3 { // both pruned: the oldest kept would be the next one
		t.Fatalf("oldest kept offset %d on the published stream, want 3 (all pruned)", oldest)
	}
	if n := unpublished(t, st); n != 1 {
		t.Fatalf("%d unpublished events left, want the 1 that was never published", n)
	}
}

// TestMarksInTheBackground: a running relay answers Publish once the events
// reached the broker; marking them follows, and Stop records what is left.
func TestMarksInTheBackground(t *testing.T) {
	st, sk := openStore(t), newSink()
	r := newRelay(t, Config{Outbox: st, Sink: sk.publish, Interval: time.Hour})
	r.Start()
	for i := 0; i < 5; i++ {
		if err := r.Publish(context.Background(), commit(t, st, store.TableStream(9), 2)); err != nil {
			t.Fatal(err)
		}
	}
	r.Stop()
	if n := unpublished(t, st); n != 0 {
		t.Fatalf("%d events unmarked after Stop", n)
	}
	// Each event reached the broker; one may have gone twice (the start-up
	// pass can meet an event between its commit and its Publish), which
	// subscribers drop by offset.
	distinct := map[string]bool{}
	for _, k := range sk.seen() {
		distinct[k] = true
	}
	if len(distinct) != 10 {
		t.Fatalf("%d distinct events published, want 10: %v", len(distinct), sk.seen())
	}
}
