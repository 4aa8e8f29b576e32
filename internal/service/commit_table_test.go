package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// TestTableGroupCommit: on PostgreSQL (several writers), a table's
// concurrent submits are committed in one transaction per batch: one
// submit holds the table's transaction while forty queue, then the forty
// commit together. A submit the field refuses fails alone; the others
// land, transformed against each other; the events are gapless and
// published in order; and the table's group is gone once idle.
func TestTableGroupCommit(t *testing.T) {
	cs := newGatedStore(servicetest.OpenPostgres(t, ""), true)
	fx := newFixture(t, cs, service.Config{})
	ctx := fx.ctx
	rows := []int64{
		ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t).ID,
		ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"b"`), 0))(t).ID,
	}
	top := fx.top(fx.tableStream())
	fx.pub.Reset()
	name, price := fx.id("Name"), fx.id("Price")
	submit := func(i int) error {
		op := `[{"p":["fields","` + name + `",0],"si":"x"}]`
		if i%5 == 4 { // refused: not a number
			op = `[{"p":["fields","` + price + `"],"oi":"abc"}]`
		}
		_, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(rows[i%2], 1, "s"+strconv.Itoa(i), 1, op))
		return err
	}

	before := cs.updates.Load()
	cs.armed <- struct{}{}
	const queued = 40
	errs := make([]error, queued+1)
	var wg sync.WaitGroup
	wg.Go(func() { errs[queued] = submit(0) })
	<-cs.entered
	for i := range queued {
		wg.Go(func() { errs[i] = submit(i + 1) })
	}
	for service.QueuedTableWrites(fx.svc, fx.tbl.ID) < queued {
		runtime.Gosched()
	}
	close(cs.release)
	wg.Wait()

	if n := cs.updates.Load() - before; n != 2 {
		t.Fatalf("%d transactions for %d submits, want 2 (the held one, then one batch)", n, queued+1)
	}
	landed := map[int64]int64{}
	for i, err := range errs {
		n := i + 1
		if i == queued {
			n = 0
		}
		var ve *table.ValidationError
		switch {
		case n%5 == 4 && !errors.As(err, &ve):
			t.Errorf("submit %d: %v, want a validation error", n, err)
		case n%5 != 4 && err != nil:
			t.Errorf("submit %d: %v", n, err)
		case n%5 != 4:
			landed[rows[n%2]]++
		}
	}
	for _, id := range rows {
		if got := fx.row(id); got.Version != 1+landed[id] {
			t.Errorf("row %d at version %d after %d submits", id, got.Version, landed[id])
		}
	}
	evs := fx.events(fx.tableStream(), top)
	published := fx.pub.Events()
	if len(evs) != int(landed[rows[0]]+landed[rows[1]]) || len(published) != len(evs) {
		t.Fatalf("%d events committed, %d published, want %d", len(evs), len(published), landed[rows[0]]+landed[rows[1]])
	}
	for i, e := range published {
		if e.Offset != top+uint64(i)+1 {
			t.Fatalf("published[%d] at offset %d, want %d (in order, no gap)", i, e.Offset, top+uint64(i)+1)
		}
	}
	if n := service.TableGroups(fx.svc); n != 0 {
		t.Fatalf("%d table groups left once idle, want 0", n)
	}
}

// TestTableGroupsTwoNodes: two services on one PostgreSQL database (two
// nodes) submit to two tables at once, each node to both tables in turn.
// A batch holds one table's writes and takes that table's lock only, so
// the nodes' batches do not wait on each other in opposite orders: every
// submit lands once, and each row's version counts them.
func TestTableGroupsTwoNodes(t *testing.T) {
	st := servicetest.OpenPostgres(t, "")
	fx := newFixture(t, st, service.Config{})
	ctx := fx.ctx
	other, err := service.New(service.Config{Store: st, Secret: testSecret, PasswordIterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	second := ok(fx.svc.CreateTable(ctx, fx.admin, fx.ws.ID, service.TableInput{Name: "Second", Fields: []service.FieldInput{
		{Name: "Name", Type: table.TypeText},
	}}))(t)
	secondName := strconv.FormatInt(second.Fields[0].ID, 10)
	type target struct {
		tableID, rowID int64
		field          string
	}
	targets := []target{
		{fx.tbl.ID, ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t).ID, fx.id("Name")},
		{second.ID, ok(fx.svc.CreateRow(ctx, fx.admin, second.ID, service.RowFields{secondName: json.RawMessage(`"b"`)}, 0))(t).ID, secondName},
	}
	const each = 15
	var wg sync.WaitGroup
	errs := make(chan error, 4*each)
	for n, svc := range []*service.Service{fx.svc, other} {
		for w := range 2 {
			wg.Go(func() {
				for i := range each {
					tg := targets[(w+i+n)%2] // the two tables in turn, each worker out of step
					sub := event.Submission{Collection: event.RecordCollection(tg.tableID), DocID: tg.rowID, V: 1, HasV: true,
						Op:  json.RawMessage(`[{"p":["fields","` + tg.field + `",0],"si":"x"}]`),
						Src: "n" + strconv.Itoa(n) + "w" + strconv.Itoa(w), Seq: uint64(i + 1)}
					if _, err := svc.Submit(ctx, fx.admin, sub); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, tg := range targets {
		got := ok(fx.svc.GetRow(ctx, fx.admin, tg.tableID, tg.rowID))(t)
		if got.Version != 1+2*each {
			t.Errorf("row %d of table %d at version %d, want %d", tg.rowID, tg.tableID, got.Version, 1+2*each)
		}
		fieldID, _ := strconv.ParseInt(tg.field, 10, 64)
		if name := string(got.Fields[fieldID]); len(name) != len(`"a"`)+2*each {
			t.Errorf("row %d of table %d holds %s after %d inserts", tg.rowID, tg.tableID, name, 2*each)
		}
	}
	if fx.svc.HotStats().Prepared+other.HotStats().Prepared == 0 {
		t.Error("no submit went through a hot document")
	}
}

// TestHotDocumentsTwoNodes: on PostgreSQL each node keeps hot documents,
// and another node's write makes them stale without this node knowing.
// The store is the judge: a submit prepared on a stale document falls
// back to the ordinary submit, which transforms it against the other
// node's op. The record then rests: its next submits are ordinary ones,
// until the rest is over and the document is loaded again.
func TestHotDocumentsTwoNodes(t *testing.T) {
	st := servicetest.OpenPostgres(t, "")
	clk := &clock{t: time.Now()}
	fx := newFixture(t, st, service.Config{Now: clk.now})
	ctx := fx.ctx
	other, err := service.New(service.Config{Store: st, Secret: testSecret, PasswordIterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	name := fx.id("Name")
	insert := func(s string) string { return `[{"p":["fields","` + name + `",0],"si":"` + s + `"}]` }
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ab"`), 0))(t)

	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, insert("x"))))(t) // node 1's document: v2
	if n := fx.svc.HotStats().Prepared; n != 1 {
		t.Fatalf("%d hot commits on node 1, want 1", n)
	}
	ok(other.Submit(ctx, fx.admin, fx.rowOp(r.ID, 2, "B", 1, insert("y"))))(t) // the row: v3, unknown to node 1
	res := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 2, "A", 2, insert("z"))))(t)
	if res.V != 3 || res.Transformed != 1 {
		t.Fatalf("the submit on the stale document: %+v, want applied at v3 after one transform", res)
	}
	if got := fx.row(r.ID); got.Version != 4 || fx.cell(got, "Name") != `"zyxab"` {
		t.Fatalf("row %s at v%d, want \"zyxab\" at v4", fx.cell(got, "Name"), got.Version)
	}
	if st := fx.svc.HotStats(); st.Prepared != 1 || st.FellBack != 1 || st.Resting != 1 || st.Documents != 0 {
		t.Fatalf("node 1's hot documents after the fallback: %+v, want 1 prepared, 1 fallen back, the record resting", st)
	}
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 4, "A", 3, insert("w"))))(t)
	if n := fx.svc.HotStats().Prepared; n != 1 {
		t.Fatalf("%d hot commits on node 1, want still 1 (the record rests)", n)
	}
	clk.add(service.HotRest)
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 5, "A", 4, insert("v"))))(t)
	if n := fx.svc.HotStats().Prepared; n != 2 {
		t.Fatalf("%d hot commits on node 1, want 2 (the document loaded again after the rest)", n)
	}
	if got := fx.row(r.ID); got.Version != 6 || fx.cell(got, "Name") != `"vwzyxab"` {
		t.Fatalf("row %s at v%d, want \"vwzyxab\" at v6", fx.cell(got, "Name"), got.Version)
	}
}

