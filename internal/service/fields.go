package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// FieldOptionsInput is a field's "options" in a request. Only the options
// of the field's type may be given.
type FieldOptionsInput struct {
	Decimals    *int            `json:"decimals,omitempty"`     // number
	IncludeTime *bool           `json:"include_time,omitempty"` // date
	Choices     *[]table.Choice `json:"choices,omitempty"`      // single_select, multiple_select
}

// FieldInput is the body of creating a field: {name, type, options?}.
// Primary is read only among CreateTable's fields.
type FieldInput struct {
	Name    string             `json:"name"`
	Type    table.FieldType    `json:"type"`
	Options *FieldOptionsInput `json:"options,omitempty"`
	Primary bool               `json:"primary,omitempty"`
}

// FieldPatch is the body of updating a field; nil members are unchanged.
// Changing the type resets the options to the new type's defaults (a select
// changed into the other select type keeps its choices) before Options
// applies. Primary true makes the field the table's primary field (the
// former one stops being primary); false is refused.
type FieldPatch struct {
	Name    *string            `json:"name,omitempty"`
	Type    *table.FieldType   `json:"type,omitempty"`
	Options *FieldOptionsInput `json:"options,omitempty"`
	Primary *bool              `json:"primary,omitempty"`
	Order   *int               `json:"order,omitempty"`
}

// applyOptions sets the given options on f, refusing those f's type does
// not have.
func applyOptions(f *table.Field, in *FieldOptionsInput) *table.ValidationError {
	if in == nil {
		return nil
	}
	var e *table.ValidationError
	if in.Decimals != nil {
		if f.Type != table.TypeNumber {
			e = e.Add("options.decimals", "only number fields have decimals")
		}
		f.Options.Decimals = *in.Decimals
	}
	if in.IncludeTime != nil {
		if f.Type != table.TypeDate {
			e = e.Add("options.include_time", "only date fields have include_time")
		}
		f.Options.IncludeTime = *in.IncludeTime
	}
	if in.Choices != nil {
		if !f.Type.IsSelect() {
			e = e.Add("options.choices", "only select fields have choices")
		}
		f.Options.Choices = append([]table.Choice{}, (*in.Choices)...)
	}
	return e
}

// numberChoices gives the new choices (id 0) ids after the largest one the
// field has or had.
func numberChoices(f, before *table.Field) {
	var next int64
	for _, c := range f.Options.Choices {
		next = max(next, c.ID)
	}
	if before != nil {
		for _, c := range before.Options.Choices {
			next = max(next, c.ID)
		}
	}
	for i := range f.Options.Choices {
		if f.Options.Choices[i].ID == 0 {
			next++
			f.Options.Choices[i].ID = next
		}
	}
}

// nameTaken reports whether another field of the schema has the name.
func (sc *schema) nameTaken(name string, except int64) bool {
	for _, f := range sc.list {
		if f.ID != except && f.Name == name {
			return true
		}
	}
	return false
}

// fieldAccess reads a field and its table's schema, checking the role.
func fieldAccess(ctx context.Context, r store.Reader, user string, fieldID int64, need store.Role) (store.Table, *schema, *table.Field, error) {
	sf, err := r.Field(ctx, fieldID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Table{}, nil, nil, errorf(event.ErrNotFound, "field %d does not exist", fieldID)
	}
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	t, _, err := tableAccess(ctx, r, user, sf.TableID, need)
	if errors.Is(err, event.ErrNotFound) {
		return store.Table{}, nil, nil, errorf(event.ErrNotFound, "field %d does not exist", fieldID)
	}
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	sc, err := loadSchema(ctx, r, t.ID)
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	f := sc.byID[fieldID]
	if f == nil {
		return store.Table{}, nil, nil, errorf(event.ErrNotFound, "field %d does not exist", fieldID)
	}
	return t, sc, f, nil
}

