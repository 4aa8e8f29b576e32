package publicview

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// Defs keeps, for each table with public view subscriptions on this node, its fields
// and public views, compiled for projection. They are read through the
// Store when the first view page of the table is added, and read again
// after the table's field and view events: one read per change of the
// table's schema per node, whatever the number of subscribers.
//
// An event is never projected with definitions older than itself. Each
// table's entry knows the stream offset its definitions reflect
// (through). Events arrive in offset order on the delivery path, so
// through follows them; a field or view event makes the entry stale (it is
// read again before the next projection). An event past through+1 (a
// replay ahead of the delivery path) reads the definitions again first.
// Events at or before through (replays of the past) are projected with the
// current definitions: never more than the view shows now.
type Defs struct {
	store   Store
	log     *slog.Logger
	timeout time.Duration

	mu     sync.Mutex
	tables map[int64]*defsEntry

	loads atomic.Int64 // store reads, for the metrics
}

type defsEntry struct {
	mu      sync.Mutex
	defs    *TableDefs // nil until read
	through uint64     // the offset defs reflect
	stale   bool       // a field or view event passed since they were read
}

// TableDefs is one table's definitions, compiled; immutable.
type TableDefs struct {
	Fields map[int64]*table.Field
	Views  map[int64]*View // public views by id
}

// View is a public view ready for projection.
type View struct {
	View    table.View
	Pred    *table.Predicate // nil: every row
	Visible []int64          // the fields the view shows, ascending ids
	Shown   map[int64]bool
	Sorts   []table.Sort
}

// NewDefs returns an empty cache reading through store.
func NewDefs(store Store, log *slog.Logger) *Defs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Defs{store: store, log: log, timeout: 10 * time.Second, tables: make(map[int64]*defsEntry)}
}

func (d *Defs) entry(tableID int64) *defsEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.tables[tableID]
	if e == nil {
		e = &defsEntry{}
		d.tables[tableID] = e
	}
	return e
}

// Drop forgets a table whose last public view subscription is gone.
func (d *Defs) Drop(tableID int64) {
	d.mu.Lock()
	delete(d.tables, tableID)
	d.mu.Unlock()
}

// Ensure reads a table's definitions if they are not held yet (a public
// view subscription being made).
func (d *Defs) Ensure(ctx context.Context, tableID int64) error {
	e := d.entry(tableID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.defs != nil && !e.stale {
		return nil
	}
	return d.loadLocked(ctx, tableID, e)
}

// ForEvent returns the definitions to project the event at offset with.
// schema says whether the event changes them (field and view events).
func (d *Defs) ForEvent(tableID int64, offset uint64, schema bool) (*TableDefs, error) {
	e := d.entry(tableID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.defs == nil || e.stale || offset > e.through+1 {
		ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
		err := d.loadLocked(ctx, tableID, e)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	if offset == e.through+1 {
		if schema {
			e.stale = true // projected with the definitions before it; read after
		} else {
			e.through = offset
		}
	}
	return e.defs, nil
}

func (d *Defs) loadLocked(ctx context.Context, tableID int64, e *defsEntry) error {
	tv, err := d.store.TableViews(ctx, tableID)
	d.loads.Add(1)
	if err != nil {
		return fmt.Errorf("publicview: read the views of table %d: %w", tableID, err)
	}
	defs, broken := Compile(tv)
	for id, err := range broken {
		d.log.Error("a public view's filters do not compile; it is not projected", "view", id, "err", err)
	}
	e.defs, e.through, e.stale = defs, tv.Offset, false
	return nil
}

// Compile compiles each public view's filters against the table's
// fields, as the public rows listing does. A view whose filters do not
// compile (the listing refuses it too) is left out, with its error.
func Compile(tv TableViews) (*TableDefs, map[int64]error) {
	defs := &TableDefs{Fields: make(map[int64]*table.Field, len(tv.Fields)), Views: make(map[int64]*View, len(tv.Views))}
	var broken map[int64]error
	for i := range tv.Fields {
		f := tv.Fields[i]
		defs.Fields[f.ID] = &f
	}
	for _, v := range tv.Views {
		if !v.Public {
			continue
		}
		pred, err := v.Predicate(defs.Fields)
		if err != nil {
			if broken == nil {
				broken = make(map[int64]error)
			}
			broken[v.ID] = err
			continue
		}
		vd := &View{View: v, Pred: pred, Shown: make(map[int64]bool), Sorts: v.Sorts}
		for _, f := range v.VisibleFields(defs.Fields) {
			vd.Visible = append(vd.Visible, f.ID)
			vd.Shown[f.ID] = true
		}
		slices.Sort(vd.Visible)
		defs.Views[v.ID] = vd
	}
	return defs, broken
}

// ChangesDefinitions reports whether an event of a table's stream changes
// what the projections read.
func ChangesDefinitions(typ string) bool {
	switch typ {
	case event.EventFieldCreated, event.EventFieldUpdated, event.EventFieldDeleted,
		event.EventViewCreated, event.EventViewUpdated, event.EventViewDeleted, event.EventTableDeleted:
		return true
	}
	return false
}

// Loads counts the store reads, for the metrics.
func (d *Defs) Loads() int64 { return d.loads.Load() }

// Held counts the tables whose definitions are kept.
func (d *Defs) Held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.tables)
}
