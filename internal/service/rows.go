package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// MaxBatch is the most rows one batch request creates, updates or deletes.
const MaxBatch = 1000

// RowFields is the "fields" object of a row in a request: field ids ("12"
// or Baserow's "field_12") to values. A field left out is left alone (or
// empty, in a new row); null empties a cell.
type RowFields = map[string]json.RawMessage

// RowPatch is one row's change: {id, fields, version?}. Version, when not
// 0, makes the update fail with ErrConflict unless the row is at that
// version (optimistic concurrency for clients that hold a version).
type RowPatch struct {
	ID      int64     `json:"id"`
	Fields  RowFields `json:"fields"`
	Version int64     `json:"version,omitempty"`
}

// CreatedRows is what a create did. OrdersShifted tells that the store
// renumbered rows from BeforeID on to make room (refetch orders).
type CreatedRows struct {
	Rows          []event.Row `json:"items"`
	OrdersShifted bool        `json:"orders_shifted"`
}

// GetRow returns one row of a table (any member).
func (s *Service) GetRow(ctx context.Context, a Actor, tableID, rowID int64) (event.Row, error) {
	var out event.Row
	err := s.read(ctx, func(r store.Reader) error {
		if _, _, err := tableAccess(ctx, r, a.UserID, tableID, store.RoleViewer); err != nil {
			return err
		}
		sc, err := loadSchema(ctx, r, tableID)
		if err != nil {
			return err
		}
		row, err := r.Row(ctx, tableID, rowID)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(event.ErrNotFound, "row %d does not exist in table %d", rowID, tableID)
		}
		if err != nil {
			return err
		}
		rows, err := rowsOut([]store.Row{row}, sc)
		if err != nil {
			return err
		}
		out = rows[0]
		return nil
	})
	return out, err
}

// CreateRow creates one row (editor) before the row beforeID (0: at the
// end). Validation errors are keyed "fields.<key>".
func (s *Service) CreateRow(ctx context.Context, a Actor, tableID int64, fields RowFields, beforeID int64) (event.Row, error) {
	out, err := s.createRows(ctx, a, tableID, []RowFields{fields}, beforeID, false)
	if err != nil {
		return event.Row{}, err
	}
	return out.Rows[0], nil
}

// CreateRows creates a batch of rows (editor), all or none, in one
// rows_created event. Validation errors are keyed "items[i].fields.<key>".
func (s *Service) CreateRows(ctx context.Context, a Actor, tableID int64, items []RowFields, beforeID int64) (CreatedRows, error) {
	return s.createRows(ctx, a, tableID, items, beforeID, true)
}

func itemPrefix(batch bool, i int) string {
	if !batch {
		return ""
	}
	return table.ItemKey("items", i)
}

func checkBatchSize(key string, n int) error {
	if n < 1 || n > MaxBatch {
		return validation(key, "must hold 1 to "+strconv.Itoa(MaxBatch)+" items")
	}
	return nil
}

func (s *Service) createRows(ctx context.Context, a Actor, tableID int64, items []RowFields, beforeID int64, batch bool) (CreatedRows, error) {
	var out CreatedRows
	err := s.writeTable(ctx, a, tableID, func(w *writeTx) error {
		t, _, err := tableAccess(ctx, w, a.UserID, tableID, store.RoleEditor)
		if err != nil {
			return err
		}
		if err := checkBatchSize("items", len(items)); err != nil {
			return err
		}
		sc, err := w.schemaMemo(tableID)
		if err != nil {
			return err
		}
		var e *table.ValidationError
		values := make([]json.RawMessage, len(items))
		for i, item := range items {
			vals, ve := table.NormalizeRow(sc.byID, item)
			if ve != nil {
				e = e.Merge(itemPrefix(batch, i), ve)
				continue
			}
			values[i] = encodeValues(vals)
		}
		if beforeID != 0 {
			if _, err := w.Row(ctx, tableID, beforeID); errors.Is(err, store.ErrNotFound) {
				e = e.Add("before", "row "+strconv.FormatInt(beforeID, 10)+" does not exist in the table")
			} else if err != nil {
				return err
			}
		}
		if err := e.Err(); err != nil {
			return err
		}
		ins, err := w.InsertRows(ctx, store.NewRows{TableID: tableID, BeforeID: beforeID, Values: values})
		if err != nil {
			return err
		}
		rows, err := rowsOut(ins.Rows, sc)
		if err != nil {
			return err
		}
		out = CreatedRows{Rows: rows, OrdersShifted: ins.Shifted}
		ev := event.RowsCreated{TableMeta: w.tableMeta(t), Rows: rows, OrdersShifted: ins.Shifted, Decimals: sc.decimals()}
		if beforeID != 0 {
			ev.BeforeRowID = &beforeID
		}
		return w.emit(store.TableStream(t.ID), event.EventRowsCreated, ev)
	})
	return out, err
}

// UpdateRow updates one row (editor); errors are keyed "fields.<key>".
func (s *Service) UpdateRow(ctx context.Context, a Actor, tableID int64, p RowPatch) (event.Row, error) {
	rows, err := s.updateRows(ctx, a, tableID, []RowPatch{p}, false)
	if err != nil {
		return event.Row{}, err
	}
	return rows[0], nil
}

// UpdateRows updates a batch of rows (editor), all or none, in one
// rows_updated event; errors are keyed "items[i].fields.<key>".
func (s *Service) UpdateRows(ctx context.Context, a Actor, tableID int64, items []RowPatch) ([]event.Row, error) {
	return s.updateRows(ctx, a, tableID, items, true)
}

