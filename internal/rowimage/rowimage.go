// Package rowimage rebuilds the whole rows of the compact rows_updated
// events submits write (event.RowsUpdated.Compact): the renderers that
// send whole rows (Baserow, public views, webhooks) get them from here.
//
// An image is a row as it was at a version. Images keeps the last ones it
// built, so that events read in offset order (the hub's, a webhook's)
// complete each other: the row after one event is the row before the
// next. On a miss it rebuilds the row before from the store, in one read
// snapshot, from an event holding the row whole and the op log's ops
// since: the one the store records with the row (store.Row.WholeVersion,
// written by the submits whose events hold the row whole), when it is at
// or before that version, with one event read; else the last one found
// by walking the row's op log back (a create, a REST write, or a
// submit's: event.WholeRowAfter), at most event.MaxCompactRun events
// back.
//
// Images reads no schema: a field deleted between the whole event and a
// compact one would be carried along. The submits prevent it: the first
// one after a deletion that took a cell from the row holds the row whole
// (the deletion resets store.Row.WholeVersion; a hot document is dropped).
package rowimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// Store is what Images reads: events and the op log, in one snapshot.
type Store interface {
	Read(ctx context.Context, fn func(r store.Reader) error) error
}

// maxImages bounds the images kept; past it the oldest half is dropped.
const maxImages = 4096

// Images implements event.RowImager over the store.
type Images struct {
	st Store

	mu    sync.Mutex
	rows  map[imageKey]event.Row
	order []imageKey // oldest first

	rebuilt    int64 // images rebuilt from the store, for tests
	eventReads int64 // events read to rebuild them, for tests
}

type imageKey struct {
	table, row, version int64
}

var _ event.RowImager = (*Images)(nil)

// New returns Images reading st.
func New(st Store) *Images {
	return &Images{st: st, rows: make(map[imageKey]event.Row)}
}

// Rebuilt counts the images rebuilt from the store.
func (im *Images) Rebuilt() int64 {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.rebuilt
}

// EventReads counts the events read from the store to rebuild images.
func (im *Images) EventReads() int64 {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.eventReads
}

// Expand implements event.RowImager.
func (im *Images) Expand(ctx context.Context, tableID int64, offset uint64, ev *event.RowsUpdated) error {
	h := ev.Row
	if h == nil {
		return nil
	}
	before, ok := im.get(imageKey{tableID, h.ID, h.Version - 1})
	if !ok {
		var err error
		if before, err = im.rebuild(ctx, tableID, h.ID, h.Version-1); err != nil {
			return fmt.Errorf("rowimage: row %d of table %d before offset %d: %w", h.ID, tableID, offset, err)
		}
	}
	if err := ev.Complete(before); err != nil {
		return err
	}
	im.put(tableID, ev.Rows[0])
	return nil
}

func (im *Images) get(k imageKey) (event.Row, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	r, ok := im.rows[k]
	return r, ok
}

func (im *Images) put(tableID int64, r event.Row) {
	k := imageKey{tableID, r.ID, r.Version}
	im.mu.Lock()
	defer im.mu.Unlock()
	if _, ok := im.rows[k]; ok {
		return
	}
	if len(im.rows) >= maxImages {
		n := len(im.order) / 2
		for _, old := range im.order[:n] {
			delete(im.rows, old)
		}
		im.order = append(im.order[:0:0], im.order[n:]...)
	}
	im.rows[k] = r
	im.order = append(im.order, k)
}

// errNoImage: no event within reach holds the row whole: it was pruned
// (a webhook that fell behind, see docs/architecture.md), so the event
// cannot be completed any more, as if it were pruned itself.
var errNoImage = fmt.Errorf("no event holding the row whole within reach: %w", store.ErrPruned)

// rebuild returns the row at version v from the store.
func (im *Images) rebuild(ctx context.Context, tableID, rowID, v int64) (event.Row, error) {
	var out event.Row
	b := &builder{ctx: ctx, tableID: tableID, rowID: rowID}
	err := im.st.Read(ctx, func(r store.Reader) error {
		b.r = r
		var ok bool
		var err error
		if out, ok, err = b.fromRecorded(v); err != nil || ok {
			return err
		}
		out, err = b.walk(v)
		return err
	})
	im.mu.Lock()
	im.eventReads += int64(b.reads)
	im.mu.Unlock()
	if err != nil {
		return event.Row{}, err
	}
	im.mu.Lock()
	im.rebuilt++
	im.mu.Unlock()
	im.put(tableID, out)
	return out, nil
}

// builder rebuilds one row's image in one read snapshot.
type builder struct {
	ctx            context.Context
	r              store.Reader
	tableID, rowID int64
	reads          int // events read
}

