package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"time"
)

// sqlReader implements Reader for both engines over a querier: the Store's
// pool, or a transaction.
type sqlReader struct {
	q querier
	d *dialect
}

// tsDest scans a time from either engine: SQLite's unix microseconds or
// PostgreSQL's timestamptz. Times are returned in UTC.
type tsDest struct{ t *time.Time }

func (d tsDest) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*d.t = time.UnixMicro(x).UTC()
	case time.Time:
		*d.t = x.UTC()
	default:
		return fmt.Errorf("store: cannot scan %T as a time", v)
	}
	return nil
}

// now is the time the store writes: UTC, to the microsecond both engines keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: limit %d: must be positive", ErrInvalid, limit)
	}
	return nil
}

func scanWorkspace(s scanner) (w Workspace, err error) {
	err = s.Scan(&w.ID, &w.Name, tsDest{&w.CreatedAt})
	return w, err
}

func scanTable(s scanner) (t Table, err error) {
	err = s.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.Order, tsDest{&t.CreatedAt}, &t.Version)
	return t, err
}

func scanField(s scanner) (f Field, err error) {
	var opts []byte
	err = s.Scan(&f.ID, &f.TableID, &f.Name, &f.Type, &f.Primary, &f.Order, &opts, &f.Version)
	f.Options = opts
	return f, err
}

func scanView(s scanner) (v View, err error) {
	var filters, sorts, hidden []byte
	err = s.Scan(&v.ID, &v.TableID, &v.Name, &v.Type, &v.Order, &v.FilterType, &filters, &sorts,
		&hidden, &v.Public, &v.Slug, &v.PasswordHash, &v.Version)
	if err != nil {
		return v, err
	}
	v.Filters, v.Sorts = filters, sorts
	if err := json.Unmarshal(hidden, &v.HiddenFieldIDs); err != nil {
		return v, fmt.Errorf("store: view %d: hidden field ids: %w", v.ID, err)
	}
	if v.HiddenFieldIDs == nil {
		v.HiddenFieldIDs = []int64{}
	}
	return v, nil
}

func scanRow(s scanner) (r Row, err error) {
	var vals []byte
	err = s.Scan(&r.ID, &r.TableID, &r.Order, &r.Version, &vals, tsDest{&r.CreatedAt}, tsDest{&r.UpdatedAt}, &r.WholeVersion, tsDest{&r.WholeAt}, &r.WholeBytes)
	if err != nil {
		return r, err
	}
	r.Values = vals
	if r.WholeVersion == 0 {
		r.WholeAt, r.WholeBytes = time.Time{}, 0 // none known
	}
	r.Order, err = canonicalOrder(r.Order)
	return r, err
}

func scanEvent(s scanner) (e Event, err error) {
	var kind int64
	var off int64
	var payload []byte
	err = s.Scan(&kind, &e.Stream.ID, &off, &e.Type, &payload, tsDest{&e.CreatedAt}, &e.Published)
	e.Stream.Kind, e.Offset, e.Payload = StreamKind(kind), uint64(off), payload
	return e, err
}

// queryAll runs a query and scans every row of its result.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (r *sqlReader) Workspaces(ctx context.Context, userID string) ([]Workspace, error) {
	ws, err := queryAll(ctx, r.q, scanWorkspace, r.d.q.wsOfUser, userID)
	return ws, r.d.mapErr(err, "workspaces of user "+userID)
}

func (r *sqlReader) Workspace(ctx context.Context, id int64) (Workspace, error) {
	w, err := scanWorkspace(r.q.queryRow(ctx, r.d.q.wsGet, id))
	return w, r.d.mapErr(err, fmt.Sprintf("workspace %d", id))
}

func (r *sqlReader) MemberRole(ctx context.Context, workspaceID int64, userID string) (Role, error) {
	var role string
	err := r.q.queryRow(ctx, r.d.q.memberRole, workspaceID, userID).Scan(&role)
	return Role(role), r.d.mapErr(err, fmt.Sprintf("member %q of workspace %d", userID, workspaceID))
}

func (r *sqlReader) Members(ctx context.Context, workspaceID int64) ([]Member, error) {
	ms, err := queryAll(ctx, r.q, func(s scanner) (m Member, err error) {
		err = s.Scan(&m.WorkspaceID, &m.UserID, &m.Role)
		return m, err
	}, r.d.q.members, workspaceID)
	return ms, r.d.mapErr(err, fmt.Sprintf("members of workspace %d", workspaceID))
}

func (r *sqlReader) Tables(ctx context.Context, workspaceID int64) ([]Table, error) {
	ts, err := queryAll(ctx, r.q, scanTable, r.d.q.tables, workspaceID)
	return ts, r.d.mapErr(err, fmt.Sprintf("tables of workspace %d", workspaceID))
}

func (r *sqlReader) Table(ctx context.Context, id int64) (Table, error) {
	t, err := scanTable(r.q.queryRow(ctx, r.d.q.tableGet, id))
	return t, r.d.mapErr(err, fmt.Sprintf("table %d", id))
}

func (r *sqlReader) Fields(ctx context.Context, tableID int64) ([]Field, error) {
	fs, err := queryAll(ctx, r.q, scanField, r.d.q.fields, tableID)
	return fs, r.d.mapErr(err, fmt.Sprintf("fields of table %d", tableID))
}

