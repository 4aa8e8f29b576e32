package tablestream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/stream"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/ts.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func commit(t *testing.T, st store.Store, s store.Stream, origins ...string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range origins {
			if _, err := tx.AppendEvent(context.Background(), s, "rows_updated", []byte(fmt.Sprintf(`{"table_id":1,"origin":%q}`, o))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStreamOf(t *testing.T) {
	s := New(nil, 0)
	for _, tt := range []struct {
		collection, stream string
		ok                 bool
	}{
		{"record_12", "table:12", true},
		{"field_12", "table:12", true},
		{"view_3", "table:3", true},
		{"table_7", "workspace:7", true},
		{"record_012", "", false},
		{"record_", "", false},
		{"record_x", "", false},
		{"record_-1", "", false},
		{"news", "", false},
		{"publicview_abc", "", false},
	} {
		got, ok := s.StreamOf(tt.collection)
		if got != tt.stream || ok != tt.ok {
			t.Errorf("StreamOf(%q) = %q, %v; want %q, %v", tt.collection, got, ok, tt.stream, tt.ok)
		}
	}
}

func TestSinceAndFill(t *testing.T) {
	st := openStore(t)
	commit(t, st, store.TableStream(1), "", "c_writer", "", "")
	commit(t, st, store.TableStream(2), "")
	s := New(st, 0)
	ctx := context.Background()
	top, err := s.Top(ctx, "table:1")
	if err != nil || top != (stream.Position{Offset: 4, Epoch: Epoch}) {
		t.Fatalf("top %+v, %v", top, err)
	}
	tests := []struct {
		name    string
		since   stream.Position
		limit   int
		offsets string
		lost    bool
	}{
		{"missed two", stream.Position{Offset: 2, Epoch: Epoch}, 100, "[3 4]", false},
		{"from the start", stream.Position{Offset: 0, Epoch: Epoch}, 100, "[1 2 3 4]", false},
		{"up to date", stream.Position{Offset: 4, Epoch: Epoch}, 100, "[]", false},
		{"another database", stream.Position{Offset: 2, Epoch: "x"}, 100, "", true},
		{"ahead", stream.Position{Offset: 9, Epoch: Epoch}, 100, "", true},
		{"over the limit", stream.Position{Offset: 0, Epoch: Epoch}, 3, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pubs, pos, err := s.Since(ctx, "table:1", tt.since, tt.limit)
			if tt.lost {
				if !errors.Is(err, stream.ErrUnrecoverable) || pos.Offset != 4 {
					t.Fatalf("err %v, pos %+v; want unrecoverable at 4", err, pos)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]uint64, len(pubs))
			for i, p := range pubs {
				got[i] = p.Offset
			}
			if fmt.Sprint(got) != tt.offsets {
				t.Fatalf("offsets %v, want %s", got, tt.offsets)
			}
		})
	}
	pubs, err := s.Fill(ctx, "table:1", 2, 3)
	if err != nil || len(pubs) != 2 || pubs[0].Offset != 2 || pubs[1].Offset != 3 {
		t.Fatalf("fill: %v %v", pubs, err)
	}
	if ex := pubs[0].Exclude; len(ex) != 1 || ex[0] != "c_writer" {
		t.Fatalf("the origin socket is not left out: %v", ex)
	}
	if pubs[0].Stream != "table:1" || pubs[0].Event != "rows_updated" || pubs[0].Epoch != Epoch {
		t.Fatalf("publication %+v", pubs[0])
	}
}

// slowOutbox blocks every Events call until released.
type slowOutbox struct {
	Outbox
	release chan struct{}
}

func (o slowOutbox) Events(ctx context.Context, s store.Stream, after uint64, limit int) ([]store.Event, error) {
	<-o.release
	return o.Outbox.Events(ctx, s, after, limit)
}

func TestRecoveringClientsShareReads(t *testing.T) {
	st := openStore(t)
	commit(t, st, store.TableStream(1), "", "", "")
	release := make(chan struct{})
	s := New(slowOutbox{Outbox: st, release: release}, 0)
	const clients = 50
	joined := make(chan struct{}, clients)
	s.onJoin = func() { joined <- struct{}{} }
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pubs, _, err := s.Since(context.Background(), "table:1", stream.Position{Offset: 0, Epoch: Epoch}, 100)
			if err == nil && len(pubs) != 3 {
				err = fmt.Errorf("%d events", len(pubs))
			}
			errs <- err
		}()
	}
	// Every client but the one reading joins the read in progress.
	for i := 0; i < clients-1; i++ {
		select {
		case <-joined:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d clients joined", i, clients-1)
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Reads(); got != 1 {
		t.Fatalf("%d store reads for %d recovering clients, want 1", got, clients)
	}
}

func TestPublicationReadsActorAndOrigin(t *testing.T) {
	tests := []struct {
		name, payload, actor, origin string
	}{
		{"table event", `{"table_id":3,"workspace_id":1,"actor":"alice","origin":"c_9","rows":[{"id":1}]}`, "alice", "c_9"},
		{"no origin", `{"table_id":3,"workspace_id":1,"actor":"bob","origin":"","rows":[]}`, "bob", ""},
		{"workspace event", `{"workspace_id":1,"actor":"carol","origin":"c_1","user_id":"x"}`, "carol", "c_1"},
		// Only the leading scalar members are read: an "origin" inside the
		// rows is not the event's.
		{"meta missing", `{"table_id":3,"rows":[{"origin":"nope"}],"origin":"late"}`, "", ""},
		{"not an object", `[1,2]`, "", ""},
		{"junk", `{"actor":`, "", ""},
	}
	for _, tc := range tests {
		p := Publication(store.Event{Stream: store.TableStream(3), Offset: 1, Type: "rows_updated", Payload: []byte(tc.payload)})
		if p.Author.UserID != tc.actor || p.Author.ConnID != tc.origin {
			t.Errorf("%s: actor %q origin %q, want %q %q", tc.name, p.Author.UserID, p.Author.ConnID, tc.actor, tc.origin)
		}
		if (tc.origin != "") != (len(p.Exclude) == 1 && p.Exclude[0] == tc.origin) {
			t.Errorf("%s: exclude %v", tc.name, p.Exclude)
		}
	}
}

// TestSinceStopsAtTheRetention: the outbox keeps events past the retention
// only to complete the compact events after them; recovery does not replay
// them, so a position that needs one is unrecoverable (the client resyncs).
func TestSinceStopsAtTheRetention(t *testing.T) {
	st := openStore(t)
	commit(t, st, store.TableStream(1), "", "")
	tests := []struct {
		name           string
		retention, age time.Duration // age: how far the clock is ahead of the events
		lost           bool
	}{
		{"within the retention", time.Hour, 0, false},
		{"past the retention", time.Hour, 2 * time.Hour, true},
		{"no retention given", 0, 48 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(st, tt.retention)
			s.now = func() time.Time { return time.Now().Add(tt.age) }
			pubs, pos, err := s.Since(context.Background(), "table:1", stream.Position{Epoch: Epoch}, 100)
			if tt.lost {
				if !errors.Is(err, stream.ErrUnrecoverable) || pos.Offset != 2 || pubs != nil {
					t.Fatalf("Since = %d publications, %+v, %v; want unrecoverable at 2", len(pubs), pos, err)
				}
				return
			}
			if err != nil || len(pubs) != 2 {
				t.Fatalf("Since = %d publications, %v; want 2", len(pubs), err)
			}
		})
	}
}
