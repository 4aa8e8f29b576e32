package baserow

import (
	"maps"
	"sync"
)

// pagesIndex counts the pages this node's sockets hold, per table: the
// renderer renders an event only for the pages that someone holds (no
// table page, no table frame; no page of a view, no projection of it). A
// table nobody here watches costs the renderer one map lookup per event.
//
// A page is counted from just before its hub subscription is made until
// it is gone (removed, revoked, or its socket closed), so that an event
// delivered to a subscription was rendered for it. Counting one too many
// for a moment only renders a frame nobody receives.
//
// The counts of a table are an immutable snapshot, replaced whole on each
// change: the renderer reads them without holding a lock.
type pagesIndex struct {
	mu     sync.RWMutex
	tables map[int64]*tablePages
}

// tablePages is a snapshot of one table's pages; never changed once
// stored.
type tablePages struct {
	table int
	rows  map[int64]int    // row id -> row pages
	views map[int64]int    // view id -> view pages
	slugs map[int64]string // view id -> slug (force_* frames name the view by it)
}

func (t *tablePages) empty() bool {
	return t.table == 0 && len(t.rows) == 0 && len(t.views) == 0
}

func newPagesIndex() *pagesIndex { return &pagesIndex{tables: make(map[int64]*tablePages)} }

// of returns the table's snapshot, nil when no page of it is held.
func (x *pagesIndex) of(tableID int64) *tablePages {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.tables[tableID]
}

// change applies delta (+1 or -1) for p and reports how many pages of
// p's view remain (view pages only).
func (x *pagesIndex) change(p *page, delta int) (viewPages int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.tables[p.tableID]
	next := &tablePages{}
	if cur != nil {
		next.table = cur.table
		next.rows = maps.Clone(cur.rows)
		next.views = maps.Clone(cur.views)
		next.slugs = maps.Clone(cur.slugs)
	}
	switch p.typ.(type) {
	case tablePage:
		next.table = max(next.table+delta, 0)
	case rowPage:
		next.rows = bump(next.rows, p.rowID, delta)
	case viewPage:
		next.views = bump(next.views, p.viewID, delta)
		if next.views[p.viewID] > 0 {
			if next.slugs == nil {
				next.slugs = make(map[int64]string)
			}
			next.slugs[p.viewID] = p.slug
		} else {
			delete(next.slugs, p.viewID)
		}
		viewPages = next.views[p.viewID]
	}
	if next.empty() {
		delete(x.tables, p.tableID)
	} else {
		x.tables[p.tableID] = next
	}
	return viewPages
}

// rendersFor reports whether any table or view page of the table is held.
func (x *pagesIndex) rendersFor(tableID int64) bool {
	t := x.of(tableID)
	return t != nil && (t.table > 0 || len(t.views) > 0)
}

func bump(m map[int64]int, id int64, delta int) map[int64]int {
	if m == nil {
		m = make(map[int64]int)
	}
	if n := m[id] + delta; n > 0 {
		m[id] = n
	} else {
		delete(m, id)
	}
	return m
}
