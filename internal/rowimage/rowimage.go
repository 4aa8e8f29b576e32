// Package rowimage rebuilds the whole rows of the compact rows_updated
// events submits write (event.RowsUpdated.Compact): the renderers that
// send whole rows (Baserow, public views, webhooks) get them from here.
//
// An image is a row as it was at a version. Images keeps the last ones it
// built, so that events read in offset order (the hub's, a webhook's)
// complete each other: the row after one event is the row before the
// next. On a miss it rebuilds the row before from the store, in one read
// snapshot: it walks the row's op log back from that version to the last
// event holding the row whole (a create, a REST write, or a submit's from
// time to time: event.WholeRowAfter), at most
// event.MaxCompactRun events back, then applies the ops since.
//
// Images reads no schema: a field deleted between the whole event and a
// compact one would be carried along. The submits prevent it: the first
// one after a deletion that took a cell from the row holds the row whole
// (the deletion resets store.Row.WholeVersion; a hot document is dropped).
package rowimage

import (
	"context"
	"encoding/json"
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

	rebuilt int64 // images rebuilt from the store, for tests
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
	col := event.RecordCollection(tableID)
	stream := store.TableStream(tableID)
	var out event.Row
	err := im.st.Read(ctx, func(r store.Reader) error {
		// The op log entries of versions lo+1..v (an entry's Version is the
		// version its change applied to).
		lo := max(0, v-1-event.MaxCompactRun)
		ops, err := r.DocOps(ctx, col, rowID, lo, int(v-lo))
		if err != nil {
			return err
		}
		if len(ops) == 0 || ops[len(ops)-1].Version != v-1 {
			return errNoImage
		}
		for i := len(ops) - 1; i >= 0; i-- {
			o := ops[i]
			if i < len(ops)-1 && ops[i+1].Version != o.Version+1 {
				return errNoImage
			}
			evs, err := r.Events(ctx, stream, o.Offset-1, 1)
			if err != nil {
				return err
			}
			if len(evs) != 1 || evs[0].Offset != o.Offset {
				return errNoImage
			}
			base, ok, err := wholeRow(evs[0], rowID)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if base.Version != o.Version+1 {
				return fmt.Errorf("event at %d holds row %d at version %d, the op log says %d", o.Offset, rowID, base.Version, o.Version+1)
			}
			for _, next := range ops[i+1:] {
				var entry struct {
					Op json.RawMessage `json:"op"`
				}
				if err := json.Unmarshal(next.Op, &entry); err != nil || entry.Op == nil {
					return fmt.Errorf("op log of row %d at version %d: not an op", rowID, next.Version)
				}
				if base, err = event.ApplyRecordOp(base, entry.Op); err != nil {
					return err
				}
			}
			out = base
			return nil
		}
		return errNoImage
	})
	if err != nil {
		return event.Row{}, err
	}
	im.mu.Lock()
	im.rebuilt++
	im.mu.Unlock()
	im.put(tableID, out)
	return out, nil
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
