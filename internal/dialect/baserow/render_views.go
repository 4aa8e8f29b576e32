package baserow

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/table"
)

// A tablecast view's filters and sorts are lists without ids of their
// own; Baserow's front end finds a filter or a sort by its id. Here each
// one's id is its place in its view's list: view id × 1000 + position
// (from 1). table.MaxFilters and table.MaxSorts are well below 1000, so
// no two filters (or sorts) of any views share an id. A filter's id
// follows its place: removing the first of two filters updates the first
// id and deletes the second, which leaves a client holding the list as
// the server has it.
const idsPerView = 1000

func itemID(viewID int64, i int) int64 { return viewID*idsPerView + int64(i) + 1 }

// viewShape is a view as Baserow's view serializer sends it. Filters and
// sortings are nil in view_updated (Baserow leaves them out there: their
// changes have messages of their own); view_created and a field event's
// view_updated carry them. hidden_field_ids is tablecast's own (Baserow
// sends the hidden fields as field options).
type viewShape struct {
	ID                    int64          `json:"id"`
	TableID               int64          `json:"table_id"`
	Name                  string         `json:"name"`
	Type                  string         `json:"type"`
	Order                 int            `json:"order"`
	FilterType            string         `json:"filter_type"`
	FiltersDisabled       bool           `json:"filters_disabled"`
	Filters               *[]filterShape `json:"filters,omitempty"`
	FilterGroups          *[]struct{}    `json:"filter_groups,omitempty"`
	Sortings              *[]sortShape   `json:"sortings,omitempty"`
	GroupBys              *[]struct{}    `json:"group_bys,omitempty"`
	Decorations           *[]struct{}    `json:"decorations,omitempty"`
	Public                bool           `json:"public"`
	Slug                  *string        `json:"slug"`
	PublicViewHasPassword bool           `json:"public_view_has_password"`
	ShowLogo              bool           `json:"show_logo"`
	AllowPublicExport     bool           `json:"allow_public_export"`
	OwnershipType         string         `json:"ownership_type"`
	OwnedByID             *int64         `json:"owned_by_id"`
	RowIdentifierType     string         `json:"row_identifier_type"`
	HiddenFieldIDs        []int64        `json:"hidden_field_ids"`
}

// filterShape is Baserow's view filter.
type filterShape struct {
	ID            int64    `json:"id"`
	View          int64    `json:"view"`
	Field         int64    `json:"field"`
	Type          string   `json:"type"`
	Value         string   `json:"value"`
	PreloadValues struct{} `json:"preload_values"`
	Group         *int64   `json:"group"`
}

// sortShape is Baserow's view sort.
type sortShape struct {
	ID    int64  `json:"id"`
	View  int64  `json:"view"`
	Field int64  `json:"field"`
	Order string `json:"order"` // ASC or DESC
	Type  string `json:"type"`
}

func filterOut(v *table.View, i int) filterShape {
	f := v.Filters[i]
	return filterShape{ID: itemID(v.ID, i), View: v.ID, Field: f.FieldID, Type: table.CanonicalFilterType(f.Type), Value: string(f.Value)}
}

func sortOut(v *table.View, i int) sortShape {
	o := v.Sorts[i]
	order := "ASC"
	if strings.EqualFold(o.Order, table.SortDesc) {
		order = "DESC"
	}
	return sortShape{ID: itemID(v.ID, i), View: v.ID, Field: o.FieldID, Order: order, Type: "default"}
}