// missingRows is the ErrNotFound of rows that are not in the table.
func missingRows(tableID int64, ids []int64) error {
	if len(ids) == 1 {
		return errorf(event.ErrNotFound, "row %d does not exist in table %d", ids[0], tableID)
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return errorf(event.ErrNotFound, "rows %s do not exist in table %d", strings.Join(s, ", "), tableID)
}

// rowsByID reads the rows with the given ids, in the order of ids, or
// returns missingRows.
func rowsByID(ctx context.Context, r store.Reader, tableID int64, ids []int64) ([]store.Row, error) {
	found, err := r.RowsByIDs(ctx, tableID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]store.Row, len(found))
	for _, row := range found {
		byID[row.ID] = row
	}
	out := make([]store.Row, len(ids))
	var missing []int64
	for i, id := range ids {
		row, ok := byID[id]
		if !ok {
			missing = append(missing, id)
		}
		out[i] = row
	}
	if len(missing) > 0 {
		return nil, missingRows(tableID, missing)
	}
	return out, nil
}

// checkIDs validates a list of row ids: positive, no repeats.
func checkIDs(e *table.ValidationError, key func(i int) string, ids []int64) *table.ValidationError {
	seen := make(map[int64]int, len(ids))
	for i, id := range ids {
		if id <= 0 {
			e = e.Add(key(i), "must be a row id")
			continue
		}
		if j, dup := seen[id]; dup {
			e = e.Add(key(i), "repeats row "+strconv.FormatInt(id, 10)+" of item "+strconv.Itoa(j))
			continue
		}
		seen[id] = i
	}
	return e
}

func (s *Service) updateRows(ctx context.Context, a Actor, tableID int64, items []RowPatch, batch bool) ([]event.Row, error) {
	var out []event.Row
	err := s.writeTable(ctx, a, tableID, func(w *writeTx) error {
		t, _, err := tableAccess(ctx, w, a.UserID, tableID, store.RoleEditor)
		if err != nil {
			return err
		}
		if err := checkBatchSize("items", len(items)); err != nil {
			return err
		}
		sc, err := w.schemaMemo(tableID)
		if err != nil {
			return err
		}
		ids := make([]int64, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		var e *table.ValidationError
		if batch {
			e = checkIDs(e, func(i int) string { return table.ItemKey("items", i) + ".id" }, ids)
		}
		updates := make([]store.RowUpdate, len(items))
		changed := map[int64]bool{}
		for i, it := range items {
			vals, ve := table.NormalizeRow(sc.byID, it.Fields)
			if ve != nil {
				e = e.Merge(itemPrefix(batch, i), ve)
				continue
			}
			for id := range vals {
				changed[id] = true
			}
			updates[i] = store.RowUpdate{ID: it.ID, Values: encodeValues(vals), ExpectedVersion: it.Version}
		}
		if err := e.Err(); err != nil {
			return err
		}
		before, err := rowsByID(ctx, w, tableID, ids)
		if err != nil {
			return err
		}
		for i, it := range items {
			if it.Version != 0 && before[i].Version != it.Version {
				return errorf(event.ErrConflict, "row %d is at version %d, not %d", it.ID, before[i].Version, it.Version)
			}
		}
		rows, err := w.UpdateRows(ctx, tableID, updates)
		if err != nil {
			return err
		}
		if out, err = rowsOut(rows, sc); err != nil {
			return err
		}
		beforeOut, err := rowsOut(before, sc)
		if err != nil {
			return err
		}
		fieldIDs := make([]int64, 0, len(changed))
		for id := range changed {
			fieldIDs = append(fieldIDs, id)
		}
		slices.Sort(fieldIDs)
		return w.emit(store.TableStream(t.ID), event.EventRowsUpdated, event.RowsUpdated{
			TableMeta: w.tableMeta(t), Rows: out, RowsBefore: beforeOut, UpdatedFieldIDs: fieldIDs, Decimals: sc.decimals(),
		})
	})
	return out, err
}

// DeleteRow deletes one row (editor).
func (s *Service) DeleteRow(ctx context.Context, a Actor, tableID, rowID int64) error {
	return s.deleteRows(ctx, a, tableID, []int64{rowID}, false)
}

// DeleteRows deletes a batch of rows (editor), all or none: a row that is
// not in the table fails the batch with ErrNotFound. One rows_deleted event.
func (s *Service) DeleteRows(ctx context.Context, a Actor, tableID int64, ids []int64) error {
	return s.deleteRows(ctx, a, tableID, ids, true)
}

func (s *Service) deleteRows(ctx context.Context, a Actor, tableID int64, ids []int64, batch bool) error {
	return s.writeTable(ctx, a, tableID, func(w *writeTx) error {
		t, _, err := tableAccess(ctx, w, a.UserID, tableID, store.RoleEditor)
		if err != nil {
			return err
		}
		if err := checkBatchSize("ids", len(ids)); err != nil {
			return err
		}
		if batch {
			if err := checkIDs(nil, func(i int) string { return table.ItemKey("ids", i) }, ids).Err(); err != nil {
				return err
			}
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		before, err := rowsByID(ctx, w, tableID, sorted)
		if err != nil {
			return err
		}
		sc, err := w.schemaMemo(tableID)
		if err != nil {
			return err
		}
		deleted, err := w.DeleteRows(ctx, tableID, sorted)
		if err != nil {
			return err
		}
		if len(deleted) != len(sorted) {
			return fmt.Errorf("service: deleted %d of %d rows of table %d", len(deleted), len(sorted), tableID)
		}
		rows, err := rowsOut(before, sc)
		if err != nil {
			return err
		}
		return w.emit(store.TableStream(t.ID), event.EventRowsDeleted, event.RowsDeleted{
			TableMeta: w.tableMeta(t), RowIDs: deleted, Rows: rows, Decimals: sc.decimals(),
		})
	})
}
