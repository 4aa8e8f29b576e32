package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// Member is a membership: {"user_id","role"}.
type Member struct {
	UserID string     `json:"user_id"`
	Role   store.Role `json:"role"`
}

func workspaceOut(w store.Workspace, role store.Role) event.Workspace {
	return event.Workspace{ID: w.ID, Name: w.Name, CreatedAt: w.CreatedAt, Role: event.Role(role)}
}

func tableOut(t store.Table) event.Table {
	return event.Table{ID: t.ID, WorkspaceID: t.WorkspaceID, Name: t.Name, Order: t.Order, CreatedAt: t.CreatedAt,
		Version: t.Version}
}

// storedOptions is how field options are kept in the store's JSON column.
type storedOptions struct {
	Decimals    int            `json:"decimals,omitempty"`
	IncludeTime bool           `json:"include_time,omitempty"`
	Choices     []table.Choice `json:"choices,omitempty"`
}

// FieldFromStore reads a stored field.
func FieldFromStore(f store.Field) (*table.Field, error) {
	var o storedOptions
	if len(f.Options) > 0 {
		if err := json.Unmarshal(f.Options, &o); err != nil {
			return nil, fmt.Errorf("service: field %d: options: %w", f.ID, err)
		}
	}
	return &table.Field{
		ID: f.ID, TableID: f.TableID, Name: f.Name, Type: table.FieldType(f.Type), Primary: f.Primary, Order: f.Order,
		Options: table.FieldOptions{Decimals: o.Decimals, IncludeTime: o.IncludeTime, Choices: o.Choices},
		Version: f.Version,
	}, nil
}

func fieldToStore(f *table.Field) store.Field {
	o := storedOptions{Decimals: f.Options.Decimals, IncludeTime: f.Options.IncludeTime, Choices: f.Options.Choices}
	b, _ := json.Marshal(o)
	return store.Field{ID: f.ID, TableID: f.TableID, Name: f.Name, Type: string(f.Type), Primary: f.Primary, Order: f.Order,
		Options: b, Version: f.Version}
}

// ViewFromStore reads a stored view (without its password hash; HasPassword
// tells whether it has one).
func ViewFromStore(v store.View) (*table.View, error) {
	out := &table.View{
		ID: v.ID, TableID: v.TableID, Name: v.Name, Type: v.Type, Order: v.Order, FilterType: v.FilterType,
		HiddenFieldIDs: v.HiddenFieldIDs, Public: v.Public, Slug: v.Slug, HasPassword: v.PasswordHash != "",
		Version: v.Version,
	}
	if len(v.Filters) > 0 {
		if err := json.Unmarshal(v.Filters, &out.Filters); err != nil {
			return nil, fmt.Errorf("service: view %d: filters: %w", v.ID, err)
		}
	}
	if len(v.Sorts) > 0 {
		if err := json.Unmarshal(v.Sorts, &out.Sorts); err != nil {
			return nil, fmt.Errorf("service: view %d: sorts: %w", v.ID, err)
		}
	}
	if out.Filters == nil {
		out.Filters = []table.Filter{}
	}
	if out.Sorts == nil {
		out.Sorts = []table.Sort{}
	}
	if out.HiddenFieldIDs == nil {
		out.HiddenFieldIDs = []int64{}
	}
	return out, nil
}

func viewToStore(v *table.View, passwordHash string) store.View {
	filters := v.Filters
	if filters == nil {
		filters = []table.Filter{}
	}
	sorts := v.Sorts
	if sorts == nil {
		sorts = []table.Sort{}
	}
	fb, _ := json.Marshal(filters)
	sb, _ := json.Marshal(sorts)
	return store.View{
		ID: v.ID, TableID: v.TableID, Name: v.Name, Type: v.Type, Order: v.Order, FilterType: v.FilterType,
		Filters: fb, Sorts: sb, HiddenFieldIDs: v.HiddenFieldIDs, Public: v.Public, Slug: v.Slug,
		PasswordHash: passwordHash, Version: v.Version,
	}
}

// schema is a table's fields, in field order and by id.
type schema struct {
	list []*table.Field
	byID map[int64]*table.Field

	placesOnce sync.Once
	places     event.Decimals
}

