package service_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// TestGroupCommit: on SQLite (one writer), concurrent writes are
// committed in groups; a write that fails (a value the field refuses, a
// version conflict) fails alone, the others commit; the events are
// gapless and published in offset order.
func TestGroupCommit(t *testing.T) {
	fx := newFixture(t, servicetest.OpenSQLite(t), service.Config{})
	ctx := fx.ctx
	row := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, nil, 0))(t)
	top := fx.top(fx.tableStream())
	fx.pub.Reset()
	const writers = 60
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			switch i % 3 {
			case 0: // valid
				_, errs[i] = fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ok"`), 0)
			case 1: // refused by the field
				_, errs[i] = fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Done", `"maybe"`), 0)
			default: // submits on one row against version 1: all but one are transformed
				_, errs[i] = fx.svc.Submit(ctx, fx.admin, fx.rowOp(row.ID, 1, "s", uint64(i),
					`[{"p":["fields","`+fx.id("Notes")+`"],"od":null,"oi":"x`+strconv.Itoa(i)+`"}]`))
			}
		})
	}
	wg.Wait()
	created, submitted := 0, 0
	for i, err := range errs {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("valid write %d: %v", i, err)
			}
			created++
		case 1:
			var ve *table.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("invalid write %d: %v, want a validation error", i, err)
			}
		default:
			if err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
			submitted++
		}
	}
	if got := fx.row(row.ID); got.Version != int64(1+submitted) {
		t.Errorf("row at version %d after %d submits", got.Version, submitted)
	}
	evs := fx.events(fx.tableStream(), top)
	if len(evs) != created+submitted {
		t.Fatalf("%d events, want %d creates + %d submits", len(evs), created, submitted)
	}
	published := fx.pub.Events()
	if len(published) != len(evs) {
		t.Fatalf("%d events published, %d committed", len(published), len(evs))
	}
	for i, e := range published {
		if e.Offset != top+uint64(i)+1 || e.Stream != store.TableStream(fx.tbl.ID) {
			t.Fatalf("published[%d] is %s@%d, want offset %d (in order, no gap)", i, e.Stream, e.Offset, top+uint64(i)+1)
		}
	}
}

// gatedStore holds the next transaction (Update) once armed, or the next
// row read (Reader.Row) once rowArmed, until released, so that a test
// lines writes or loads up behind it; it counts the transactions and the
// row reads. It has one writer, or several when multi.
type gatedStore struct {
	store.Store
	multi           bool
	updates, rows   atomic.Int64
	armed, rowArmed chan struct{} // one value: the next Update, or row read, waits
	entered         chan struct{}
	release         chan struct{}
}