// viewOut is the view with its filters and sortings when lists is set.
func viewOut(v table.View, lists bool) viewShape {
	s := viewShape{ID: v.ID, TableID: v.TableID, Name: v.Name, Type: v.Type, Order: v.Order, FilterType: v.FilterType,
		Public: v.Public, PublicViewHasPassword: v.HasPassword, ShowLogo: true, OwnershipType: "collaborative",
		RowIdentifierType: "id", HiddenFieldIDs: v.HiddenFieldIDs}
	if s.Type == "" {
		s.Type = table.ViewGrid
	}
	if s.FilterType == "" {
		s.FilterType = table.FilterAnd
	}
	if v.Slug != "" {
		slug := v.Slug
		s.Slug = &slug
	}
	if s.HiddenFieldIDs == nil {
		s.HiddenFieldIDs = []int64{}
	}
	if lists {
		filters := make([]filterShape, len(v.Filters))
		for i := range v.Filters {
			filters[i] = filterOut(&v, i)
		}
		sorts := make([]sortShape, len(v.Sorts))
		for i := range v.Sorts {
			sorts[i] = sortOut(&v, i)
		}
		empty := []struct{}{}
		s.Filters, s.Sortings = &filters, &sorts
		s.FilterGroups, s.GroupBys, s.Decorations = &empty, &empty, &empty
	}
	return s
}

// viewChangeFrames renders a view's own update for the table page as
// Baserow does: view_updated (without filters and sortings) when
// something else than those changed, one view_filter_created, _updated
// or _deleted per filter changed, the same for sorts, and
// view_field_options_updated when the hidden fields changed. An update
// that changed none of these is one view_updated.
func (ev *tableEvent) viewChangeFrames(before, after table.View, fields map[int64]*table.Field) ([]byte, error) {
	var frames []byte
	off := ev.p.Offset
	own := before
	own.Filters, own.Sorts, own.HiddenFieldIDs, own.Version = after.Filters, after.Sorts, after.HiddenFieldIDs, after.Version
	filtersChanged := !slices.Equal(before.Filters, after.Filters)
	sortsChanged := !slices.Equal(before.Sorts, after.Sorts)
	hiddenChanged := !slices.Equal(before.HiddenFieldIDs, after.HiddenFieldIDs)
	if !viewsEqual(own, after) || !(filtersChanged || sortsChanged || hiddenChanged) {
		var w buf
		w.open("view_updated")
		w.key("view_id")
		w.int(after.ID)
		w.key("view")
		if err := w.value(viewOut(after, false)); err != nil {
			return nil, err
		}
		w.eventID(off)
		frames = append(frames, w.frame()...)
	}
	var err error
	if frames, err = itemFrames(frames, off, &after, filterMessages, before.Filters, after.Filters, filterOut); err != nil {
		return nil, err
	}
	if frames, err = itemFrames(frames, off, &after, sortMessages, before.Sorts, after.Sorts, sortOut); err != nil {
		return nil, err
	}
	if hiddenChanged {
		var w buf
		w.open("view_field_options_updated")
		w.key("view_id")
		w.int(after.ID)
		w.key("field_options")
		if err := w.value(fieldOptions(before, after, fields)); err != nil {
			return nil, err
		}
		w.eventID(off)
		frames = append(frames, w.frame()...)
	}
	return frames, nil
}

// fieldOptions is Baserow's field_options of a view, {"<field id>":
// {"hidden":bool}}, for every field known and every field whose hidden
// state changed. The front end merges them into the options it holds.
func fieldOptions(before, after table.View, fields map[int64]*table.Field) map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(fields))
	add := func(id int64) {
		out[strconv.FormatInt(id, 10)] = map[string]bool{"hidden": !after.Visible(id)}
	}
	for id := range fields {
		add(id)
	}
	for _, id := range before.HiddenFieldIDs {
		add(id)
	}
	for _, id := range after.HiddenFieldIDs {
		add(id)
	}
	return out
}

// viewsEqual compares two views member by member.
func viewsEqual(a, b table.View) bool {
	return a.ID == b.ID && a.TableID == b.TableID && a.Name == b.Name && a.Type == b.Type && a.Order == b.Order &&
		a.FilterType == b.FilterType && a.Public == b.Public && a.Slug == b.Slug && a.HasPassword == b.HasPassword &&
		slices.Equal(a.Filters, b.Filters) && slices.Equal(a.Sorts, b.Sorts) && slices.Equal(a.HiddenFieldIDs, b.HiddenFieldIDs)
}

