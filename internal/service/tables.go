package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// TableInput is the body of creating a table. Without Fields the table gets
// one primary text field "Name"; with them, the first is primary unless
// one says primary.
type TableInput struct {
	Name   string       `json:"name"`
	Fields []FieldInput `json:"fields"`
}

// TablePatch is the body of updating a table; nil members are unchanged.
type TablePatch struct {
	Name  *string `json:"name"`
	Order *int    `json:"order"`
}

// MaxTableFields is the most fields a table may be created with.
const MaxTableFields = 1000

// ListTables lists a workspace's tables (any member).
func (s *Service) ListTables(ctx context.Context, a Actor, wsID int64) ([]event.Table, error) {
	var out []event.Table
	err := s.read(ctx, func(r store.Reader) error {
		if _, err := workspaceRole(ctx, r, a.UserID, wsID, store.RoleViewer); err != nil {
			return err
		}
		ts, err := r.Tables(ctx, wsID)
		if err != nil {
			return err
		}
		out = make([]event.Table, len(ts))
		for i, t := range ts {
			out[i] = tableOut(t)
		}
		return nil
	})
	return out, err
}

// GetTable returns one table (any member).
func (s *Service) GetTable(ctx context.Context, a Actor, tableID int64) (event.Table, error) {
	var out event.Table
	err := s.read(ctx, func(r store.Reader) error {
		t, _, err := tableAccess(ctx, r, a.UserID, tableID, store.RoleViewer)
		out = tableOut(t)
		return err
	})
	return out, err
}

// newTableFields turns the fields of a TableInput into validated fields,
// with one primary and choice ids numbered.
func newTableFields(in []FieldInput) ([]*table.Field, error) {
	if len(in) == 0 {
		return []*table.Field{{Name: "Name", Type: table.TypeText, Primary: true}}, nil
	}
	if len(in) > MaxTableFields {
		return nil, validation("fields", "at most "+strconv.Itoa(MaxTableFields)+" fields")
	}
	var e *table.ValidationError
	fields := make([]*table.Field, len(in))
	primary := false
	for i, fi := range in {
		f := &table.Field{Name: strings.TrimSpace(fi.Name), Type: fi.Type, Primary: fi.Primary}
		e = e.Merge(table.ItemKey("fields", i), applyOptions(f, fi.Options))
		primary = primary || f.Primary
		fields[i] = f
	}
	if !primary {
		fields[0].Primary = true
	}
	if e = e.Merge("", table.ValidateFields(fields)); e != nil {
		return nil, e
	}
	for _, f := range fields {
		numberChoices(f, nil)
	}
	return fields, nil
}

// CreateTable creates a table with its fields (admin).
func (s *Service) CreateTable(ctx context.Context, a Actor, wsID int64, in TableInput) (event.Table, error) {
	var out event.Table
	err := s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		name := strings.TrimSpace(in.Name)
		e := checkName(nil, "name", name)
		fields, err := newTableFields(in.Fields)
		if err != nil {
			e = e.Merge("", table.AsValidation(err, ""))
		}
		if err := e.Err(); err != nil {
			return err
		}
		t, err := w.CreateTable(ctx, store.Table{WorkspaceID: wsID, Name: name})
		if err != nil {
			return err
		}
		out = tableOut(t)
		out.Fields = make([]table.Field, len(fields))
		for i, f := range fields {
			f.TableID = t.ID
			sf, err := w.CreateField(ctx, fieldToStore(f))
			if err != nil {
				return err
			}
			f.ID, f.Order, f.Version = sf.ID, sf.Order, sf.Version
			out.Fields[i] = *f
		}
		return w.emit(store.WorkspaceStream(wsID), event.EventTableCreated, event.TableCreated{
			TableMeta: w.tableMeta(t), Table: tableOut(t), Fields: out.Fields,
		})
	})
	return out, err
}

// UpdateTable renames or moves a table (admin).
func (s *Service) UpdateTable(ctx context.Context, a Actor, tableID int64, in TablePatch) (event.Table, error) {
	var out event.Table
	err := s.write(ctx, a, func(w *writeTx) error {
		before, _, err := tableAccess(ctx, w, a.UserID, tableID, store.RoleAdmin)
		if err != nil {
			return err
		}
		t := before
		var e *table.ValidationError
		if in.Name != nil {
			t.Name = strings.TrimSpace(*in.Name)
			e = checkName(e, "name", t.Name)
		}
		if in.Order != nil {
			if *in.Order < 1 {
				e = e.Add("order", "must be 1 or more")
			}
			t.Order = *in.Order
		}
		if err := e.Err(); err != nil {
			return err
		}
		t, err = w.UpdateTable(ctx, t)
		if err != nil {
			return err
		}
		out = tableOut(t)
		ev := event.TableUpdated{TableMeta: w.tableMeta(t), Table: out, TableBefore: tableOut(before)}
		// The table's own stream gets it too, as table_deleted: the
		// Baserow dialect's table page receives table_updated.
		if err := w.emit(store.TableStream(t.ID), event.EventTableUpdated, ev); err != nil {
			return err
		}
		return w.emit(store.WorkspaceStream(t.WorkspaceID), event.EventTableUpdated, ev)
	})
	return out, err
}

// DeleteTable deletes a table with its fields, rows and views (admin). Its
// stream ends with table_deleted; the workspace's stream gets it too.
func (s *Service) DeleteTable(ctx context.Context, a Actor, tableID int64) error {
	return s.write(ctx, a, func(w *writeTx) error {
		t, _, err := tableAccess(ctx, w, a.UserID, tableID, store.RoleAdmin)
		if err != nil {
			return err
		}
		ev := event.TableDeleted{TableMeta: w.tableMeta(t), Table: tableOut(t)}
		if err := w.emit(store.TableStream(t.ID), event.EventTableDeleted, ev); err != nil {
			return err
		}
		if err := w.DeleteTable(ctx, t.ID); err != nil {
			return err
		}
		return w.emit(store.WorkspaceStream(t.WorkspaceID), event.EventTableDeleted, ev)
	})
}