func newGatedStore(st store.Store, multi bool) *gatedStore {
	return &gatedStore{Store: st, multi: multi, armed: make(chan struct{}, 1), rowArmed: make(chan struct{}, 1),
		entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedStore) SingleWriter() bool { return !g.multi }

func (g *gatedStore) Read(ctx context.Context, fn func(r store.Reader) error) error {
	return g.Store.Read(ctx, func(r store.Reader) error { return fn(gatedReader{r, g}) })
}

type gatedReader struct {
	store.Reader
	g *gatedStore
}

func (r gatedReader) Row(ctx context.Context, tableID, id int64) (store.Row, error) {
	r.g.rows.Add(1)
	select {
	case <-r.g.rowArmed:
		close(r.g.entered)
		<-r.g.release
	default:
	}
	return r.Reader.Row(ctx, tableID, id)
}

func (g *gatedStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	g.updates.Add(1)
	select {
	case <-g.armed:
		close(g.entered)
		<-g.release
	default:
	}
	return g.Store.Update(ctx, fn)
}

// hotRows is a table on a gated single-writer store with rows x ("x"), y
// ("y") and other, x's and y's documents hot at version 2 (one submit
// each of si, which inserts "+" at the start of the Name).
type hotRows struct {
	fx      *fixture
	g       *gatedStore
	x, y    event.Row
	otherID int64
	si      func(id, v int64, seq uint64) event.Submission
}

func newHotRows(t *testing.T) *hotRows {
	h := &hotRows{g: newGatedStore(servicetest.OpenSQLite(t), false)}
	fx := newFixture(t, h.g, service.Config{})
	ctx, name := fx.ctx, fx.id("Name")
	h.fx = fx
	h.x = ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	h.y = ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"y"`), 0))(t)
	h.otherID = ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, nil, 0))(t).ID
	h.si = func(id, v int64, seq uint64) event.Submission {
		return fx.rowOp(id, v, "A", seq, `[{"p":["fields","`+name+`",0],"si":"+"}]`)
	}
	ok(fx.svc.Submit(ctx, fx.admin, h.si(h.x.ID, 1, 1)))(t)
	ok(fx.svc.Submit(ctx, fx.admin, h.si(h.y.ID, 1, 2)))(t)
	return h
}

// heldBatch: a REST write on the other row leads a batch, held in its
// transaction, so that the writes queued meanwhile make the next batch,
// in the order queued.
type heldBatch struct {
	h      *hotRows
	wg     sync.WaitGroup
	queued int
}

func (h *hotRows) holdBatch(t *testing.T) *heldBatch {
	b := &heldBatch{h: h}
	fx := h.fx
	h.g.armed <- struct{}{}
	b.wg.Go(func() {
		if _, err := fx.svc.UpdateRow(fx.ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: h.otherID, Fields: fx.fields("Name", `"o"`)}); err != nil {
			t.Error(err)
		}
	})
	<-h.g.entered
	return b
}

// queue runs write in a goroutine and returns once it is queued.
func (b *heldBatch) queue(write func()) {
	b.wg.Go(write)
	b.queued++
	for service.QueuedWrites(b.h.fx.svc) < b.queued {
		runtime.Gosched()
	}
}

// release lets the held batch commit and waits for every write.
func (b *heldBatch) release() {
	close(b.h.g.release)
	b.wg.Wait()
}

// TestGroupCommitFallbackFails: in one batch, a prepared submit, then one
// whose document went stale and whose ordinary submit fails (its row was
// deleted). The failure undoes that submit only: the first one's row,
// event and op log entry, which the batch wrote before the fallback, stay.
func TestGroupCommitFallbackFails(t *testing.T) {
	h := newHotRows(t)
	fx, ctx, x, y, si := h.fx, h.fx.ctx, h.x, h.y, h.si
	restore := service.KeepHotDocs(fx.svc, fx.tbl.ID)
	if err := fx.svc.DeleteRow(ctx, fx.admin, fx.tbl.ID, y.ID); err != nil {
		t.Fatal(err)
	}
	restore() // y's document is live again, its row gone
	hot := fx.svc.HotStats().Prepared

	// The two submits make one batch.
	b := h.holdBatch(t)
	var errX, errY error
	b.queue(func() { _, errX = fx.svc.Submit(ctx, fx.admin, si(x.ID, 2, 3)) })
	b.queue(func() { _, errY = fx.svc.Submit(ctx, fx.admin, si(y.ID, 2, 4)) })
	b.release()

	if errX != nil {
		t.Fatalf("the prepared submit: %v", errX)
	}
	if errY == nil {
		t.Fatal("the submit on the deleted row succeeded")
	}
	if n := fx.svc.HotStats().Prepared - hot; n != 1 {
		t.Fatalf("%d submits written as prepared, want 1", n)
	}
	got := fx.row(x.ID)
	logged := ok(fx.st.DocOps(ctx, fx.records(), x.ID, 0, 100))(t)
	if fx.cell(got, "Name") != `"++x"` || got.Version != 3 || len(logged) != 3 {
		t.Fatalf("row x holds %s at version %d with %d op log entries; want \"++x\" at 3 with 3", fx.cell(got, "Name"), got.Version, len(logged))
	}
}

// TestGroupCommitVersionsAfterAWrite: in one batch, a prepared submit on
// row y (which reads the versions of the batch's rows, x's among them),
// a REST write on x, then a prepared submit on x against x's version
// before that write. The versions read first no longer hold once the
// REST write has run: the submit must see x moved on and fall back, and
// be transformed against the write, not fail the batch at its end.
func TestGroupCommitVersionsAfterAWrite(t *testing.T) {
	h := newHotRows(t)
	fx, ctx, x, y, si := h.fx, h.fx.ctx, h.x, h.y, h.si
	hot := fx.svc.HotStats().Prepared

	b := h.holdBatch(t)
	var errY, errRest, errX error
	b.queue(func() { _, errY = fx.svc.Submit(ctx, fx.admin, si(y.ID, 2, 3)) })
	b.queue(func() {
		_, errRest = fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: x.ID, Fields: fx.fields("Notes", `"rest"`)})
	})
	b.queue(func() { _, errX = fx.svc.Submit(ctx, fx.admin, si(x.ID, 2, 4)) })
	b.release()

	for what, err := range map[string]error{"the submit on y": errY, "the REST write on x": errRest, "the submit on x": errX} {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	if n := fx.svc.HotStats().Prepared - hot; n != 1 {
		t.Errorf("%d submits written as prepared, want 1 (y's; x's falls back)", n)
	}
	got := fx.row(x.ID)
	if fx.cell(got, "Name") != `"++x"` || fx.cell(got, "Notes") != `"rest"` || got.Version != 4 {
		t.Fatalf("row x holds Name %s, Notes %s at version %d; want \"++x\", \"rest\" at 4", fx.cell(got, "Name"), fx.cell(got, "Notes"), got.Version)
	}
}