// fromRecorded rebuilds the row at version v from the last event the
// store records as holding it whole (store.Row.WholeVersion), when that
// is at or before v: one event read, whatever the distance. ok is false
// when the store records none that serves (the row is gone, none is
// recorded, the one recorded is after v, or its entries are pruned): the
// caller walks back instead.
func (b *builder) fromRecorded(v int64) (event.Row, bool, error) {
	head, err := b.r.RowCells(b.ctx, b.tableID, b.rowID, nil)
	if errors.Is(err, store.ErrNotFound) {
		return event.Row{}, false, nil
	}
	if err != nil {
		return event.Row{}, false, err
	}
	w := head.WholeVersion
	if w == 0 || w > v || v-w >= event.MaxCompactRun {
		return event.Row{}, false, nil
	}
	// The entries of versions w-1 (its event holds the row whole at w) to v-1.
	ops, err := b.r.DocOps(b.ctx, event.RecordCollection(b.tableID), b.rowID, w-1, int(v-w+1))
	if err != nil {
		return event.Row{}, false, err
	}
	if len(ops) != int(v-w+1) || ops[0].Version != w-1 {
		return event.Row{}, false, nil
	}
	base, ok, err := b.wholeAt(ops[0])
	if err != nil || !ok {
		return event.Row{}, false, err
	}
	row, err := b.apply(base, ops[1:])
	return row, err == nil, err
}

// walk rebuilds the row at version v by walking its op log back from v
// to the last event holding the row whole, at most event.MaxCompactRun
// events back, then applying the ops since.
func (b *builder) walk(v int64) (event.Row, error) {
	// The op log entries of versions lo+1..v (an entry's Version is the
	// version its change applied to).
	lo := max(0, v-1-event.MaxCompactRun)
	ops, err := b.r.DocOps(b.ctx, event.RecordCollection(b.tableID), b.rowID, lo, int(v-lo))
	if err != nil {
		return event.Row{}, err
	}
	if len(ops) == 0 || ops[len(ops)-1].Version != v-1 {
		return event.Row{}, errNoImage
	}
	for i := len(ops) - 1; i >= 0; i-- {
		if i < len(ops)-1 && ops[i+1].Version != ops[i].Version+1 {
			return event.Row{}, errNoImage
		}
		base, ok, err := b.wholeAt(ops[i])
		if err != nil {
			return event.Row{}, err
		}
		if ok {
			return b.apply(base, ops[i+1:])
		}
	}
	return event.Row{}, errNoImage
}

// wholeAt reads the event of op o: ok is true when it holds the row
// whole, which it returns (at version o.Version+1).
func (b *builder) wholeAt(o store.DocOp) (event.Row, bool, error) {
	b.reads++
	evs, err := b.r.Events(b.ctx, store.TableStream(b.tableID), o.Offset-1, 1)
	if err != nil {
		return event.Row{}, false, err
	}
	if len(evs) != 1 || evs[0].Offset != o.Offset {
		return event.Row{}, false, errNoImage
	}
	base, ok, err := wholeRow(evs[0], b.rowID)
	if err != nil || !ok {
		return event.Row{}, false, err
	}
	if base.Version != o.Version+1 {
		return event.Row{}, false, fmt.Errorf("event at %d holds row %d at version %d, the op log says %d", o.Offset, b.rowID, base.Version, o.Version+1)
	}
	return base, true, nil
}

// apply applies the ops of the op log entries to base.
func (b *builder) apply(base event.Row, ops []store.DocOp) (event.Row, error) {
	for _, next := range ops {
		var entry struct {
			Op json.RawMessage `json:"op"`
		}
		if err := json.Unmarshal(next.Op, &entry); err != nil || entry.Op == nil {
			return event.Row{}, fmt.Errorf("op log of row %d at version %d: not an op", b.rowID, next.Version)
		}
		var err error
		if base, err = event.ApplyRecordOp(base, entry.Op); err != nil {
			return event.Row{}, err
		}
	}
	return base, nil
}

// wholeRow returns the row as an event holds it whole after its change:
// rows_created, or a rows_updated that is not compact.
func wholeRow(e store.Event, rowID int64) (event.Row, bool, error) {
	var rows []event.Row
	switch e.Type {
	case event.EventRowsCreated:
		var ev event.RowsCreated
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			return event.Row{}, false, err
		}
		rows = ev.Rows
	case event.EventRowsUpdated:
		var ev event.RowsUpdated
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			return event.Row{}, false, err
		}
		if ev.Compact() {
			return event.Row{}, false, nil
		}
		rows = ev.Rows
	default:
		return event.Row{}, false, nil
	}
	for _, r := range rows {
		if r.ID == rowID {
			return r, true, nil
		}
	}
	return event.Row{}, false, nil
}
