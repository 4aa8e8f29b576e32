package service

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// Row list limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListRowsInput is the query of a row listing. Filter and Sort are the JSON
// of the query parameters ("" for none); without Sort, a view's sorts
// apply; without any sort, rows come in their order (order, id).
type ListRowsInput struct {
	ViewID int64
	Filter string
	Sort   string
	Search string
	Limit  int // 0 is DefaultLimit
	Cursor string
}

// RowPage is one page of a row listing. Offset is the table stream's offset
// at which the rows were read (the same snapshot): subscribing from it
// misses no change and repeats none.
type RowPage struct {
	Rows       []event.Row `json:"results"`
	NextCursor *string     `json:"next_cursor"`
	Offset     uint64      `json:"offset"`
}

// query is a compiled listing.
type query struct {
	tableID int64
	pred    *table.Predicate
	sorter  *table.Sorter // nil: row order
	limit   int
	print   []byte // fingerprint of the request, bound into its cursors
}

// listSpec is what a listing asks for, before it is compiled.
type listSpec struct {
	in      ListRowsInput
	view    *table.View // the view whose filters (and, without Sort, sorts) apply
	fields  map[int64]*table.Field
	search  map[int64]*table.Field // the fields search looks in
	context string                 // "user" or "public:<slug>"
}

func compileQuery(t store.Table, sp listSpec) (*query, error) {
	q := &query{tableID: t.ID, limit: sp.in.Limit}
	var e *table.ValidationError
	switch {
	case q.limit == 0:
		q.limit = DefaultLimit
	case q.limit < 0 || q.limit > MaxLimit:
		e = e.Add("limit", "must be from 1 to "+strconv.Itoa(MaxLimit))
	}
	var viewPred, filterPred *table.Predicate
	sorts := []table.Sort(nil)
	if sp.view != nil {
		var err error
		if viewPred, err = sp.view.Predicate(sp.fields); err != nil {
			e = e.Merge("view", table.AsValidation(err, ""))
		}
		sorts = sp.view.Sorts
	}
	if sp.in.Filter != "" {
		fs, err := table.ParseFilterSet([]byte(sp.in.Filter))
		if err == nil {
			filterPred, err = table.Compile(fs, sp.fields)
			err = prefixed(err, "filter")
		}
		e = e.Merge("", table.AsValidation(err, ""))
	}
	if sp.in.Sort != "" {
		var err error
		sorts, err = table.ParseSorts([]byte(sp.in.Sort))
		if err != nil {
			e = e.Merge("", table.AsValidation(err, ""))
			sorts = nil
		}
	}
	if len(sorts) > 0 {
		sorter, err := table.CompileSorts(sorts, sp.fields)
		if err != nil {
			ve := table.AsValidation(err, "")
			for k, v := range ve.Details {
				e = e.Add("sort"+strings.TrimPrefix(k, "sorts"), v)
			}
		}
		q.sorter = sorter
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	q.pred = table.And(viewPred, filterPred, table.Search(sp.in.Search, sp.search))

	h := sha256.New()
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(t.ID))
	h.Write(id[:])
	sj, _ := json.Marshal(sorts)
	for _, part := range []string{sp.context, strconv.FormatInt(sp.in.ViewID, 10), sp.in.Filter, string(sj), sp.in.Search} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	q.print = h.Sum(nil)[:16]
	return q, nil
}

// prefixed puts a validation error's keys under prefix.
func prefixed(err error, prefix string) error {
	if ve := table.AsValidation(err, prefix); ve != nil {
		return ve
	}
	return err
}

// listedRow is a row read by a listing with its decoded values and order.
type listedRow struct {
	row   store.Row
	vals  table.Values
	order table.Order
}

func newListedRow(r store.Row) (listedRow, error) {
	vals, err := decodeValues(r.Values)
	if err != nil {
		return listedRow{}, err
	}
	ord, err := table.ParseOrder(r.Order)
	if err != nil {
		return listedRow{}, err
	}
	return listedRow{row: r, vals: vals, order: ord}, nil
}

// compare orders two rows by the sorts, then their order, then their id.
func (q *query) compare(a, b *listedRow) int {
	if c := q.sorter.Compare(a.vals, b.vals); c != 0 {
		return c
	}
	if c := a.order.Compare(b.order); c != 0 {
		return c
	}
	switch {
	case a.row.ID < b.row.ID:
		return -1
	case a.row.ID > b.row.ID:
		return 1
	}
	return 0
}

