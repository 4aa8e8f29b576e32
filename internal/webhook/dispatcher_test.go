package webhook

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// noLeaks checks, after every other cleanup of the test (the store's),
// that the test's goroutines are gone.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// sqliteTable opens a private SQLite store with one table.
func sqliteTable(t *testing.T) (store.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var tbl store.Table
	err = st.Update(ctx, func(tx store.Tx) error {
		ws, err := tx.CreateWorkspace(ctx, "w")
		if err != nil {
			return err
		}
		tbl, err = tx.CreateTable(ctx, store.Table{WorkspaceID: ws.ID, Name: "t"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, tbl.ID
}

func appendRows(t *testing.T, st store.Store, table int64, n int) {
	t.Helper()
	rows := `{"table_id":1,"rows":[{"id":1,"order":"1","version":1,"fields":{}}]}`
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for range n {
			if _, err := tx.AppendEvent(context.Background(), store.TableStream(table), event.EventRowsCreated, json.RawMessage(rows)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrunedEventsPauseTheWebhook: events a webhook had not delivered,
// pruned past the hold, pause it with a reason that says so (and the
// pause is announced); nothing after them is sent in their place.
func TestPrunedEventsPauseTheWebhook(t *testing.T) {
	noLeaks(t)
	st, table := sqliteTable(t)
	ctx := context.Background()
	var calls atomic.Int64
	called := make(chan struct{}, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		calls.Add(1)
		called <- struct{}{}
	}))
	defer rcv.Close()
	w, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true, OnFailure: "pause",
		Batch: 1, Secret: NewSecret(), CreatedBy: "u"})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, st, table, 3)
	var keys []store.EventKey
	for i := uint64(1); i <= 3; i++ {
		keys = append(keys, store.EventKey{Stream: store.TableStream(table), Offset: i})
	}
	if err := st.MarkPublished(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PruneEvents(ctx, time.Now().Add(time.Hour), time.Now().Add(time.Hour), 0); err != nil || n != 3 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	appendRows(t, st, table, 1) // offset 4 is kept, 1 to 3 are gone

	announced := make(chan string, 1)
	d, err := New(Config{Store: st, Owner: "n1", AllowPrivate: true, Lease: time.Second, Poll: 20 * time.Millisecond,
		Announce: func(_ context.Context, h store.Webhook, reason string) error {
			announced <- reason
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Stop()
	var reason string
	select {
	case reason = <-announced:
	case <-time.After(10 * time.Second):
		t.Fatal("no pause announced")
	}
	got, err := st.Webhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.WebhookPaused || got.PausedReason != reason || !strings.Contains(reason, "no longer in the outbox") ||
		got.DeliveredOffset != 0 || calls.Load() != 0 {
		t.Fatalf("webhook %+v, reason %q, %d calls", got, reason, calls.Load())
	}
	// Skip goes on from the oldest event kept (4), not from the stream's
	// end: 4 to 6 are still delivered.
	appendRows(t, st, table, 2)
	m := &Manager{Store: st, AllowPrivate: true, Changed: d.Changed}
	v, err := m.Skip(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.DeliveredOffset != 3 || v.Status != store.WebhookActive {
		t.Fatalf("after skip: %+v, want active at offset 3", v)
	}
	for i := range 3 {
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d calls after the skip, want 3 (offsets 4 to 6)", i)
		}
	}
}

// TestLostLeaseStopsTheWorker: when another node takes a webhook's lease
// (this one missed its renewals), this node's worker stops and its cursor
// writes fail rather than overwrite the other's.
func TestLostLeaseStopsTheWorker(t *testing.T) {
	noLeaks(t)
	st, table := sqliteTable(t)
	ctx := context.Background()
	got := make(chan struct{}, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got <- struct{}{} }))
	defer rcv.Close()
	w, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true, OnFailure: "pause",
		Batch: 1, Secret: NewSecret(), CreatedBy: "u"})
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	d, err := New(Config{Store: st, Owner: "A", AllowPrivate: true, Lease: time.Hour, Poll: 20 * time.Millisecond, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Stop()
	appendRows(t, st, table, 1)
	d.Notify(table)
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no call")
	}
	// B takes the webhook over two hours later (A's lease has run out on
	// the shared clock); A's next claim no longer finds it.
	later := clock().Add(2 * time.Hour)
	b, err := st.ClaimWebhooks(ctx, "B", later, later.Add(time.Hour), 10)
	if err != nil || len(b) != 1 {
		t.Fatalf("B claimed %v, %v", b, err)
	}
	now.Store(later.UnixNano())
	d.Kick()
	deadline := time.After(10 * time.Second)
	for {
		d.mu.RLock()
		n := len(d.workers)
		d.mu.RUnlock()
		if n == 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("A's worker still runs")
		case <-time.After(10 * time.Millisecond): // polling a state only observable by asking
		}
	}
	h, err := st.Webhook(ctx, w.ID)
	if err != nil || h.LeaseOwner != "B" {
		t.Fatalf("lease owner %q, %v", h.LeaseOwner, err)
	}
	appendRows(t, st, table, 1)
	d.Notify(table)
	select {
	case <-got:
		t.Fatal("A delivered after losing the lease")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestConcurrencyBoundsCallsInFlight: with Concurrency 2, five webhooks
// of a table never have more than two calls in flight together, and each
// still gets every event once, in order, over reused connections.
func TestConcurrencyBoundsCallsInFlight(t *testing.T) {
	noLeaks(t)
	st, table := sqliteTable(t)
	ctx := context.Background()
	const hooks, events = 5, 6
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	offsets := map[string][]uint64{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Error(err)
		}
		time.Sleep(5 * time.Millisecond) // calls overlap unless bounded
		mu.Lock()
		offsets[strconv.FormatInt(p.WebhookID, 10)] = append(offsets[strconv.FormatInt(p.WebhookID, 10)], p.Offset)
		mu.Unlock()
	}))
	defer rcv.Close()
	var conns atomic.Int64
	rcv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	for range hooks {
		if _, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true, OnFailure: "pause",
			Batch: 1, Secret: NewSecret(), CreatedBy: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	appendRows(t, st, table, events)
	d, err := New(Config{Store: st, Owner: "n1", AllowPrivate: true, Concurrency: 2, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Stop()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		mu.Lock()
		done = len(offsets) == hooks
		for _, o := range offsets {
			done = done && len(o) >= events
		}
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("not every event delivered: %v", offsets)
		case <-time.After(10 * time.Millisecond): // the receiver's tally, only observable by asking
		}
	}
	if m := most.Load(); m > 2 {
		t.Fatalf("%d calls in flight at once, bound 2", m)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, o := range offsets {
		for i, off := range o {
			if off != uint64(i+1) {
				t.Fatalf("webhook %s got offsets %v", id, o)
			}
		}
	}
	// Connections are kept and reused: 30 calls, at most 2 at once. A few
	// more than 2 may open: net/http puts a connection back in its idle
	// pool from its own read loop, just after the caller has the body, and
	// a call that starts in that moment dials (CI saw 3 once).
	if c := conns.Load(); c > 4 {
		t.Fatalf("%d connections opened for %d calls, 2 in flight at once: not reused", c, hooks*events)
	}
}

// claimHookStore runs after, once, when a claim has read the leases and
// before the dispatcher has its result.
type claimHookStore struct {
	store.Store
	after atomic.Pointer[func()]
}

func (s *claimHookStore) ClaimWebhooks(ctx context.Context, owner string, at, until time.Time, limit int) ([]store.Webhook, error) {
	hs, err := s.Store.ClaimWebhooks(ctx, owner, at, until, limit)
	if f := s.after.Swap(nil); f != nil {
		(*f)()
	}
	return hs, err
}

// TestClaimDuringAWorkersEndKeepsTheOrder: a worker that ends while a
// claim reads the leases writes its cursor after the read; the claim must
// not start a new worker from the cursor it read, which would deliver the
// same events again, going back.
func TestClaimDuringAWorkersEndKeepsTheOrder(t *testing.T) {
	noLeaks(t)
	sqlite, table := sqliteTable(t)
	st := &claimHookStore{Store: sqlite}
	ctx := context.Background()
	rcv, offsets, got := offsetsReceiver(t)
	defer rcv.Close()
	if _, err := st.CreateWebhook(ctx, store.Webhook{TableID: table, URL: rcv.URL, Active: true, OnFailure: "pause",
		Batch: 1, Secret: NewSecret(), CreatedBy: "u"}); err != nil {
		t.Fatal(err)
	}
	// No flush: the cursor is written only when the worker ends.
	d, err := New(Config{Store: st, Owner: "n1", AllowPrivate: true, Lease: time.Hour, CursorFlush: time.Hour,
		Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, st, table, 3)
	d.Start()
	defer d.Stop()
	waitCalls(t, got, 3)
	// The third call answered and taken (its end would otherwise make it
	// again, rightly: at least once).
	deadline := time.Now().Add(10 * time.Second)
	for moved := false; !moved; {
		d.mu.RLock()
		for _, w := range d.workers {
			moved = w.delivered.Load() == 3
		}
		d.mu.RUnlock()
		if !moved && time.Now().After(deadline) {
			t.Fatal("the worker's cursor is not at 3")
		}
		time.Sleep(time.Millisecond) // the worker's cursor, only observable by asking
	}
	// The next claim reads the cursor at 0; then the worker ends (as when
	// its lease is lost), writing 3, before the claim goes on.
	end := func() {
		before := d.ended.Load()
		d.mu.RLock()
		for _, w := range d.workers {
			w.cancel()
		}
		d.mu.RUnlock()
		deadline := time.Now().Add(10 * time.Second)
		for d.ended.Load() == before {
			if time.Now().After(deadline) {
				t.Error("the worker did not end")
				return
			}
			time.Sleep(time.Millisecond) // the worker's end, only observable by asking
		}
	}
	st.after.Store(&end)
	d.Kick()
	for st.after.Load() != nil {
		time.Sleep(time.Millisecond) // the claim's hook has run, only observable by asking
	}
	appendRows(t, st, table, 1)
	d.Notify(table)
	waitCalls(t, got, 1)
	if o := offsets(); len(o) != 4 || o[3] != 4 {
		t.Fatalf("offsets %v, want 1 2 3 4: delivered again from an older cursor", o)
	}
}
