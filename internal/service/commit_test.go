package service_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"

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