func (r *sqlReader) Field(ctx context.Context, id int64) (Field, error) {
	f, err := scanField(r.q.queryRow(ctx, r.d.q.fieldGet, id))
	return f, r.d.mapErr(err, fmt.Sprintf("field %d", id))
}

func (r *sqlReader) Views(ctx context.Context, tableID int64) ([]View, error) {
	vs, err := queryAll(ctx, r.q, scanView, r.d.q.views, tableID)
	return vs, r.d.mapErr(err, fmt.Sprintf("views of table %d", tableID))
}

func (r *sqlReader) View(ctx context.Context, id int64) (View, error) {
	v, err := scanView(r.q.queryRow(ctx, r.d.q.viewGet, id))
	return v, r.d.mapErr(err, fmt.Sprintf("view %d", id))
}

func (r *sqlReader) ViewBySlug(ctx context.Context, slug string) (View, error) {
	if slug == "" {
		return View{}, fmt.Errorf("%w: view with an empty slug", ErrNotFound)
	}
	v, err := scanView(r.q.queryRow(ctx, r.d.q.viewBySlug, slug))
	return v, r.d.mapErr(err, fmt.Sprintf("view with slug %q", slug))
}

func (r *sqlReader) Row(ctx context.Context, tableID, rowID int64) (Row, error) {
	row, err := scanRow(r.q.queryRow(ctx, r.d.q.rowGet, tableID, rowID))
	return row, r.d.mapErr(err, fmt.Sprintf("row %d of table %d", rowID, tableID))
}

// RowCells implements Reader.
func (r *sqlReader) RowCells(ctx context.Context, tableID, rowID int64, fieldIDs []int64) (Row, error) {
	if fieldIDs == nil {
		fieldIDs = []int64{}
	}
	row, err := scanRow(r.q.queryRow(ctx, r.d.q.rowGetCells, r.d.ids(fieldIDs), tableID, rowID))
	return row, r.d.mapErr(err, fmt.Sprintf("row %d of table %d", rowID, tableID))
}

// RowVersions implements Reader.
func (r *sqlReader) RowVersions(ctx context.Context, tableID int64, ids []int64) (map[int64]int64, error) {
	what := func() string { return fmt.Sprintf("versions of rows of table %d", tableID) }
	out := make(map[int64]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := r.q.query(ctx, r.d.q.rowVersions, r.d.ids(ids), tableID)
	if err != nil {
		return nil, r.d.mapErr(err, what())
	}
	defer rows.Close()
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, r.d.mapErr(err, what())
		}
		out[id] = v
	}
	return out, r.d.mapErr(rows.Err(), what())
}

func (r *sqlReader) Rows(ctx context.Context, tableID int64, after RowCursor, limit int) ([]Row, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	ord := new(big.Int)
	if after.Order != "" {
		var err error
		if ord, err = parseOrder(after.Order); err != nil {
			return nil, err
		}
	}
	rows, err := queryAll(ctx, r.q, scanRow, r.d.q.rowsAfter, tableID, r.d.order(ord), after.ID, limit)
	return rows, r.d.mapErr(err, fmt.Sprintf("rows of table %d", tableID))
}

func (r *sqlReader) RowsByIDs(ctx context.Context, tableID int64, ids []int64) ([]Row, error) {
	if len(ids) == 0 {
		return []Row{}, nil
	}
	rows, err := queryAll(ctx, r.q, scanRow, r.d.q.rowsByIDs, r.d.ids(ids), tableID)
	return rows, r.d.mapErr(err, fmt.Sprintf("rows of table %d", tableID))
}

func checkStream(s Stream) error {
	if !s.Kind.valid() {
		return fmt.Errorf("%w: stream kind %d", ErrInvalid, s.Kind)
	}
	return nil
}

func (r *sqlReader) StreamTop(ctx context.Context, s Stream) (uint64, error) {
	if err := checkStream(s); err != nil {
		return 0, err
	}
	var top int64
	err := r.q.queryRow(ctx, r.d.q.streamTop, int64(s.Kind), s.ID).Scan(&top)
	if err != nil && r.d.isNoRows(err) {
		return 0, nil
	}
	return uint64(top), r.d.mapErr(err, "top of stream "+s.String())
}

func (r *sqlReader) Events(ctx context.Context, s Stream, afterOffset uint64, limit int) ([]Event, error) {
	if err := checkStream(s); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if afterOffset > math.MaxInt64 {
		return []Event{}, nil
	}
	evs, err := queryAll(ctx, r.q, scanEvent, r.d.q.events, int64(s.Kind), s.ID, int64(afterOffset), limit)
	if err != nil {
		return nil, r.d.mapErr(err, "events of stream "+s.String())
	}
	if len(evs) > 0 && evs[0].Offset != afterOffset+1 {
		return nil, fmt.Errorf("%w: %s keeps events from offset %d, not %d", ErrPruned, s, evs[0].Offset, afterOffset+1)
	}
	return evs, nil
}

func (r *sqlReader) OldestEventOffset(ctx context.Context, s Stream) (uint64, error) {
	if err := checkStream(s); err != nil {
		return 0, err
	}
	var off int64
	err := r.q.queryRow(ctx, r.d.q.eventOldest, int64(s.Kind), s.ID, int64(s.Kind), s.ID).Scan(&off)
	return uint64(off), r.d.mapErr(err, "oldest event of stream "+s.String())
}