// fieldsCountingStore counts the fields reads of its write transactions,
// whose table locks it passes on.
type fieldsCountingStore struct {
	store.Store
	reads atomic.Int64
}

func (s *fieldsCountingStore) SingleWriter() bool { return false }

func (s *fieldsCountingStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(fieldsCountingTx{tx, s}) })
}

type fieldsCountingTx struct {
	store.Tx
	s *fieldsCountingStore
}

func (t fieldsCountingTx) Fields(ctx context.Context, tableID int64) ([]store.Field, error) {
	t.s.reads.Add(1)
	return t.Tx.Fields(ctx, tableID)
}

func (t fieldsCountingTx) LockTable(ctx context.Context, tableID int64) (int64, error) {
	return t.Tx.(service.TableLocker).LockTable(ctx, tableID)
}

// TestTableSchemaKept: on PostgreSQL a node keeps a table's schema from
// batch to batch while the table's fields version stays, and reads it
// again once another node has changed a field: the next write sees the
// new field at once.
func TestTableSchemaKept(t *testing.T) {
	st := &fieldsCountingStore{Store: servicetest.OpenPostgres(t, "")}
	fx := newFixture(t, st, service.Config{})
	ctx := fx.ctx
	other, err := service.New(service.Config{Store: st.Store, Secret: testSecret, PasswordIterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	name := fx.id("Name")
	insert := func(s string) string { return `[{"p":["fields","` + name + `",0],"si":"` + s + `"}]` }
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ab"`), 0))(t)
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, insert("x"))))(t)

	before := st.reads.Load()
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 2, "A", 2, insert("y"))))(t)
	ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Name", `"rest"`)}))(t)
	if n := st.reads.Load() - before; n != 0 {
		t.Fatalf("%d fields reads for a submit and a REST write after the first, want 0 (the schema kept)", n)
	}

	f := ok(other.CreateField(ctx, fx.admin, fx.tbl.ID, service.FieldInput{Name: "Added elsewhere", Type: table.TypeText}))(t)
	before = st.reads.Load()
	set := `[{"p":["fields","` + strconv.FormatInt(f.ID, 10) + `"],"oi":"new"}]`
	res := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 4, "A", 3, set)))(t)
	if n := st.reads.Load() - before; n != 1 {
		t.Errorf("%d fields reads after another node added a field, want 1", n)
	}
	if got := string(fx.row(r.ID).Fields[f.ID]); got != `"new"` {
		t.Errorf("the new field's cell after the submit (%+v): %s, want \"new\"", res, got)
	}
	before = st.reads.Load()
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 5, "A", 4, insert("z"))))(t)
	if n := st.reads.Load() - before; n != 0 {
		t.Errorf("%d fields reads for the submit after that, want 0", n)
	}
}
