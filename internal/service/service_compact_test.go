package service_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/rowimage"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
)

// TestSubmitEventsCompact: a submit's rows_updated holds the op and the
// row's head, not the row's cells, except every event.FullRowEvery-th
// version; the row images (rowimage) complete each one to the rows the
// store held before and after it, whether they are built in offset order
// or rebuilt from the store for one event alone. Hot and cold submits,
// REST writes and a move mixed in.
func TestSubmitEventsCompact(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, tc := range []struct {
			name string
			cfg  service.Config
		}{{"hot", service.Config{}}, {"cold", service.Config{ColdSubmits: true}}} {
			t.Run(tc.name, func(t *testing.T) { testSubmitEventsCompact(t, newFixture(t, open(t), tc.cfg)) })
		}
	})
}

func testSubmitEventsCompact(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`, "Notes", `"long text stays"`), 0))(t)
	states := map[int64]event.Row{1: fx.row(r.ID)}
	name, price := fx.id("Name"), fx.id("Price")
	top := fx.top(fx.tableStream())
	for i := range 2*event.FullRowEvery + 6 {
		v := states[int64(len(states))].Version
		var op string
		switch {
		case i == 20: // a REST write: its event holds the rows whole
			ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Done", `true`)}))(t)
		case i == 45: // a move: cold on every store
			op = `[{"p":["order"],"od":"` + states[v].Order + `","oi":"9.00000000000000000000"}]`
		case i%3 == 0: // a number the field rounds: a fixup
			op = `[{"p":["fields","` + price + `"],"oi":` + strconv.Itoa(i) + `.125}]`
		default:
			op = `[{"p":["fields","` + name + `",0],"si":"x` + strconv.Itoa(i) + `"}]`
		}
		if op != "" {
			ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, v, "s", uint64(i+1), op)))(t)
		}
		got := fx.row(r.ID)
		states[got.Version] = got
	}
	inOrder := rowimage.New(fx.st)
	compact, whole := 0, 0
	evs, decoded := rowsUpdated(t, fx.events(fx.tableStream(), top))
	for i, e := range evs {
		ev := decoded[i]
		if !ev.Compact() {
			whole++
			checkRow(t, "whole event's row", ev.Rows[0], states[ev.Rows[0].Version])
			continue
		}
		compact++
		if event.WholeRowSubmit(ev.Row.Version, ev.Row.UpdatedBefore, ev.Row.UpdatedAt) {
			t.Errorf("version %d is a whole row's, its event is compact", ev.Row.Version)
		}
		if bytes.Contains(e.Payload, []byte(`"long text stays"`)) || bytes.Contains(e.Payload, []byte(`"fields":{`)) {
			t.Errorf("compact event at %d holds cells: %s", e.Offset, e.Payload)
		}
		for _, im := range []*rowimage.Images{inOrder, rowimage.New(fx.st)} {
			data, err := event.WholeRowsData(ctx, nil, im, e.Type, fx.tbl.ID, e.Offset, e.Payload)
			if err != nil {
				t.Fatalf("event at %d: %v", e.Offset, err)
			}
			var full event.RowsUpdated
			if err := json.Unmarshal(data, &full); err != nil {
				t.Fatal(err)
			}
			if full.Compact() || len(full.Rows) != 1 || len(full.RowsBefore) != 1 {
				t.Fatalf("event at %d not completed: %s", e.Offset, data)
			}
			checkRow(t, "row after", full.Rows[0], states[ev.Row.Version])
			checkRow(t, "row before", full.RowsBefore[0], states[ev.Row.Version-1])
		}
	}
	if compact < 2*(event.FullRowEvery-2) || whole < 3 {
		t.Fatalf("%d compact events and %d whole ones", compact, whole)
	}
	if n := inOrder.Rebuilt(); n > 4 {
		t.Errorf("images built in offset order were rebuilt from the store %d times", n)
	}
}

// TestSubmitAfterAPauseHoldsTheRowWhole: a submit to a row left alone for
// event.FullRowGap writes the row whole, whatever its version, so that a
// run of compact events never spans more than event.CompactSpan (the
// margin retention keeps). Hot and cold.
func TestSubmitAfterAPauseHoldsTheRowWhole(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, tc := range []struct {
			name string
			cold bool
		}{{"hot", false}, {"cold", true}} {
			t.Run(tc.name, func(t *testing.T) {
				var mu sync.Mutex
				now := time.Now()
				clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
				advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
				fx := newFixture(t, open(t), service.Config{ColdSubmits: tc.cold, Now: clock})
				r := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t)
				name := fx.id("Name")
				top := fx.top(fx.tableStream())
				for i, pause := range []time.Duration{0, time.Second, event.FullRowGap - time.Second, event.FullRowGap, 0, 2 * event.FullRowGap} {
					advance(pause)
					v := fx.row(r.ID).Version
					op := `[{"p":["fields","` + name + `",0],"si":"x"}]`
					ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, v, "s", uint64(i+1), op)))(t)
				}
				var got []bool
				_, decoded := rowsUpdated(t, fx.events(fx.tableStream(), top))
				for _, ev := range decoded {
					got = append(got, !ev.Compact())
				}
				want := []bool{false, false, false, true, false, true} // whole after a pause of FullRowGap or more
				if !slices.Equal(got, want) {
					t.Fatalf("whole events %v, want %v", got, want)
				}
			})
		}
	})
}

// rowsUpdated keeps the rows_updated events of evs, decoded beside them.
func rowsUpdated(t *testing.T, evs []store.Event) ([]store.Event, []event.RowsUpdated) {
	t.Helper()
	var kept []store.Event
	var decoded []event.RowsUpdated
	for _, e := range evs {
		if e.Type != event.EventRowsUpdated {
			continue
		}
		var ev event.RowsUpdated
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		kept, decoded = append(kept, e), append(decoded, ev)
	}
	return kept, decoded
}

func checkRow(t *testing.T, what string, got, want event.Row) {
	t.Helper()
	if got.ID != want.ID || got.Version != want.Version || got.Order != want.Order ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || len(got.Fields) != len(want.Fields) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
	for id, v := range want.Fields {
		if !event.SameJSON(got.Fields[id], v) {
			t.Fatalf("%s at version %d: cell %d is %s, want %s", what, want.Version, id, got.Fields[id], v)
		}
	}
}
