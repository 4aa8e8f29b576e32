package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/jsonscan"
)

// sqlTx implements Tx for both engines over a transaction's querier.
type sqlTx struct {
	sqlReader
	st *txQuerier
	// open: the last savepoint's writes succeeded and it is not released
	// yet (dialect.lazyRelease). Statements until the next savepoint run
	// in it, and commit or fail with the transaction as before.
	open bool
}

func newSQLTx(q querier, d *dialect) *sqlTx {
	st := &txQuerier{q: q, d: d}
	return &sqlTx{sqlReader: sqlReader{q: st, d: d}, st: st}
}

// Savepoint implements Tx.Savepoint with SAVEPOINT, RELEASE and ROLLBACK
// TO, which both engines have. Savepoints do not nest here: fn runs the
// writes of one request. With dialect.lazyRelease a savepoint that
// succeeded stays open until the next one releases it, in the same round
// trip as it starts (two statements in one simple query), or the commit
// does.
func (t *sqlTx) Savepoint(ctx context.Context, fn func() error) error {
	if t.st.err != nil {
		return t.st.aborted()
	}
	start := "SAVEPOINT tc_write"
	if t.open {
		start = "RELEASE SAVEPOINT tc_write; SAVEPOINT tc_write"
	}
	if _, err := t.st.exec(ctx, start); err != nil {
		return err
	}
	t.open = false
	err := fn()
	failed := t.st.err
	if err == nil && failed == nil {
		if t.d.lazyRelease {
			t.open = true
			return nil
		}
		_, err := t.st.exec(ctx, "RELEASE SAVEPOINT tc_write")
		return err
	}
	if err == nil {
		err = t.failed()
	}
	if failed != nil && t.d.isRetryable(failed) {
		return err // the transaction stays aborted: Update retries it
	}
	t.st.err = nil
	if _, rerr := t.st.exec(ctx, "ROLLBACK TO SAVEPOINT tc_write"); rerr != nil {
		return errors.Join(err, rerr)
	}
	if _, rerr := t.st.exec(ctx, "RELEASE SAVEPOINT tc_write"); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// failed is the error that aborted the transaction, if a statement failed.
func (t *sqlTx) failed() error {
	if t.st.err == nil {
		return nil
	}
	return fmt.Errorf("store: a statement failed, so the transaction was rolled back: %w", t.st.err)
}

// txQuerier gives both engines PostgreSQL's rule: once a statement fails
// (a constraint violated, a lock not obtained...; not a query that found no
// row), the transaction is aborted. Later statements fail at once, and Update
// rolls back even if fn returns nil. SQLite alone would let the transaction
// go on; the contract must not depend on the engine.
type txQuerier struct {
	q   querier
	d   *dialect
	err error
}

func (t *txQuerier) note(err error) error {
	if err != nil && t.err == nil && !t.d.isNoRows(err) {
		t.err = err
	}
	return err
}

func (t *txQuerier) aborted() error {
	return fmt.Errorf("store: transaction aborted by an earlier error: %w", t.err)
}

func (t *txQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if t.err != nil {
		return 0, t.aborted()
	}
	n, err := t.q.exec(ctx, sql, args...)
	return n, t.note(err)
}

func (t *txQuerier) query(ctx context.Context, sql string, args ...any) (rowsIter, error) {
	if t.err != nil {
		return nil, t.aborted()
	}
	rows, err := t.q.query(ctx, sql, args...)
	if err != nil {
		return nil, t.note(err)
	}
	return txRows{rows, t}, nil
}

func (t *txQuerier) queryRow(ctx context.Context, sql string, args ...any) scanner {
	if t.err != nil {
		return errScanner{t.aborted()}
	}
	return txRow{t.q.queryRow(ctx, sql, args...), t}
}

type txRows struct {
	rowsIter
	t *txQuerier
}

func (r txRows) Scan(dest ...any) error { return r.t.note(r.rowsIter.Scan(dest...)) }
func (r txRows) Err() error             { return r.t.note(r.rowsIter.Err()) }

type txRow struct {
	scanner
	t *txQuerier
}

func (r txRow) Scan(dest ...any) error { return r.t.note(r.scanner.Scan(dest...)) }

type errScanner struct{ err error }

func (e errScanner) Scan(...any) error { return e.err }

// insertChunk is the most rows one INSERT statement carries (6 parameters
// each: well under both engines' limits).
const insertChunk = 500

func (t *sqlTx) CreateWorkspace(ctx context.Context, name string) (Workspace, error) {
	w, err := scanWorkspace(t.q.queryRow(ctx, t.d.q.wsInsert, name, t.d.ts(now())))
	return w, t.d.mapErr(err, "create workspace")
}

func (t *sqlTx) RenameWorkspace(ctx context.Context, id int64, name string) (Workspace, error) {
	w, err := scanWorkspace(t.q.queryRow(ctx, t.d.q.wsRename, name, id))
	return w, t.d.mapErr(err, fmt.Sprintf("workspace %d", id))
}

func (t *sqlTx) DeleteWorkspace(ctx context.Context, id int64) error {
	return t.deleteOne(ctx, t.d.q.wsDelete, id, fmt.Sprintf("workspace %d", id))
}

// deleteOne runs a DELETE that must remove exactly one row.
func (t *sqlTx) deleteOne(ctx context.Context, sql string, id int64, what string) error {
	n, err := t.q.exec(ctx, sql, id)
	if err != nil {
		return t.d.mapErr(err, what)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

func checkRole(r Role) error {
	if !r.Valid() {
		return fmt.Errorf("%w: role %q: want admin, editor or viewer", ErrInvalid, r)
	}
	return nil
}

func (t *sqlTx) AddMember(ctx context.Context, m Member) error {
	if err := checkRole(m.Role); err != nil {
		return err
	}
	if m.UserID == "" {
		return fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	_, err := t.q.exec(ctx, t.d.q.memberInsert, m.WorkspaceID, m.UserID, string(m.Role), t.d.ts(now()))
	return t.d.mapErr(err, fmt.Sprintf("member %q of workspace %d", m.UserID, m.WorkspaceID))
}

func (t *sqlTx) UpdateMember(ctx context.Context, m Member) error {
	if err := checkRole(m.Role); err != nil {
		return err
	}
	what := fmt.Sprintf("member %q of workspace %d", m.UserID, m.WorkspaceID)
	n, err := t.q.exec(ctx, t.d.q.memberUpdate, string(m.Role), m.WorkspaceID, m.UserID)
	if err != nil {
		return t.d.mapErr(err, what)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

func (t *sqlTx) RemoveMember(ctx context.Context, workspaceID int64, userID string) error {
	what := fmt.Sprintf("member %q of workspace %d", userID, workspaceID)
	n, err := t.q.exec(ctx, t.d.q.memberDelete, workspaceID, userID)
	if err != nil {
		return t.d.mapErr(err, what)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// nextPosition returns pos if it is positive, else the position after the
// last one of the parent.
func (t *sqlTx) nextPosition(ctx context.Context, sql string, parent int64, pos int) (int, error) {
	if pos > 0 {
		return pos, nil
	}
	err := t.q.queryRow(ctx, sql, parent).Scan(&pos)
	return pos, err
}

func (t *sqlTx) CreateTable(ctx context.Context, tb Table) (Table, error) {
	what := fmt.Sprintf("table %q in workspace %d", tb.Name, tb.WorkspaceID)
	pos, err := t.nextPosition(ctx, t.d.q.tableNextPos, tb.WorkspaceID, tb.Order)
	if err != nil {
		return Table{}, t.d.mapErr(err, what)
	}
	out, err := scanTable(t.q.queryRow(ctx, t.d.q.tableInsert, tb.WorkspaceID, tb.Name, pos, t.d.ts(now())))
	return out, t.d.mapErr(err, what)
}

func (t *sqlTx) UpdateTable(ctx context.Context, tb Table) (Table, error) {
	out, err := scanTable(t.q.queryRow(ctx, t.d.q.tableUpdate, tb.Name, tb.Order, tb.Order, tb.ID))
	return out, t.d.mapErr(err, fmt.Sprintf("table %d", tb.ID))
}

func (t *sqlTx) DeleteTable(ctx context.Context, id int64) error {
	return t.deleteOne(ctx, t.d.q.tableDelete, id, fmt.Sprintf("table %d", id))
}

func (t *sqlTx) CreateField(ctx context.Context, f Field) (Field, error) {
	what := fmt.Sprintf("field %q in table %d", f.Name, f.TableID)
	opts, err := jsonObject(f.Options, "field options")
	if err != nil {
		return Field{}, err
	}
	pos, err := t.nextPosition(ctx, t.d.q.fieldNextPos, f.TableID, f.Order)
	if err != nil {
		return Field{}, t.d.mapErr(err, what)
	}
	out, err := scanField(t.q.queryRow(ctx, t.d.q.fieldInsert, f.TableID, f.Name, f.Type, f.Primary, pos, opts))
	return out, t.d.mapErr(err, what)
}

func (t *sqlTx) UpdateField(ctx context.Context, f Field) (Field, error) {
	opts, err := jsonObject(f.Options, "field options")
	if err != nil {
		return Field{}, err
	}
	out, err := scanField(t.q.queryRow(ctx, t.d.q.fieldUpdate, f.Name, f.Type, f.Primary, opts, f.Order, f.Order, f.ID))
	return out, t.d.mapErr(err, fmt.Sprintf("field %d (%q)", f.ID, f.Name))
}

func (t *sqlTx) DeleteField(ctx context.Context, id int64) error {
	what := fmt.Sprintf("field %d", id)
	f, err := t.Field(ctx, id)
	if err != nil {
		return err
	}
	key := string(jsonscan.AppendString(nil, strconv.FormatInt(id, 10)))
	if _, err := t.q.exec(ctx, t.d.q.forgetWhole, f.TableID, key); err != nil {
		return t.d.mapErr(err, what+": forgetting its rows' whole events")
	}
	if _, err := t.q.exec(ctx, t.d.q.removeValue, key, f.TableID); err != nil {
		return t.d.mapErr(err, what+": removing its values")
	}
	return t.deleteOne(ctx, t.d.q.fieldDelete, id, what)
}

// InsertRows computes the new rows' orders from their neighbours, then
// inserts them with multi-row INSERTs. Engines do not promise that RETURNING
// lists rows in VALUES order, so each returned row is matched to its input by
// its order, which is distinct within the batch.
func (t *sqlTx) InsertRows(ctx context.Context, in NewRows) (InsertedRows, error) {
	what := fmt.Sprintf("rows of table %d", in.TableID)
	n := len(in.Values)
	if n == 0 {
		return InsertedRows{Rows: []Row{}}, nil
	}
	cells := make([][]cell, n)
	for i, v := range in.Values {
		c, err := cellsOf(v, false, fmt.Sprintf("values of new row %d", i))
		if err != nil {
			return InsertedRows{}, err
		}
		cells[i] = c
	}
	orders, shifted, err := t.insertOrders(ctx, in)
	if err != nil {
		return InsertedRows{}, t.d.mapErr(err, what)
	}
	if err := t.checkRowIDs(ctx, in.IDs, n); err != nil {
		return InsertedRows{}, t.d.mapErr(err, what)
	}

	ts := now()
	out := InsertedRows{Rows: make([]Row, n), Shifted: shifted}
	// Each returned row is matched to its input by its id when the ids were
	// given, else by its order (distinct within the batch).
	index := make(map[string]int, n)
	key := func(id int64, ord string) string {
		if len(in.IDs) > 0 {
			return strconv.FormatInt(id, 10)
		}
		return ord
	}
	for i := range orders {
		var id int64
		if len(in.IDs) > 0 {
			id = in.IDs[i]
		}
		index[key(id, formatOrder(orders[i]))] = i
	}
	for start := 0; start < n; start += insertChunk {
		end := min(start+insertChunk, n)
		var b strings.Builder
		if len(in.IDs) > 0 {
			b.WriteString(`INSERT INTO table_rows (id, table_id, ord, version, created_at, updated_at) {override} VALUES `)
		} else {
			b.WriteString(`INSERT INTO table_rows (table_id, ord, version, created_at, updated_at) VALUES `)
		}
		args := make([]any, 0, (end-start)*6)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			if len(in.IDs) > 0 {
				b.WriteString(`(?, ?, {ordp}, 1, ?, ?)`)
				args = append(args, in.IDs[i])
			} else {
				b.WriteString(`(?, {ordp}, 1, ?, ?)`)
			}
			args = append(args, in.TableID, t.d.order(orders[i]), t.d.ts(ts), t.d.ts(ts))
		}
		b.WriteString(` RETURNING id, {ord}`)
		rows, err := t.q.query(ctx, t.d.sql(b.String()), args...)
		if err != nil {
			return InsertedRows{}, t.d.mapErr(err, what)
		}
		got := 0
		for rows.Next() {
			var id int64
			var ord string
			if err := rows.Scan(&id, &ord); err != nil {
				rows.Close()
				return InsertedRows{}, t.d.mapErr(err, what)
			}
			ord, err := canonicalOrder(ord)
			if err != nil {
				rows.Close()
				return InsertedRows{}, err
			}
			i, ok := index[key(id, ord)]
			if !ok {
				rows.Close()
				return InsertedRows{}, fmt.Errorf("store: %s: inserted row %d has unexpected order %s", what, id, ord)
			}
			out.Rows[i] = Row{ID: id, TableID: in.TableID, Order: ord, Version: 1, Values: cellsJSON(cells[i]), CreatedAt: ts, UpdatedAt: ts}
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return InsertedRows{}, t.d.mapErr(err, what)
		}
		if got != end-start {
			return InsertedRows{}, fmt.Errorf("store: %s: inserted %d rows, want %d", what, got, end-start)
		}
	}
	// Every new row's cells, in shared statements.
	var rowOf []int64
	var all []cell
	for i, r := range out.Rows {
		for _, c := range cells[i] {
			rowOf, all = append(rowOf, r.ID), append(all, c)
		}
	}
	if err := t.writeCellsOf(ctx, len(all), func(i int) (int64, cell) { return rowOf[i], all[i] }); err != nil {
		return InsertedRows{}, t.d.mapErr(err, what)
	}
	return out, nil
}

// insertOrders returns the new rows' orders: the given ones, or placed by
// newOrders.
func (t *sqlTx) insertOrders(ctx context.Context, in NewRows) ([]*big.Int, bool, error) {
	n := len(in.Values)
	if len(in.Orders) == 0 {
		return t.newOrders(ctx, in.TableID, in.BeforeID, n)
	}
	if len(in.Orders) != n || in.BeforeID != 0 {
		return nil, false, fmt.Errorf("%w: %d orders for %d new rows (and before row %d)", ErrInvalid, len(in.Orders), n, in.BeforeID)
	}
	out := make([]*big.Int, n)
	for i, o := range in.Orders {
		v, err := parseOrder(o)
		if err != nil {
			return nil, false, fmt.Errorf("%w: order of new row %d: %w", ErrInvalid, i, err)
		}
		out[i] = v
	}
	return out, false, nil
}

// checkRowIDs checks ids given to new rows and, where the engine needs it,
// moves the id sequence past them before they are inserted, so that a row
// numbered by the sequence never takes one of them.
func (t *sqlTx) checkRowIDs(ctx context.Context, ids []int64, n int) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) != n {
		return fmt.Errorf("%w: %d ids for %d new rows", ErrInvalid, len(ids), n)
	}
	seen := make(map[int64]bool, n)
	var top int64
	for _, id := range ids {
		if id <= 0 || seen[id] {
			return fmt.Errorf("%w: row id %d is not positive or given twice", ErrInvalid, id)
		}
		seen[id] = true
		top = max(top, id)
	}
	if t.d.q.bumpRowID == "" {
		return nil
	}
	var v int64
	return t.q.queryRow(ctx, t.d.q.bumpRowID, top).Scan(&v)
}

// newOrders returns n increasing orders for new rows: after the last row when
// beforeID is 0, else between beforeID's predecessor and beforeID. When that
// gap is too narrow, beforeID and every row after it move up by 1 first
// (shifted).
func (t *sqlTx) newOrders(ctx context.Context, tableID, beforeID int64, n int) (orders []*big.Int, shifted bool, err error) {
	last, _, err := t.orderOf(ctx, t.d.q.rowLast, tableID)
	if err != nil {
		return nil, false, err
	}
	if beforeID == 0 {
		orders, err = ordersAfter(last, n)
		return orders, false, err
	}
	hi, found, err := t.orderOf(ctx, t.d.q.rowOrder, tableID, beforeID)
	if err != nil {
		return nil, false, err
	}
	if !found {
		return nil, false, fmt.Errorf("%w: row %d of table %d (to insert before)", ErrNotFound, beforeID, tableID)
	}
	lo, _, err := t.orderOf(ctx, t.d.q.rowPrev, tableID, t.d.order(hi), beforeID)
	if err != nil {
		return nil, false, err
	}
	if orders = ordersBetween(lo, hi, n); orders != nil {
		return orders, false, nil
	}
	if new(big.Int).Add(last, orderUnit).Cmp(orderLimit) >= 0 {
		return nil, false, fmt.Errorf("%w: row orders exhausted", ErrInvalid)
	}
	if _, err := t.q.exec(ctx, t.d.q.shiftRows, tableID, t.d.order(hi), beforeID); err != nil {
		return nil, false, err
	}
	return ordersBetween(lo, new(big.Int).Add(hi, orderUnit), n), true, nil
}

// orderOf reads one order; when there is no such row it returns 0 and false.
func (t *sqlTx) orderOf(ctx context.Context, sql string, args ...any) (*big.Int, bool, error) {
	var s string
	if err := t.q.queryRow(ctx, sql, args...).Scan(&s); err != nil {
		if t.d.isNoRows(err) {
			return new(big.Int), false, nil
		}
		return nil, false, err
	}
	o, err := parseOrder(s)
	return o, err == nil, err
}

func (t *sqlTx) UpdateRows(ctx context.Context, tableID int64, updates []RowUpdate) ([]Row, error) {
	out := make([]Row, 0, len(updates))
	for i, u := range updates {
		row, err := t.updateRow(ctx, tableID, u, true)
		if err != nil {
			if len(updates) > 1 {
				return nil, fmt.Errorf("update %d of %d: %w", i, len(updates), err)
			}
			return nil, err
		}
		out = append(out, row)
	}
	return out, nil
}

// WriteRows implements Tx. The heads are updated first, in one statement
// where the dialect has one (writeHeads) and every update names its
// expected version, one by one otherwise; then the cells of all the rows
// together, in as few upserts as writeCellsOf makes. A batch of submits
// writes a row each for its documents: this was three statements per
// row. A row named twice is written update after update, since one
// statement must not change a row or a cell twice.
func (t *sqlTx) WriteRows(ctx context.Context, tableID int64, updates []RowUpdate) error {
	fail := func(i int, err error) error {
		if len(updates) > 1 {
			return fmt.Errorf("update %d of %d: %w", i, len(updates), err)
		}
		return err
	}
	if !distinctRows(updates) {
		for i, u := range updates {
			if _, err := t.updateRow(ctx, tableID, u, false); err != nil {
				return fail(i, err)
			}
		}
		return nil
	}
	type rowCell struct {
		row int64
		c   cell
	}
	var cells []rowCell
	rows := 0
	for i, u := range updates {
		cs, err := t.cellsOfUpdate(tableID, u)
		if err != nil {
			return fail(i, err)
		}
		for _, c := range cs {
			cells = append(cells, rowCell{u.ID, c})
		}
		if len(cs) > 0 {
			rows++
		}
	}
	if t.d.q.writeHeads != "" && len(updates) > 1 && headsTogether(updates) {
		if err := t.writeHeads(ctx, tableID, updates); err != nil {
			return err
		}
	} else {
		for i, u := range updates {
			if err := t.updateHead(ctx, tableID, u); err != nil {
				return fail(i, err)
			}
		}
	}
	err := t.writeCellsOf(ctx, len(cells), func(i int) (int64, cell) { return cells[i].row, cells[i].c })
	return t.d.mapErr(err, fmt.Sprintf("cells of %d rows of table %d", rows, tableID))
}

// headsTogether reports whether writeHeads can update the heads of
// updates: each at an expected version, none moving its row.
func headsTogether(updates []RowUpdate) bool {
	for _, u := range updates {
		if u.ExpectedVersion == 0 || u.Order != "" || (u.Version != 0 && u.Version <= u.ExpectedVersion) {
			return false
		}
	}
	return true
}

// writeHeads updates the heads of updates in one statement (the
// dialect's writeHeads). A row missing or at another version fails the
// whole write, as updateHead would, with the first such row named.
func (t *sqlTx) writeHeads(ctx context.Context, tableID int64, updates []RowUpdate) error {
	n := len(updates)
	ids, expected, versions, wholeVs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	at, wholeAt, wholeBytes := make([]time.Time, n), make([]time.Time, n), make([]int32, n)
	now := now()
	for i, u := range updates {
		ids[i], expected[i], versions[i] = u.ID, u.ExpectedVersion, u.Version
		if u.Version == 0 {
			versions[i] = u.ExpectedVersion + 1
		}
		at[i] = now
		if !u.At.IsZero() {
			at[i] = u.At.UTC().Truncate(time.Microsecond)
		}
		wholeAt[i] = at[i]
		if u.WholeVersion != 0 {
			wholeVs[i], wholeAt[i] = u.WholeVersion, u.WholeAt.UTC().Truncate(time.Microsecond)
			wholeBytes[i] = int32(min(u.WholeBytes, math.MaxInt32))
		}
	}
	done, err := t.q.exec(ctx, t.d.q.writeHeads, ids, expected, versions, at, wholeVs, wholeAt, wholeBytes, tableID)
	if err != nil {
		return t.d.mapErr(err, fmt.Sprintf("%d rows of table %d", n, tableID))
	}
	if done == int64(n) {
		return nil
	}
	return t.headsNotWritten(ctx, tableID, updates, versions)
}

// headsNotWritten says why an update of the heads of updates wrote fewer
// rows than asked (reached[i] is the version updates[i] was to take): the
// first row missing (ErrNotFound) or not at its expected version
// (ErrConflict), named with its place when there are several.
func (t *sqlTx) headsNotWritten(ctx context.Context, tableID int64, updates []RowUpdate, reached []int64) error {
	ids := make([]int64, len(updates))
	for i, u := range updates {
		ids[i] = u.ID
	}
	stored, err := t.RowVersions(ctx, tableID, ids)
	if err != nil {
		return err
	}
	for i, u := range updates {
		var err error
		what := fmt.Sprintf("row %d of table %d", u.ID, tableID)
		switch v, ok := stored[u.ID]; {
		case !ok:
			err = fmt.Errorf("%w: %s", ErrNotFound, what)
		case v != reached[i]:
			err = fmt.Errorf("%w: %s is at version %d, not %d", ErrConflict, what, v, u.ExpectedVersion)
		default:
			continue
		}
		if len(updates) > 1 {
			err = fmt.Errorf("update %d of %d: %w", i, len(updates), err)
		}
		return err
	}
	// Every row is there at the version it was to reach, yet not every
	// one was written: one was at that version already.
	return fmt.Errorf("%w: rows of table %d not at their expected versions", ErrConflict, tableID)
}

// distinctRows reports whether no row is named twice in updates.
func distinctRows(updates []RowUpdate) bool {
	if len(updates) < 2 {
		return true
	}
	seen := make(map[int64]struct{}, len(updates))
	for _, u := range updates {
		if _, ok := seen[u.ID]; ok {
			return false
		}
		seen[u.ID] = struct{}{}
	}
	return true
}

// updateRow applies u, and reads the row back when returning is set. The
// row's head is updated first (which checks that it exists, in this table,
// at the expected version), then the cells u gives, those only, whatever
// the row's width.
func (t *sqlTx) updateRow(ctx context.Context, tableID int64, u RowUpdate, returning bool) (Row, error) {
	what := func() string { return fmt.Sprintf("row %d of table %d", u.ID, tableID) }
	cells, err := t.cellsOfUpdate(tableID, u)
	if err != nil {
		return Row{}, err
	}
	if err := t.updateHead(ctx, tableID, u); err != nil {
		return Row{}, err
	}
	if err := t.writeCells(ctx, u.ID, cells); err != nil {
		return Row{}, t.d.mapErr(err, what())
	}
	if !returning {
		return Row{}, nil
	}
	row, err := scanRow(t.q.queryRow(ctx, t.d.q.rowGet, tableID, u.ID))
	return row, t.d.mapErr(err, what())
}

// cellsOfUpdate returns the cells u gives, checked.
func (t *sqlTx) cellsOfUpdate(tableID int64, u RowUpdate) ([]cell, error) {
	if u.Values == nil && !u.Encoded {
		return nil, nil
	}
	return cellsOf(u.Values, u.Encoded, fmt.Sprintf("values of row %d of table %d", u.ID, tableID))
}

// updateHead updates u's row in table_rows, checking that it exists, in
// this table, at the expected version.
func (t *sqlTx) updateHead(ctx context.Context, tableID int64, u RowUpdate) error {
	what := func() string { return fmt.Sprintf("row %d of table %d", u.ID, tableID) }
	sql := `UPDATE table_rows SET version = version + 1, updated_at = ?`
	var args []any
	if u.Version != 0 {
		if u.ExpectedVersion == 0 || u.Version <= u.ExpectedVersion {
			return fmt.Errorf("%w: version %d of %s: it needs an expected version below it", ErrInvalid, u.Version, what())
		}
		sql = `UPDATE table_rows SET version = ?, updated_at = ?`
		args = append(args, u.Version)
	}
	at := now()
	if !u.At.IsZero() {
		at = u.At.UTC().Truncate(time.Microsecond)
	}
	args = append(args, t.d.ts(at))
	if u.WholeVersion != 0 {
		sql += `, whole_version = ?, whole_at = ?, whole_bytes = ?`
		args = append(args, u.WholeVersion, t.d.ts(u.WholeAt.UTC().Truncate(time.Microsecond)), u.WholeBytes)
	}
	if u.Order != "" {
		ord, err := parseOrder(u.Order)
		if err != nil {
			return fmt.Errorf("%w: order of %s: %w", ErrInvalid, what(), err)
		}
		sql += `, ord = {ordp}`
		args = append(args, t.d.order(ord))
	}
	sql += ` WHERE table_id = ? AND id = ?`
	args = append(args, tableID, u.ID)
	if u.ExpectedVersion != 0 {
		sql += ` AND version = ?`
		args = append(args, u.ExpectedVersion)
	}
	n, err := t.q.exec(ctx, t.d.sql(sql), args...)
	if err != nil {
		return t.d.mapErr(err, what())
	}
	if n != 1 {
		return t.headsNotWritten(ctx, tableID, []RowUpdate{u}, []int64{-1}) // it reached none
	}
	return nil
}

func (t *sqlTx) DeleteRows(ctx context.Context, tableID int64, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return []int64{}, nil
	}
	deleted, err := queryAll(ctx, t.q, func(s scanner) (id int64, err error) {
		err = s.Scan(&id)
		return id, err
	}, t.d.q.rowsDelete, t.d.ids(ids), tableID)
	if err != nil {
		return nil, t.d.mapErr(err, fmt.Sprintf("rows of table %d", tableID))
	}
	slices.Sort(deleted)
	return deleted, nil
}

// viewArgs checks and encodes a view's stored properties.
func viewArgs(v View) (filterType, filters, sorts, hidden string, err error) {
	if filters, err = jsonArray(v.Filters, "view filters"); err != nil {
		return
	}
	if sorts, err = jsonArray(v.Sorts, "view sorts"); err != nil {
		return
	}
	ids := v.HiddenFieldIDs
	if ids == nil {
		ids = []int64{}
	}
	b, _ := json.Marshal(ids)
	filterType = v.FilterType
	if filterType == "" {
		filterType = "AND"
	}
	return filterType, filters, sorts, string(b), nil
}

func (t *sqlTx) CreateView(ctx context.Context, v View) (View, error) {
	what := fmt.Sprintf("view %q in table %d", v.Name, v.TableID)
	ft, filters, sorts, hidden, err := viewArgs(v)
	if err != nil {
		return View{}, err
	}
	pos, err := t.nextPosition(ctx, t.d.q.viewNextPos, v.TableID, v.Order)
	if err != nil {
		return View{}, t.d.mapErr(err, what)
	}
	typ := v.Type
	if typ == "" {
		typ = "grid"
	}
	out, err := scanView(t.q.queryRow(ctx, t.d.q.viewInsert, v.TableID, v.Name, typ, pos, ft, filters, sorts,
		hidden, v.Public, v.Slug, v.PasswordHash))
	return out, t.d.mapErr(err, what+slugNote(v.Slug))
}

func slugNote(slug string) string {
	if slug == "" {
		return ""
	}
	return fmt.Sprintf(" (slug %q)", slug)
}

func (t *sqlTx) UpdateView(ctx context.Context, v View) (View, error) {
	ft, filters, sorts, hidden, err := viewArgs(v)
	if err != nil {
		return View{}, err
	}
	typ := v.Type
	if typ == "" {
		typ = "grid"
	}
	out, err := scanView(t.q.queryRow(ctx, t.d.q.viewUpdate, v.Name, typ, v.Order, v.Order, ft, filters, sorts,
		hidden, v.Public, v.Slug, v.PasswordHash, v.ID))
	return out, t.d.mapErr(err, fmt.Sprintf("view %d%s", v.ID, slugNote(v.Slug)))
}

func (t *sqlTx) DeleteView(ctx context.Context, id int64) error {
	return t.deleteOne(ctx, t.d.q.viewDelete, id, fmt.Sprintf("view %d", id))
}

// LockTable holds a table's row until the transaction ends, so that a write
// validated against the table's fields cannot race a change of those fields
// (the service calls it first in every table write), and returns the
// table's fields version: how many field changes it has had (migration
// 0010), which no other transaction can change before this one ends. SQLite
// has one writer: it reads the version and locks nothing. A table that does
// not exist has nothing to lock: version 0, and the write's own checks say
// it is gone.
func (t *sqlTx) LockTable(ctx context.Context, tableID int64) (int64, error) {
	var v int64
	err := t.st.queryRow(ctx, t.d.lockTable, tableID).Scan(&v)
	switch {
	case err == nil:
		return v, nil
	case t.d.isNoRows(err):
		return 0, nil
	}
	return 0, fmt.Errorf("store: lock table %d: %w", tableID, err)
}