// page reads one page of the listing in r's snapshot.
func (s *Service) page(ctx context.Context, r store.Reader, q *query, cursor string) ([]listedRow, *string, error) {
	var cur *cursorState
	if cursor != "" {
		c, err := s.openCursor(cursor, q.print)
		if err != nil {
			return nil, nil, err
		}
		cur = c
	}
	var got []listedRow
	var err error
	if q.sorter == nil {
		got, err = s.pageByOrder(ctx, r, q, cur)
	} else {
		got, err = s.pageSorted(ctx, r, q, cur)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(got) <= q.limit {
		return got, nil, nil
	}
	got = got[:q.limit]
	last := got[len(got)-1]
	next := &cursorState{Print: q.print, Order: last.row.Order, ID: last.row.ID}
	if q.sorter != nil {
		next.Values = table.Values{}
		for _, id := range q.sorter.Fields() {
			if v, ok := last.vals[id]; ok {
				next.Values[id] = v
			}
		}
	}
	token, err := s.sealCursor(next)
	if err != nil {
		return nil, nil, err
	}
	return got, &token, nil
}

// pageByOrder pages in row order with the store's keyset cursor, reading
// only as many rows as it needs (in batches when a filter drops rows).
func (s *Service) pageByOrder(ctx context.Context, r store.Reader, q *query, cur *cursorState) ([]listedRow, error) {
	var after store.RowCursor
	if cur != nil {
		after = store.RowCursor{Order: cur.Order, ID: cur.ID}
	}
	batch := q.limit + 1
	if q.pred != nil {
		batch = max(batch, scanBatch)
	}
	got := make([]listedRow, 0, q.limit+1)
	for {
		rows, err := r.Rows(ctx, q.tableID, after, batch)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			lr, err := newListedRow(row)
			if err != nil {
				return nil, err
			}
			if !q.pred.Match(lr.vals) {
				continue
			}
			if got = append(got, lr); len(got) > q.limit {
				return got, nil
			}
		}
		if len(rows) < batch {
			return got, nil
		}
		after = rows[len(rows)-1].Cursor()
	}
}

// rowHeap keeps the greatest row on top, so that popping it keeps the
// smallest ones.
type rowHeap struct {
	q    *query
	rows []listedRow
}

func (h *rowHeap) Len() int           { return len(h.rows) }
func (h *rowHeap) Less(i, j int) bool { return h.q.compare(&h.rows[i], &h.rows[j]) > 0 }
func (h *rowHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *rowHeap) Push(x any)         { h.rows = append(h.rows, x.(listedRow)) }
func (h *rowHeap) Pop() any {
	last := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return last
}

// pageSorted reads every row of the table (in batches, within the one read
// transaction), keeps the limit+1 smallest after the cursor by (sorts,
// order, id) in a heap, and returns them in order: memory O(limit), time
// O(rows * log limit). Tables over MaxSortRows are refused.
func (s *Service) pageSorted(ctx context.Context, r store.Reader, q *query, cur *cursorState) ([]listedRow, error) {
	var from *listedRow
	if cur != nil {
		ord, err := table.ParseOrder(cur.Order)
		if err != nil {
			return nil, badCursor()
		}
		from = &listedRow{row: store.Row{ID: cur.ID, Order: cur.Order}, vals: cur.Values, order: ord}
	}
	h := &rowHeap{q: q, rows: make([]listedRow, 0, q.limit+2)}
	var after store.RowCursor
	scanned := 0
	for {
		rows, err := r.Rows(ctx, q.tableID, after, scanBatch)
		if err != nil {
			return nil, err
		}
		if scanned += len(rows); scanned > s.maxSort {
			return nil, validation("sort", "sorting is limited to tables of at most "+strconv.Itoa(s.maxSort)+
				" rows: leave out the sort (and the view's sorts) or page in row order")
		}
		for _, row := range rows {
			lr, err := newListedRow(row)
			if err != nil {
				return nil, err
			}
			if !q.pred.Match(lr.vals) || (from != nil && q.compare(&lr, from) <= 0) {
				continue
			}
			heap.Push(h, lr)
			if h.Len() > q.limit+1 {
				heap.Pop(h)
			}
		}
		if len(rows) < scanBatch {
			break
		}
		after = rows[len(rows)-1].Cursor()
	}
	out := make([]listedRow, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(listedRow)
	}
	return out, nil
}

// ListRows lists a table's rows (any member): the view's filters AND the
// query's filter AND the search, sorted by the query's sorts (else the
// view's, else row order), one page after the cursor.
func (s *Service) ListRows(ctx context.Context, a Actor, tableID int64, in ListRowsInput) (RowPage, error) {
	var out RowPage
	err := s.read(ctx, func(r store.Reader) error {
		t, _, err := tableAccess(ctx, r, a.UserID, tableID, store.RoleViewer)
		if err != nil {
			return err
		}
		sc, err := loadSchema(ctx, r, tableID)
		if err != nil {
			return err
		}
		sp := listSpec{in: in, fields: sc.byID, search: sc.byID, context: "user"}
		if in.ViewID != 0 {
			sv, err := r.View(ctx, in.ViewID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && sv.TableID != tableID) {
				return validation("view", "view "+strconv.FormatInt(in.ViewID, 10)+" does not exist in table "+strconv.FormatInt(tableID, 10))
			}
			if err != nil {
				return err
			}
			if sp.view, err = ViewFromStore(sv); err != nil {
				return err
			}
		}
		q, err := compileQuery(t, sp)
		if err != nil {
			return err
		}
		out, err = s.readPage(ctx, r, q, in.Cursor, sc.list)
		return err
	})
	return out, err
}

// readPage reads a page and the stream offset in one snapshot and shows the
// rows with the given fields.
func (s *Service) readPage(ctx context.Context, r store.Reader, q *query, cursor string, fields []*table.Field) (RowPage, error) {
	got, next, err := s.page(ctx, r, q, cursor)
	if err != nil {
		return RowPage{}, err
	}
	off, err := r.StreamTop(ctx, store.TableStream(q.tableID))
	if err != nil {
		return RowPage{}, err
	}
	page := RowPage{Rows: make([]event.Row, len(got)), NextCursor: next, Offset: off}
	for i, lr := range got {
		page.Rows[i] = rowOut(lr.row, lr.vals, fields)
	}
	return page, nil
}
