package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func contractUpdateRollsBack(t *testing.T, s Store) {
	ctx := testCtx(t)
	boom := errors.New("boom")
	var id int64
	err := s.Update(ctx, func(tx Tx) error {
		w, err := tx.CreateWorkspace(ctx, "doomed")
		if err != nil {
			return err
		}
		id = w.ID
		// The transaction sees its own writes.
		if _, err := tx.Workspace(ctx, w.ID); err != nil {
			return err
		}
		return fmt.Errorf("give up: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	_, err = s.Workspace(ctx, id)
	wantErr(t, err, ErrNotFound, "workspace of a rolled-back transaction")

	// A panic rolls back too, and the store stays usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_ = s.Update(ctx, func(tx Tx) error {
			if _, err := tx.CreateWorkspace(ctx, "panicked"); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.CreateWorkspace(ctx, "after the panic")
		return err
	})
}

func contractFailedStatementAborts(t *testing.T, s Store) {
	ctx := testCtx(t)
	var ws Workspace
	update(t, s, func(ctx context.Context, tx Tx) error {
		ws = must(tx.CreateWorkspace(ctx, "w")).get(t)
		return tx.AddMember(ctx, Member{ws.ID, "alice", RoleAdmin})
	})
	var later error
	err := s.Update(ctx, func(tx Tx) error {
		if _, err := tx.Row(ctx, 1, 999999); !errors.Is(err, ErrNotFound) {
			t.Errorf("Row of nothing: %v", err)
		}
		if err := tx.AddMember(ctx, Member{ws.ID, "bob", RoleEditor}); err != nil {
			return err
		}
		wantErr(t, tx.AddMember(ctx, Member{ws.ID, "alice", RoleViewer}), ErrConflict, "a duplicate member")
		_, later = tx.CreateWorkspace(ctx, "after the failure")
		return nil // swallowed
	})
	if err == nil {
		t.Fatal("Update committed a transaction whose statement failed")
	}
	if later == nil {
		t.Fatal("a statement after the failure succeeded")
	}
	_, err = s.MemberRole(ctx, ws.ID, "bob")
	wantErr(t, err, ErrNotFound, "member added before the failure")
}

func contractRead(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	insertRows(t, s, f.table.ID, 0, `{}`, `{}`)
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.AppendEvent(ctx, TableStream(f.table.ID), "rows_created", nil)
		return err
	})
	boom := errors.New("boom")
	err := s.Read(ctx, func(r Reader) error {
		rows := must(r.Rows(ctx, f.table.ID, RowCursor{}, 10)).get(t)
		top := must(r.StreamTop(ctx, TableStream(f.table.ID))).get(t)
		if len(rows) != 2 || top != 1 {
			t.Errorf("read %d rows at offset %d", len(rows), top)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Read returned %v", err)
	}
}

func contractAppendEvent(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	var t2 Table
	update(t, s, func(ctx context.Context, tx Tx) error {
		t2 = must(tx.CreateTable(ctx, Table{WorkspaceID: f.ws.ID, Name: "Second"})).get(t)
		return nil
	})
	ts1, ts2 := TableStream(f.table.ID), TableStream(t2.ID)
	// A workspace stream with the same number as a table is another stream.
	wsSame := WorkspaceStream(f.table.ID)
	for _, st := range []Stream{ts1, ts2, wsSame} {
		if top := must(s.StreamTop(ctx, st)).get(t); top != 0 {
			t.Fatalf("StreamTop(%s) of a new stream = %d", st, top)
		}
		if old := must(s.OldestEventOffset(ctx, st)).get(t); old != 1 {
			t.Fatalf("OldestEventOffset(%s) of a new stream = %d, want 1", st, old)
		}
	}
	start := time.Now().Add(-time.Second)
	var got1, got2, gotW []uint64
	update(t, s, func(ctx context.Context, tx Tx) error {
		for i := range 5 {
			p := json.RawMessage(fmt.Sprintf(`{"i": %d,  "kept":"as is"}`, i))
			got1 = append(got1, must(tx.AppendEvent(ctx, ts1, "rows_updated", p)).get(t))
			if i%2 == 0 {
				got2 = append(got2, must(tx.AppendEvent(ctx, ts2, "rows_created", p)).get(t))
			}
		}
		gotW = append(gotW, must(tx.AppendEvent(ctx, wsSame, "table_created", nil)).get(t))
		// Visible inside the transaction.
		if top := must(tx.StreamTop(ctx, ts1)).get(t); top != 5 {
			t.Errorf("StreamTop inside the transaction = %d", top)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx Tx) error {
		got1 = append(got1, must(tx.AppendEvent(ctx, ts1, "rows_deleted", json.RawMessage(`[1,2]`))).get(t))
		return nil
	})
	if !slices.Equal(got1, seq(1, 6)) || !slices.Equal(got2, seq(1, 3)) || !slices.Equal(gotW, seq(1, 1)) {
		t.Fatalf("offsets %v %v %v", got1, got2, gotW)
	}
	if top := must(s.StreamTop(ctx, ts1)).get(t); top != 6 {
		t.Fatalf("StreamTop = %d", top)
	}
	evs := must(s.Events(ctx, ts1, 2, 3)).get(t)
	if !slices.Equal(offsets(evs), []uint64{3, 4, 5}) {
		t.Fatalf("Events after 2, limit 3 = %v", offsets(evs))
	}
	e := evs[0]
	if e.Stream != ts1 || e.Type != "rows_updated" || string(e.Payload) != `{"i": 2,  "kept":"as is"}` ||
		e.CreatedAt.Before(start) || e.Published {
		t.Fatalf("event %+v (%s)", e, e.Payload)
	}
	if evs := must(s.Events(ctx, ts1, 6, 10)).get(t); len(evs) != 0 {
		t.Fatalf("Events after the top = %v", evs)
	}
	if evs := must(s.Events(ctx, wsSame, 0, 10)).get(t); len(evs) != 1 || evs[0].Type != "table_created" ||
		string(evs[0].Payload) != `{}` {
		t.Fatalf("workspace stream events %+v", evs)
	}
	if old := must(s.OldestEventOffset(ctx, ts1)).get(t); old != 1 {
		t.Fatalf("OldestEventOffset = %d", old)
	}
}

func contractRolledBackTakesNoOffset(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	st := TableStream(f.table.ID)
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.AppendEvent(ctx, st, "a", nil)
		return err
	})
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx Tx) error {
		for range 3 {
			if _, err := tx.AppendEvent(ctx, st, "lost", nil); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var off uint64
	update(t, s, func(ctx context.Context, tx Tx) error {
		off = must(tx.AppendEvent(ctx, st, "b", nil)).get(t)
		return nil
	})
	if off != 2 {
		t.Fatalf("offset after a rolled-back transaction = %d, want 2", off)
	}
	evs := must(s.Events(ctx, st, 0, 10)).get(t)
	if !slices.Equal(offsets(evs), []uint64{1, 2}) || evs[1].Type != "b" {
		t.Fatalf("events %+v", evs)
	}
}

// contractAppendEvents: a batch takes each stream's next offsets in its
// order, after and before single appends in the same transaction, stores
// every event as given (encoded by the caller or not), and refuses an
// invalid one whole.
func contractAppendEvents(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	a, b := TableStream(f.table.ID), WorkspaceStream(f.ws.ID)
	var batch []NewEvent
	var wantA, wantB []string // payloads by offset
	// More events than the largest statement holds: 64 + 32 + 4.
	for i := range 100 {
		st := a
		if i%10 == 3 {
			st = b
		}
		p := fmt.Sprintf(`{"i":%d}`, i)
		// Every other payload says it was encoded by the caller: stored as
		// given all the same.
		batch = append(batch, NewEvent{Stream: st, Type: "rows_updated", Payload: json.RawMessage(p), Encoded: i%2 == 0})
		if st == a {
			wantA = append(wantA, p)
		} else {
			wantB = append(wantB, p)
		}
	}
	var got []uint64
	var first, last uint64
	update(t, s, func(ctx context.Context, tx Tx) error {
		first = must(tx.AppendEvent(ctx, a, "first", nil)).get(t)
		got = must(tx.AppendEvents(ctx, batch)).get(t)
		last = must(tx.AppendEvent(ctx, a, "last", nil)).get(t)
		return nil
	})
	wantOffs := make([]uint64, 0, len(batch))
	na, nb := uint64(1), uint64(0)
	for _, e := range batch {
		if e.Stream == a {
			na++
			wantOffs = append(wantOffs, na)
		} else {
			nb++
			wantOffs = append(wantOffs, nb)
		}
	}
	if first != 1 || !slices.Equal(got, wantOffs) || last != na+1 {
		t.Fatalf("offsets: first %d, batch %v, last %d; want 1, %v, %d", first, got, last, wantOffs, na+1)
	}
	evs := must(s.Events(ctx, a, 1, 1000)).get(t)
	if len(evs) != len(wantA)+1 || evs[len(evs)-1].Type != "last" {
		t.Fatalf("%d events after the first on %s, want %d and the last", len(evs), a, len(wantA)+1)
	}
	for i, p := range wantA {
		if e := evs[i]; e.Offset != uint64(i+2) || e.Type != "rows_updated" || string(e.Payload) != p {
			t.Fatalf("event %d of %s: %+v (%s), want payload %s", i+2, a, e, e.Payload, p)
		}
	}
	evs = must(s.Events(ctx, b, 0, 1000)).get(t)
	if len(evs) != len(wantB) {
		t.Fatalf("%d events on %s, want %d", len(evs), b, len(wantB))
	}
	for i, p := range wantB {
		if string(evs[i].Payload) != p || evs[i].Offset != uint64(i+1) {
			t.Fatalf("event %d of %s: %+v (%s), want payload %s", i+1, b, evs[i], evs[i].Payload, p)
		}
	}

	// An invalid event fails the batch before anything is written.
	for _, bad := range []NewEvent{
		{Stream: a, Type: "", Payload: json.RawMessage(`{}`)},
		{Stream: a, Type: "x", Payload: json.RawMessage(`{`)},
		{Stream: Stream{}, Type: "x"},
	} {
		err := s.Update(ctx, func(tx Tx) error {
			_, err := tx.AppendEvents(ctx, []NewEvent{{Stream: a, Type: "ok"}, bad})
			return err
		})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendEvents with %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if top := must(s.StreamTop(ctx, a)).get(t); top != na+1 {
		t.Fatalf("StreamTop after the refused batches = %d, want %d", top, na+1)
	}
}

func contractConcurrentWriters(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	other := newFixture(t, s)
	rows := insertRows(t, s, f.table.ID, 0, `{}`, `{}`, `{}`).Rows
	const writers, perWriter = 8, 25
	st, otherSt := TableStream(f.table.ID), TableStream(other.table.ID)

	var mu sync.Mutex
	var got, gotOther []uint64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				var off, offOther uint64
				rollback := i%7 == 3
				err := s.Update(ctx, func(tx Tx) error {
					row := rows[(w+i)%len(rows)]
					patch := json.RawMessage(fmt.Sprintf(`{"%s": "w%d-%d"}`, f.nameKey, w, i))
					if _, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: row.ID, Values: patch}}); err != nil {
						return err
					}
					var err error
					if off, err = tx.AppendEvent(ctx, st, "rows_updated", patch); err != nil {
						return err
					}
					if w%2 == 0 {
						if offOther, err = tx.AppendEvent(ctx, otherSt, "rows_updated", patch); err != nil {
							return err
						}
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				if rollback && errors.Is(err, errRollback) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, off)
				if w%2 == 0 {
					gotOther = append(gotOther, offOther)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	slices.Sort(got)
	slices.Sort(gotOther)
	if !slices.Equal(got, seq(1, uint64(len(got)))) {
		t.Fatalf("offsets of %d commits are not 1..%d: %v", len(got), len(got), got)
	}
	if !slices.Equal(gotOther, seq(1, uint64(len(gotOther)))) {
		t.Fatalf("other table's offsets are not 1..%d: %v", len(gotOther), gotOther)
	}
	if top := must(s.StreamTop(ctx, st)).get(t); top != uint64(len(got)) {
		t.Fatalf("StreamTop = %d, want %d", top, len(got))
	}
	evs := must(s.Events(ctx, st, 0, 10000)).get(t)
	if !slices.Equal(offsets(evs), seq(1, uint64(len(got)))) {
		t.Fatalf("outbox offsets = %v", offsets(evs))
	}
	// Each row's version counts its committed updates.
	var versions int64
	for _, r := range allRows(t, s, f.table.ID) {
		versions += r.Version - 1
	}
	if versions != int64(len(got)) {
		t.Fatalf("row versions count %d updates, want %d", versions, len(got))
	}
}

var errRollback = errors.New("rollback on purpose")

func contractUnpublished(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	a, w := TableStream(f.table.ID), WorkspaceStream(f.ws.ID)
	update(t, s, func(ctx context.Context, tx Tx) error {
		for i := range 3 {
			must(tx.AppendEvent(ctx, a, "e", json.RawMessage(strconv.Itoa(i)))).get(t)
		}
		must(tx.AppendEvent(ctx, w, "table_created", nil)).get(t)
		return nil
	})
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.AppendEvent(ctx, a, "e", nil)).get(t)
		return nil
	})
	evs := must(s.Unpublished(ctx, 100)).get(t)
	keys := []EventKey{}
	for _, e := range evs {
		keys = append(keys, e.Key())
	}
	want := []EventKey{{a, 1}, {a, 2}, {a, 3}, {w, 1}, {a, 4}}
	if !slices.Equal(keys, want) {
		t.Fatalf("Unpublished = %v, want %v", keys, want)
	}
	if evs := must(s.Unpublished(ctx, 2)).get(t); len(evs) != 2 || evs[1].Key() != want[1] {
		t.Fatalf("Unpublished(2) = %v", evs)
	}
	if err := s.MarkPublished(ctx, EventKey{a, 1}, EventKey{w, 1}, EventKey{a, 99}, EventKey{TableStream(999999), 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPublished(ctx); err != nil {
		t.Fatal(err)
	}
	keys = keys[:0]
	for _, e := range must(s.Unpublished(ctx, 100)).get(t) {
		keys = append(keys, e.Key())
	}
	if want := []EventKey{{a, 2}, {a, 3}, {a, 4}}; !slices.Equal(keys, want) {
		t.Fatalf("Unpublished after marking = %v, want %v", keys, want)
	}
	if evs := must(s.Events(ctx, a, 0, 1)).get(t); !evs[0].Published {
		t.Fatalf("event not marked: %+v", evs[0])
	}
	// Marking many at once.
	many := []EventKey{}
	update(t, s, func(ctx context.Context, tx Tx) error {
		for range 300 {
			off := must(tx.AppendEvent(ctx, w, "bulk", nil)).get(t)
			many = append(many, EventKey{w, off})
		}
		return nil
	})
	if err := s.MarkPublished(ctx, many...); err != nil {
		t.Fatal(err)
	}
	if n := len(must(s.Unpublished(ctx, 1000)).get(t)); n != 3 {
		t.Fatalf("%d unpublished after marking 300, want 3", n)
	}
}

func contractPruneEvents(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	a, b := TableStream(f.table.ID), WorkspaceStream(f.ws.ID)
	update(t, s, func(ctx context.Context, tx Tx) error {
		for range 5 {
			must(tx.AppendEvent(ctx, a, "e", nil)).get(t)
			must(tx.AppendEvent(ctx, b, "e", nil)).get(t)
		}
		return nil
	})
	// a: 1, 2 and 4, 5 published, 3 not; b: all published.
	keys := []EventKey{{a, 1}, {a, 2}, {a, 4}, {a, 5}}
	for i := uint64(1); i <= 5; i++ {
		keys = append(keys, EventKey{b, i})
	}
	if err := s.MarkPublished(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	// Nothing is old enough yet.
	if n := must(s.PruneEvents(ctx, time.Now().Add(-time.Hour), time.Time{}, 0)).get(t); n != 0 {
		t.Fatalf("pruned %d events younger than the cutoff", n)
	}
	n := must(s.PruneEvents(ctx, time.Now().Add(time.Hour), time.Time{}, 0)).get(t)
	if n != 7 {
		t.Fatalf("pruned %d, want 7 (a:1,2 and b:1-5)", n)
	}
	if got := offsets(must(s.Events(ctx, a, 2, 10)).get(t)); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("kept of a = %v, want 3 4 5 (nothing after an unpublished event)", got)
	}
	if old := must(s.OldestEventOffset(ctx, a)).get(t); old != 3 {
		t.Fatalf("OldestEventOffset(a) = %d", old)
	}
	_, err := s.Events(ctx, a, 0, 10)
	wantErr(t, err, ErrPruned, "events from a pruned offset")
	if old := must(s.OldestEventOffset(ctx, b)).get(t); old != 6 {
		t.Fatalf("OldestEventOffset(b) with nothing kept = %d, want top+1 = 6", old)
	}
	if top := must(s.StreamTop(ctx, b)).get(t); top != 5 {
		t.Fatalf("StreamTop after pruning = %d", top)
	}
	if err := s.MarkPublished(ctx, EventKey{a, 3}); err != nil {
		t.Fatal(err)
	}
	if n := must(s.PruneEvents(ctx, time.Now().Add(time.Hour), time.Time{}, 0)).get(t); n != 3 {
		t.Fatalf("second prune removed %d, want 3", n)
	}
	// Offsets go on from the top.
	update(t, s, func(ctx context.Context, tx Tx) error {
		if off := must(tx.AppendEvent(ctx, a, "e", nil)).get(t); off != 6 {
			t.Errorf("offset after pruning = %d, want 6", off)
		}
		return nil
	})
	if old := must(s.OldestEventOffset(ctx, a)).get(t); old != 6 {
		t.Fatalf("OldestEventOffset = %d, want 6", old)
	}
}

func contractInvalidArguments(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	_, err := s.Rows(ctx, f.table.ID, RowCursor{}, 0)
	wantErr(t, err, ErrInvalid, "limit 0")
	_, err = s.Events(ctx, TableStream(f.table.ID), 0, -1)
	wantErr(t, err, ErrInvalid, "negative limit")
	_, err = s.StreamTop(ctx, Stream{Kind: 9, ID: 1})
	wantErr(t, err, ErrInvalid, "unknown stream kind")
	_, err = s.Unpublished(ctx, 0)
	wantErr(t, err, ErrInvalid, "Unpublished limit 0")
	for name, fn := range map[string]func(tx Tx) error{
		"empty event type": func(tx Tx) error {
			_, err := tx.AppendEvent(ctx, TableStream(f.table.ID), "", nil)
			return err
		},
		"payload not JSON": func(tx Tx) error {
			_, err := tx.AppendEvent(ctx, TableStream(f.table.ID), "x", json.RawMessage(`{`))
			return err
		},
		"options not an object": func(tx Tx) error {
			_, err := tx.CreateField(ctx, Field{TableID: f.table.ID, Name: "x", Type: "text", Options: json.RawMessage(`[]`)})
			return err
		},
		"filters not an array": func(tx Tx) error {
			_, err := tx.CreateView(ctx, View{TableID: f.table.ID, Name: "x", Filters: json.RawMessage(`{}`)})
			return err
		},
	} {
		wantErr(t, s.Update(ctx, fn), ErrInvalid, name)
	}
}
