package service_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
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
// row's head, not the row's cells, except at most event.FullRowEvery
// versions after the last whole one (on a row this narrow:
// event.WholeRowAfter, from the hot document's memory or the store's);
// the row images (rowimage) complete each one to the rows the
// store held before and after it, whether they are built in offset order
// or rebuilt from the store for one event alone. Hot and cold submits,
// REST writes and a move mixed in.
func TestSubmitEventsCompact(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, tc := range []struct {
			name string
			cfg  service.Config
		}{{"hot", service.Config{}}, {"cold", service.Config{ColdSubmits: true}}} {
			t.Run(tc.name, func(t *testing.T) {
				testSubmitEventsCompact(t, newFixture(t, open(t), tc.cfg))
			})
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
	compact, whole, run := 0, 0, 0
	evs, decoded := rowsUpdated(t, fx.events(fx.tableStream(), top))
	for i, e := range evs {
		ev := decoded[i]
		if !ev.Compact() {
			whole, run = whole+1, 0
			checkRow(t, "whole event's row", ev.Rows[0], states[ev.Rows[0].Version])
			continue
		}
		compact, run = compact+1, run+1
		if run >= event.FullRowEvery {
			t.Errorf("version %d: %d compact events in a row", ev.Row.Version, run)
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

// TestSubmitAfterAPauseHoldsTheRowWhole: a run of compact events never
// spans more than event.CompactSpan (the margin retention keeps): the
// first submit holds the row whole (the store knows no whole event of a
// new row, hot or cold), and so does
// the first one event.CompactSpan or more after the last whole one,
// whatever the pauses between.
func TestSubmitAfterAPauseHoldsTheRowWhole(t *testing.T) {
	gap, span := time.Minute, event.CompactSpan
	pauses := []time.Duration{0, gap, span - 2*gap, gap - time.Second, time.Second, 0}
	want := []bool{true, false, false, false, true, false}
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
				for i, pause := range pauses {
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
				if !slices.Equal(got, want) {
					t.Fatalf("whole events %v, want %v", got, want)
				}
			})
		}
	})
}

// TestWholeEventRecorded: the submit whose event holds the row whole
// records it with the row (store.Row.WholeVersion), hot or cold, and the
// next submit counts from it, even after the hot document was dropped
// (here by a REST write, whose own whole event is not recorded): the
// first submit after the write is compact.
func TestWholeEventRecorded(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, cold := range []bool{false, true} {
			t.Run(map[bool]string{false: "hot", true: "cold"}[cold], func(t *testing.T) {
				fx := newFixture(t, open(t), service.Config{ColdSubmits: cold})
				r := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t)
				name := fx.id("Name")
				top := fx.top(fx.tableStream())
				submit := func(i int) {
					v := fx.row(r.ID).Version
					op := `[{"p":["fields","` + name + `",0],"si":"x"}]`
					ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, v, "s", uint64(i), op)))(t)
				}
				submit(1)
				stored := ok(fx.st.Row(fx.ctx, fx.tbl.ID, r.ID))(t)
				if stored.WholeVersion != 2 || stored.WholeBytes == 0 || stored.WholeAt.IsZero() {
					t.Fatalf("after the first submit the row records whole version %d (%d bytes at %v), want 2",
						stored.WholeVersion, stored.WholeBytes, stored.WholeAt)
				}
				submit(2)
				ok(fx.svc.UpdateRow(fx.ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Done", `true`)}))(t)
				submit(3)
				var got []bool
				_, decoded := rowsUpdated(t, fx.events(fx.tableStream(), top))
				for _, ev := range decoded {
					got = append(got, !ev.Compact())
				}
				if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
					t.Fatalf("whole events %v, want %v", got, want)
				}
			})
		}
	})
}

// TestWideRowWholeLessOften: hot or cold, the wider the row the longer
// its runs of compact events (event.CompactRun): a row of about 40 KB
// holds 320 versions between whole ones, not 32; the row images still
// complete every event, in order and rebuilt alone from the store (from
// the whole event the store records, up to 319 ops back).
func TestWideRowWholeLessOften(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		t.Run("hot", func(t *testing.T) { testWideRowWholeLessOften(t, open, false) })
		t.Run("cold", func(t *testing.T) { testWideRowWholeLessOften(t, open, true) })
	})
}

func testWideRowWholeLessOften(t *testing.T, open func(testing.TB) store.Store, cold bool) {
	fx := newFixture(t, open(t), service.Config{ColdSubmits: cold})
	long := strings.Repeat("w", 40<<10)
	r := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`, "Notes", `"`+long+`"`), 0))(t)
	name := fx.id("Name")
	top := fx.top(fx.tableStream())
	const n = 3 * event.FullRowEvery
	for i := range n {
		v := fx.row(r.ID).Version
		op := `[{"p":["fields","` + name + `",0],"si":"x"}]`
		ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, v, "s", uint64(i+1), op)))(t)
	}
	evs, decoded := rowsUpdated(t, fx.events(fx.tableStream(), top))
	if len(decoded) != n {
		t.Fatalf("%d rows_updated events, want %d", len(decoded), n)
	}
	var whole []int
	for i, ev := range decoded {
		if !ev.Compact() {
			whole = append(whole, i)
		}
	}
	if !slices.Equal(whole, []int{0}) {
		t.Fatalf("whole events at %v of %d, want the first only", whole, n)
	}
	last := evs[len(evs)-1]
	im := rowimage.New(fx.st)
	data, err := event.WholeRowsData(fx.ctx, nil, im, last.Type, fx.tbl.ID, last.Offset, last.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var full event.RowsUpdated
	if err := json.Unmarshal(data, &full); err != nil {
		t.Fatal(err)
	}
	if len(full.Rows) != 1 {
		t.Fatalf("last event not completed: %.200s", data)
	}
	checkRow(t, "row after the last event", full.Rows[0], fx.row(r.ID))
	if im.Rebuilt() != 1 {
		t.Fatalf("rebuilt %d images, want 1", im.Rebuilt())
	}
	// From the whole event the store records with the row, not by
	// reading each event back to it.
	if n := im.EventReads(); n != 1 {
		t.Fatalf("rebuilding the image read %d events, want 1", n)
	}
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