// ListFields lists a table's fields in order (any member).
func (s *Service) ListFields(ctx context.Context, a Actor, tableID int64) ([]table.Field, error) {
	var out []table.Field
	err := s.read(ctx, func(r store.Reader) error {
		_, sc, err := tableSchema(ctx, r, a.UserID, tableID, store.RoleViewer)
		if err != nil {
			return err
		}
		out = sc.fieldsOut()
		return nil
	})
	return out, err
}

// CreateField adds a field to a table (editor).
func (s *Service) CreateField(ctx context.Context, a Actor, tableID int64, in FieldInput) (table.Field, error) {
	var out table.Field
	err := s.write(ctx, a, func(w *writeTx) error {
		t, sc, err := tableSchema(ctx, w, a.UserID, tableID, store.RoleEditor)
		if err != nil {
			return err
		}
		f := &table.Field{TableID: tableID, Name: strings.TrimSpace(in.Name), Type: in.Type}
		e := applyOptions(f, in.Options)
		if in.Primary {
			e = e.Add("primary", "a new field cannot be primary: update it with primary true once created")
		}
		e = e.Merge("", table.ValidateField(f))
		if sc.nameTaken(f.Name, 0) {
			e = e.Add("name", "a field with this name already exists in the table")
		}
		if err := e.Err(); err != nil {
			return err
		}
		numberChoices(f, nil)
		sf, err := w.CreateField(ctx, fieldToStore(f))
		if err != nil {
			return err
		}
		f.ID, f.Order, f.Version = sf.ID, sf.Order, sf.Version
		out = *f
		return w.emit(store.TableStream(t.ID), event.EventFieldCreated, event.FieldCreated{TableMeta: w.tableMeta(t), Field: out})
	})
	return out, err
}

// UpdateField changes a field (editor). In the same transaction, the views
// that filter on it are reconciled with its new type and options
// (table.View.ReconcileField) and, when the type or options changed, the
// stored values are converted (convertValue): rows whose value changed are
// updated and announced in rows_updated events of at most MaxBatch rows,
// after the field_updated event.
func (s *Service) UpdateField(ctx context.Context, a Actor, fieldID int64, in FieldPatch) (table.Field, error) {
	var out table.Field
	err := s.write(ctx, a, func(w *writeTx) error {
		t, sc, before, err := fieldAccess(ctx, w, a.UserID, fieldID, store.RoleEditor)
		if err != nil {
			return err
		}
		out, err = w.updateField(t, sc, before, in, nil)
		return err
	})
	return out, err
}