// publicViewShape is a public view as Baserow's public view info sends
// it: named by its slug, its table a placeholder (0), only the sorts of
// the fields it shows.
type publicViewShape struct {
	ID                string            `json:"id"`
	Table             publicTableShape  `json:"table"`
	Name              string            `json:"name"`
	Order             int               `json:"order"`
	Type              string            `json:"type"`
	Sortings          []publicSortShape `json:"sortings"`
	GroupBys          []struct{}        `json:"group_bys"`
	Public            bool              `json:"public"`
	Slug              string            `json:"slug"`
	ShowLogo          bool              `json:"show_logo"`
	AllowPublicExport bool              `json:"allow_public_export"`
}

type publicTableShape struct {
	ID         int64 `json:"id"`
	DatabaseID int64 `json:"database_id"`
}

type publicSortShape struct {
	ID    int64  `json:"id"`
	View  string `json:"view"`
	Field int64  `json:"field"`
	Order string `json:"order"`
	Type  string `json:"type"`
}

// publicInfo is the view and the fields it shows, in order, as
// force_view_refresh carries them.
func publicInfo(v table.View, fields map[int64]*table.Field) (publicViewShape, []map[string]any) {
	s := publicViewShape{ID: v.Slug, Name: v.Name, Order: v.Order, Type: v.Type, Sortings: []publicSortShape{},
		GroupBys: []struct{}{}, Public: v.Public, Slug: v.Slug, ShowLogo: true}
	if s.Type == "" {
		s.Type = table.ViewGrid
	}
	for i, o := range v.Sorts {
		if _, ok := fields[o.FieldID]; !ok || !v.Visible(o.FieldID) {
			continue
		}
		so := sortOut(&v, i)
		s.Sortings = append(s.Sortings, publicSortShape{ID: so.ID, View: v.Slug, Field: so.Field, Order: so.Order, Type: so.Type})
	}
	visible := v.VisibleFields(fields)
	out := make([]map[string]any, len(visible))
	for i, f := range visible {
		out[i] = fieldShape(*f, 0, true)
	}
	return s, out
}

// itemMessages are the names of the messages about one list of a view's
// items (its filters, its sortings).
type itemMessages struct{ created, updated, deleted, item, itemID string }

var (
	filterMessages = itemMessages{"view_filter_created", "view_filter_updated", "view_filter_deleted", "view_filter", "view_filter_id"}
	sortMessages   = itemMessages{"view_sort_created", "view_sort_updated", "view_sort_deleted", "view_sort", "view_sort_id"}
)

// itemFrames appends to frames a message for each item of the list that
// changed from before to now, by position: created, updated or deleted.
// shape gives an item of view v as Baserow shows it.
func itemFrames[T comparable, S any](frames []byte, off uint64, v *table.View, m itemMessages, before, now []T, shape func(v *table.View, i int) S) ([]byte, error) {
	for i := 0; i < max(len(before), len(now)); i++ {
		var w buf
		switch {
		case i >= len(now):
			w.open(m.deleted)
			w.key("view_id")
			w.int(v.ID)
			w.key(m.itemID)
			w.int(itemID(v.ID, i))
		case i >= len(before):
			w.open(m.created)
			w.key(m.item)
			if err := w.value(shape(v, i)); err != nil {
				return nil, err
			}
		case before[i] != now[i]:
			w.open(m.updated)
			w.key(m.itemID)
			w.int(itemID(v.ID, i))
			w.key(m.item)
			if err := w.value(shape(v, i)); err != nil {
				return nil, err
			}
		default:
			continue
		}
		w.eventID(off)
		frames = append(frames, w.frame()...)
	}
	return frames, nil
}