// decimals are the decimal places of the schema's number fields, by id
// (nil when it has none): row events carry them (RowsCreated.Decimals).
// Worked out once per schema and shared: callers must not modify it.
func (sc *schema) decimals() event.Decimals {
	sc.placesOnce.Do(func() {
		for _, f := range sc.list {
			if f.Type == table.TypeNumber {
				if sc.places == nil {
					sc.places = make(event.Decimals)
				}
				sc.places[f.ID] = f.Options.Decimals
			}
		}
	})
	return sc.places
}

// tableSchema is the table, when user has the role need on it
// (tableAccess), and its schema.
func tableSchema(ctx context.Context, r store.Reader, user string, tableID int64, need store.Role) (store.Table, *schema, error) {
	t, _, err := tableAccess(ctx, r, user, tableID, need)
	if err != nil {
		return store.Table{}, nil, err
	}
	sc, err := loadSchema(ctx, r, tableID)
	if err != nil {
		return store.Table{}, nil, err
	}
	return t, sc, nil
}

func loadSchema(ctx context.Context, r store.Reader, tableID int64) (*schema, error) {
	fs, err := r.Fields(ctx, tableID)
	if err != nil {
		return nil, err
	}
	sc := &schema{list: make([]*table.Field, 0, len(fs)), byID: make(map[int64]*table.Field, len(fs))}
	for _, f := range fs {
		tf, err := FieldFromStore(f)
		if err != nil {
			return nil, err
		}
		sc.list = append(sc.list, tf)
		sc.byID[tf.ID] = tf
	}
	return sc, nil
}

func (sc *schema) fieldsOut() []table.Field {
	out := make([]table.Field, len(sc.list))
	for i, f := range sc.list {
		out[i] = *f
	}
	return out
}

// decodeValues reads a row's stored values.
func decodeValues(raw json.RawMessage) (table.Values, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("service: row values: %w", err)
	}
	v := make(table.Values, len(m))
	for k, val := range m {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		v[id] = val
	}
	return v, nil
}

// rowOut shows a row with a value for each of fields (the default for a
// missing one), and nothing for other keys.
func rowOut(r store.Row, vals table.Values, fields []*table.Field) event.Row {
	out := make(table.Values, len(fields))
	for _, f := range fields {
		if v, ok := vals[f.ID]; ok {
			if f.Type == table.TypeNumber && !table.NumberIsStored(v) {
				// A decimal string ("2.50") stored by an older version:
				// shown as the number it is.
				if n, err := f.Normalize(v); err == nil {
					v = n
				}
			}
			out[f.ID] = v
		} else {
			out[f.ID] = f.DefaultValue()
		}
	}
	return event.Row{ID: r.ID, Order: r.Order, Version: r.Version, Fields: out, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// rowsOut shows stored rows with every field of the schema.
func rowsOut(rows []store.Row, sc *schema) ([]event.Row, error) {
	out := make([]event.Row, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = rowOutOf(r, sc.list); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rowOutOf shows a stored row with the cells of fields only.
func rowOutOf(r store.Row, fields []*table.Field) (event.Row, error) {
	vals, err := decodeValues(r.Values)
	if err != nil {
		return event.Row{}, err
	}
	return rowOut(r, vals, fields), nil
}

// encodeValues writes values as the store's JSON object.
func encodeValues(v table.Values) json.RawMessage { return event.AppendValues(nil, v) }

// Limits of names the service checks itself (fields and views are checked
// by package table with the same limit).
const maxNameLength = table.MaxNameLength

// checkName validates a workspace or table name under key; names are
// trimmed.
func checkName(e *table.ValidationError, key string, name string) *table.ValidationError {
	switch {
	case name == "":
		return e.Add(key, "must not be empty")
	case utf8.RuneCountInString(name) > maxNameLength:
		return e.Add(key, "at most "+strconv.Itoa(maxNameLength)+" characters")
	case strings.IndexByte(name, 0) >= 0:
		return e.Add(key, "must not contain NUL characters")
	}
	return e
}

func validation(key, msg string) error {
	return (*table.ValidationError)(nil).Add(key, msg)
}