// updateField is UpdateField in w, after the access check; op, when not
// nil, is the submitted json0 op that made the change (for the event).
func (w *writeTx) updateField(t store.Table, sc *schema, before *table.Field, in FieldPatch, op json.RawMessage) (table.Field, error) {
	ctx := w.ctx
	var out table.Field
	err := func() error {
		f := before.Clone()
		var e *table.ValidationError
		if in.Name != nil {
			f.Name = strings.TrimSpace(*in.Name)
		}
		if in.Type != nil && *in.Type != before.Type {
			f.Type = *in.Type
			f.Options = table.FieldOptions{}
			if f.Type.IsSelect() && before.Type.IsSelect() {
				f.Options.Choices = before.Clone().Options.Choices
			}
		}
		e = e.Merge("", applyOptions(f, in.Options))
		if in.Primary != nil {
			if !*in.Primary && before.Primary {
				e = e.Add("primary", "a table needs a primary field: make another field primary instead")
			}
			f.Primary = before.Primary || *in.Primary
		}
		if in.Order != nil {
			if *in.Order < 1 {
				e = e.Add("order", "must be 1 or more")
			}
			f.Order = *in.Order
		}
		e = e.Merge("", table.ValidateField(f))
		if sc.nameTaken(f.Name, f.ID) {
			e = e.Add("name", "a field with this name already exists in the table")
		}
		if err := e.Err(); err != nil {
			return err
		}
		numberChoices(f, before)

		related, relatedBefore := []table.Field{}, []table.Field{}
		after := &schema{byID: make(map[int64]*table.Field, len(sc.list))}
		for _, g := range sc.list {
			switch {
			case g.ID == f.ID:
				g = f
			case g.Primary && f.Primary && !before.Primary:
				// the former primary field steps down first: a table has
				// at most one primary field at any time
				relatedBefore = append(relatedBefore, *g)
				g = g.Clone()
				g.Primary = false
				sg, err := w.UpdateField(ctx, fieldToStore(g))
				if err != nil {
					return err
				}
				g.Order, g.Version = sg.Order, sg.Version
				related = append(related, *g)
			}
			after.list = append(after.list, g)
			after.byID[g.ID] = g
		}
		sf, err := w.UpdateField(ctx, fieldToStore(f))
		if err != nil {
			return err
		}
		f.Order, f.Version = sf.Order, sf.Version
		out = *f

		changed, changedBefore, err := reconcileViews(w, t.ID, func(v *table.View) bool { return v.ReconcileField(f) })
		if err != nil {
			return err
		}

		var conv *conversion
		if f.Type != before.Type || !bytes.Equal(fieldToStore(f).Options, fieldToStore(before).Options) {
			if conv, err = convertRows(ctx, w, t.ID, before, f); err != nil {
				return err
			}
		}
		ev := event.FieldUpdated{
			TableMeta: w.tableMeta(t), Field: out, FieldBefore: *before,
			RelatedFields: related, RelatedBefore: relatedBefore, ViewsChanged: changed, ViewsBefore: changedBefore,
			Op: op,
		}
		if conv != nil {
			ev.RowsConverted = len(conv.ids)
		}
		if err := w.emit(store.TableStream(t.ID), event.EventFieldUpdated, ev); err != nil {
			return err
		}
		if conv == nil {
			return nil
		}
		return conv.apply(w, t, sc, after)
	}()
	return out, err
}

// DeleteField deletes a field and its values (editor); the primary field
// cannot be deleted (ErrConflict). Views that filter, sort on or hide it
// are updated in the same transaction and listed in the field_deleted
// event.
func (s *Service) DeleteField(ctx context.Context, a Actor, fieldID int64) error {
	return s.write(ctx, a, func(w *writeTx) error {
		t, _, f, err := fieldAccess(ctx, w, a.UserID, fieldID, store.RoleEditor)
		if err != nil {
			return err
		}
		return w.deleteField(t, f)
	})
}

// deleteField is DeleteField in w, after the access check.
func (w *writeTx) deleteField(t store.Table, f *table.Field) error {
	if f.Primary {
		return errorf(event.ErrConflict, "field %d is the table's primary field: make another field primary first", f.ID)
	}
	changed, changedBefore, err := reconcileViews(w, t.ID, func(v *table.View) bool { return v.RemoveField(f.ID) })
	if err != nil {
		return err
	}
	if err := w.DeleteField(w.ctx, f.ID); err != nil {
		return err
	}
	return w.emit(store.TableStream(t.ID), event.EventFieldDeleted, event.FieldDeleted{
		TableMeta: w.tableMeta(t), FieldID: f.ID, Field: *f, ViewsChanged: changed,
		ViewsBefore: changedBefore,
	})
}

// reconcileViews applies change to each view of the table and stores the
// views it changed (change reports whether it did). It returns them as
// stored (with their new versions) and as they were, in the same order.
func reconcileViews(w *writeTx, tableID int64, change func(v *table.View) bool) (after, before []table.View, err error) {
	views, err := w.Views(w.ctx, tableID)
	if err != nil {
		return nil, nil, err
	}
	after, before = []table.View{}, []table.View{}
	for _, sv := range views {
		old, err := ViewFromStore(sv)
		if err != nil {
			return nil, nil, err
		}
		v := old.Clone()
		if !change(v) {
			continue
		}
		saved, err := w.UpdateView(w.ctx, viewToStore(v, sv.PasswordHash))
		if err != nil {
			return nil, nil, err
		}
		nv, err := ViewFromStore(saved)
		if err != nil {
			return nil, nil, err
		}
		after, before = append(after, *nv), append(before, *old)
	}
	return after, before, nil
}
