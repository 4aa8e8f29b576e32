package rowimage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/rowimage"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
)

// TestNoWholeRowIsPruned: a compact event whose row has no event holding
// it whole within reach (pruned) cannot be completed, and says so as
// store.ErrPruned, which the webhooks and replays treat as events gone.
// (Completing events in order and alone is TestSubmitEventsCompact's, in
// internal/service.)
func TestNoWholeRowIsPruned(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		im := rowimage.New(open(t))
		now := time.Now().UTC()
		ev := &event.RowsUpdated{Op: []byte(`[{"p":["fields","1",0],"si":"x"}]`),
			Row: &event.RowHead{ID: 7, Version: 5, UpdatedAt: now, UpdatedBefore: now}}
		err := im.Expand(servicetest.Ctx(t), 3, 40, ev)
		if !errors.Is(err, store.ErrPruned) {
			t.Fatalf("Expand of a row with no history: %v, want store.ErrPruned", err)
		}
		if ev.Rows != nil || ev.RowsBefore != nil {
			t.Fatalf("the event was completed anyway: %+v", ev)
		}
	})
}
