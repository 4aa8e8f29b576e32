package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/table"
)

// TestBaserowPublicViewProperty: random tables, fields, public views
// (filters of every type, hidden fields) and writes. After every write:
//
//   - no public view frame carries a hidden field, or a row the view's
//     filter does not match (checked against the whole row the table page
//     got in the same event);
//   - the rows a view page has been told about (rows_created, rows_updated,
//     rows_deleted applied in order, refetched on force_view_*_refresh)
//     equal GET /api/views/{slug}/public/rows;
//   - an anonymous socket on the view gets exactly the same frames, byte
//     for byte, as a member's socket on it (one projection for all).
//
// Four seeds run every time; TABLECAST_PROPERTY_SEEDS=N adds N random ones
// (logged, so that a failure can be replayed by putting its seed here).
func TestBaserowPublicViewProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if n, err := strconv.Atoi(os.Getenv("TABLECAST_PROPERTY_SEEDS")); err == nil {
		for range n {
			seeds = append(seeds, rand.Uint64())
		}
	}
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		for _, seed := range seeds {
			t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
				p := newProperty(t, tn, seed)
				for step := range 40 {
					p.step(step)
				}
				p.finish()
			})
		}
	})
}

// property is one run: the table, the view, the sockets and the model.
type property struct {
	t   *testing.T
	tn  *testNode
	rnd *rand.Rand
	f   *brFixture

	fields  map[int64]*table.Field // the table's fields now
	view    table.View             // the public view now
	pred    *table.Predicate
	visible map[string]bool // "field_<id>" of the fields the view shows
	rows    []int64         // ids of the rows that exist

	member, anon *brConn
	told         map[int64]map[string]json.RawMessage // what the member's view page was told
	toldAnon     map[int64]map[string]json.RawMessage
	skipUntil    uint64 // view frames at or before it are in the last refetch
	skipAnon     uint64
	frames       int // view frames checked
}

var propWords = []string{"apple", "Banana", "cherry pie", "date", "", "apple tart", "  Cherry "}

func newProperty(t *testing.T, tn *testNode, seed uint64) *property {
	t.Helper()
	p := &property{t: t, tn: tn, rnd: rand.New(rand.NewPCG(seed, 99)), f: &brFixture{tn: tn}}
	t.Logf("seed %d", seed)
	f := p.f
	f.ws, f.tbl, f.name = tableFixture(t, tn)
	for range 2 + p.rnd.IntN(4) {
		p.addField()
	}
	p.loadFields()
	var items []any
	for range 8 + p.rnd.IntN(8) {
		items = append(items, map[string]any{"fields": p.randomCells()})
	}
	var created struct{ Items []restRow }
	tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", f.tbl), map[string]any{"items": items}, "", &created)
	for _, r := range created.Items {
		p.rows = append(p.rows, r.ID)
	}
	body := p.randomViewShape()
	body["name"], body["public"] = "public", true
	var v restView
	tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", f.tbl), body, "", &v)
	p.view.ID, p.view.Slug = v.ID, v.Slug
	p.loadView()

	p.member, p.anon = tn.brUser(t, "owner"), tn.brAnon(t)
	p.member.addPage("view", map[string]any{"slug": v.Slug})
	p.member.tablePage(f.tbl)
	p.anon.addPage("view", map[string]any{"slug": v.Slug})
	p.told, p.skipUntil = tn.publicRows(t, v.Slug, "")
	p.toldAnon, p.skipAnon = maps.Clone(p.told), p.skipUntil
	return p
}

func (p *property) addField() {
	types := []string{"text", "long_text", "number", "boolean", "date", "single_select", "multiple_select"}
	typ := types[p.rnd.IntN(len(types))]
	body := map[string]any{"name": fmt.Sprintf("%s %d", typ, p.rnd.IntN(1e6)), "type": typ}
	switch typ {
	case "number":
		body["options"] = map[string]any{"decimals": p.rnd.IntN(3)}
	case "single_select", "multiple_select":
		body["options"] = map[string]any{"choices": []any{
			map[string]any{"id": 0, "value": "red"}, map[string]any{"id": 0, "value": "green"}, map[string]any{"id": 0, "value": "Dark red"},
		}}
	}
	p.f.field(p.t, body)
}

func (p *property) loadFields() {
	var out struct{ Results []table.Field }
	p.tn.restAs(p.t, "owner", "GET", fmt.Sprintf("/api/tables/%d/fields", p.f.tbl), nil, "", &out)
	p.fields = map[int64]*table.Field{}
	for i := range out.Results {
		p.fields[out.Results[i].ID] = &out.Results[i]
	}
}

func (p *property) loadView() {
	var out struct{ Results []table.View }
	p.tn.restAs(p.t, "owner", "GET", fmt.Sprintf("/api/tables/%d/views", p.f.tbl), nil, "", &out)
	for _, v := range out.Results {
		if v.ID == p.view.ID {
			p.view = v
		}
	}
	pred, err := p.view.Predicate(p.fields)
	if err != nil {
		p.t.Fatalf("the view's filters do not compile: %v", err)
	}
	p.pred = pred
	p.visible = map[string]bool{}
	for _, f := range p.view.VisibleFields(p.fields) {
		p.visible[fieldKey(f.ID)] = true
	}
}

// nonPrimary lists the field ids but the primary one, ascending.
func (p *property) nonPrimary() []int64 {
	var ids []int64
	for id, f := range p.fields {
		if !f.Primary {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// randomValue is a value a client could send for the field.
func (p *property) randomValue(f *table.Field) any {
	if p.rnd.IntN(8) == 0 {
		return nil
	}
	switch f.Type {
	case table.TypeText, table.TypeLongText:
		return propWords[p.rnd.IntN(len(propWords))]
	case table.TypeNumber:
		return strconv.Itoa(p.rnd.IntN(10)) + "." + strconv.Itoa(p.rnd.IntN(100))
	case table.TypeBoolean:
		return p.rnd.IntN(2) == 0
	case table.TypeDate:
		return fmt.Sprintf("2026-01-%02d", 1+p.rnd.IntN(5))
	case table.TypeSingleSelect:
		return f.Options.Choices[p.rnd.IntN(len(f.Options.Choices))].ID
	case table.TypeMultipleSelect:
		var ids []int64
		for _, c := range f.Options.Choices {
			if p.rnd.IntN(2) == 0 {
				ids = append(ids, c.ID)
			}
		}
		return ids
	}
	return nil
}

// randomCells draws in field id order, so that a seed replays the same
// run on the same engine.
func (p *property) randomCells() map[string]any {
	out := map[string]any{}
	for _, id := range slices.Sorted(maps.Keys(p.fields)) {
		if p.rnd.IntN(3) > 0 {
			out[strconv.FormatInt(id, 10)] = p.randomValue(p.fields[id])
		}
	}
	return out
}

// randomFilter is a filter that applies to the field, with a value it
// takes.
func (p *property) randomFilter(f *table.Field) map[string]any {
	types := table.FilterTypes(f.Type)
	typ := types[p.rnd.IntN(len(types))]
	var value string
	switch typ {
	case table.FilterEmpty, table.FilterNotEmpty:
	case table.FilterBoolean:
		value = []string{"1", "0", "true"}[p.rnd.IntN(3)]
	case table.FilterSingleSelectEqual:
		value = strconv.FormatInt(f.Options.Choices[p.rnd.IntN(len(f.Options.Choices))].ID, 10)
	case table.FilterDateEqual, table.FilterDateBefore, table.FilterDateAfter:
		value = fmt.Sprintf("2026-01-%02d", 1+p.rnd.IntN(5))
	case table.FilterHigherThan, table.FilterLowerThan:
		value = strconv.Itoa(p.rnd.IntN(10))
	default:
		switch {
		case f.Type == table.TypeNumber:
			value = strconv.Itoa(p.rnd.IntN(10))
		case f.Type.IsSelect():
			value = []string{"red", "re", "green", "dark"}[p.rnd.IntN(4)]
		case f.Type == table.TypeDate:
			value = "2026-01-0"
		default:
			value = []string{"apple", "an", "cherry", "e", ""}[p.rnd.IntN(5)]
		}
	}
	return map[string]any{"field_id": f.ID, "type": typ, "value": value}
}

// randomViewShape is random filters, filter type and hidden fields.
func (p *property) randomViewShape() map[string]any {
	ids := append([]int64{p.f.name}, p.nonPrimary()...)
	var filters []any
	for range p.rnd.IntN(4) {
		filters = append(filters, p.randomFilter(p.fields[ids[p.rnd.IntN(len(ids))]]))
	}
	hidden := []int64{}
	for _, id := range p.nonPrimary() {
		if p.rnd.IntN(3) == 0 {
			hidden = append(hidden, id)
		}
	}
	return map[string]any{"filter_type": []string{"AND", "OR"}[p.rnd.IntN(2)], "filters": append([]any{}, filters...), "hidden_field_ids": hidden}
}

// step makes one random change, waits until the member's table page has
// its last event, and checks everything.
func (p *property) step(n int) {
	t, f := p.t, p.f
	what := ""
	switch r := p.rnd.IntN(20); {
	case r < 5 || len(p.rows) < 3:
		what = "create rows"
		var items []any
		for range 1 + p.rnd.IntN(3) {
			items = append(items, map[string]any{"fields": p.randomCells()})
		}
		var created struct{ Items []restRow }
		p.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", f.tbl), map[string]any{"items": items}, "", &created)
		for _, r := range created.Items {
			p.rows = append(p.rows, r.ID)
		}
	case r < 12:
		what = "update rows"
		var items []any
		for _, id := range p.pickRows(1 + p.rnd.IntN(3)) {
			items = append(items, map[string]any{"id": id, "fields": p.randomCells()})
		}
		p.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows", f.tbl), map[string]any{"items": items}, "", &struct{}{})
	case r < 15:
		what = "delete rows"
		ids := p.pickRows(1 + p.rnd.IntN(2))
		p.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows/delete", f.tbl), map[string]any{"ids": ids}, "", nil)
		p.rows = slices.DeleteFunc(p.rows, func(id int64) bool { return slices.Contains(ids, id) })
	case r < 17:
		what = "change the view's filters and hidden fields"
		shape := p.randomViewShape()
		if p.rnd.IntN(2) == 0 {
			delete(shape, "hidden_field_ids")
		}
		f.patchView(t, p.view.ID, shape)
	case r < 18:
		what = "add a field"
		p.addField()
	case r < 19 && len(p.nonPrimary()) > 1:
		what = "delete a field"
		ids := p.nonPrimary()
		p.tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/fields/%d", ids[p.rnd.IntN(len(ids))]), nil, "", nil)
	default:
		what = "rename a field"
		ids := append([]int64{f.name}, p.nonPrimary()...)
		p.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", ids[p.rnd.IntN(len(ids))]),
			map[string]any{"name": fmt.Sprintf("renamed %d", n)}, "", &struct{}{})
	}
	p.loadFields()
	p.loadView()
	top := f.top(t)
	views := p.drainMember(top, what)
	// The anonymous socket gets the same frames, byte for byte.
	for i, want := range views {
		got := p.anon.next()
		if !bytes.Equal(got.raw, want.raw) {
			t.Fatalf("step %d (%s): the anonymous socket's frame %d is %s; the member's view page got %s", n, what, i, got, want)
		}
		p.apply(got, &p.toldAnon, &p.skipAnon, nil)
	}
	public, _ := p.tn.publicRows(t, p.view.Slug, "")
	for name, told := range map[string]map[int64]map[string]json.RawMessage{"member": p.told, "anonymous": p.toldAnon} {
		if diff := rowsDiff(told, public); diff != "" {
			t.Fatalf("step %d (%s): the %s socket's rows differ from the public listing: %s", n, what, name, diff)
		}
	}
}

func (p *property) pickRows(n int) []int64 {
	perm := p.rnd.Perm(len(p.rows))
	var ids []int64
	for _, i := range perm[:min(n, len(perm))] {
		ids = append(ids, p.rows[i])
	}
	return ids
}

// drainMember reads the member's socket until its table page has the
// event at top, checks and applies the view page's frames, and returns
// them.
func (p *property) drainMember(top uint64, what string) []brMsg {
	t := p.t
	var views, pending []brMsg
	for {
		m := p.member.next()
		id := m.eventID(t)
		if isViewFrame(m, p.f.tbl) {
			pending = append(pending, m)
			continue
		}
		// The table page's frame of event id: its whole rows judge the
		// view frames of the same event, which came just before it.
		whole := wholeRows(t, m)
		for _, v := range pending {
			if v.eventID(t) != id {
				t.Fatalf("(%s) a view frame of event %d came before the table frame of event %d", what, v.eventID(t), id)
			}
			p.check(v, whole, what)
			p.apply(v, &p.told, &p.skipUntil, whole)
			views = append(views, v)
		}
		pending = nil
		if id == top {
			// A field event's table frame may be followed by view_updated
			// frames of the same event, written with it: a round trip
			// reads them before its answer.
			p.member.sendJSON(map[string]any{"page": "sync-marker"})
			for {
				m := p.member.next()
				if m.Type == "page_add_failed" && string(m.M["page"]) == `"sync-marker"` {
					return views
				}
				if isViewFrame(m, p.f.tbl) || m.eventID(t) != top {
					t.Fatalf("(%s) after the table frame of event %d came %s", what, top, m)
				}
			}
		}
		if id > top {
			t.Fatalf("(%s) event %d past the top %d", what, id, top)
		}
	}
}

// isViewFrame tells the view page's frames from the table page's.
func isViewFrame(m brMsg, tbl int64) bool {
	if strings.HasPrefix(m.Type, "force_view") {
		return true
	}
	return strings.HasPrefix(m.Type, "rows_") && string(m.M["table_id"]) == "0"
}

// wholeRows reads the rows after the event from a table page's frame.
func wholeRows(t *testing.T, m brMsg) map[int64]map[string]json.RawMessage {
	out := map[int64]map[string]json.RawMessage{}
	if m.Type != "rows_created" && m.Type != "rows_updated" {
		return out
	}
	var rows []map[string]json.RawMessage
	m.decodeInto(t, "rows", &rows)
	for _, r := range rows {
		var id int64
		_ = json.Unmarshal(r["id"], &id)
		out[id] = r
	}
	return out
}

// check asserts a view frame shows only visible fields and matching rows.
func (p *property) check(m brMsg, whole map[int64]map[string]json.RawMessage, what string) {
	t := p.t
	p.frames++
	if strings.HasPrefix(m.Type, "force_view") {
		if string(m.M["view_id"]) != strconv.Quote(p.view.Slug) {
			t.Fatalf("(%s) %s names another view", what, m)
		}
		return
	}
	if string(m.M["table_id"]) != "0" {
		t.Fatalf("(%s) %s: table_id is not 0", what, m)
	}
	for _, key := range []string{"rows", "rows_before_update"} {
		var rows []map[string]json.RawMessage
		if _, ok := m.M[key]; !ok {
			continue
		}
		m.decodeInto(t, key, &rows)
		for _, r := range rows {
			for k := range r {
				if k != "id" && k != "order" && !p.visible[k] {
					t.Fatalf("(%s) %s: %s holds %s, which the view does not show (shows %v)", what, m.Type, key, k, slices.Sorted(maps.Keys(p.visible)))
				}
			}
			if key != "rows" || m.Type == "rows_deleted" {
				continue
			}
			var id int64
			_ = json.Unmarshal(r["id"], &id)
			full, ok := whole[id]
			if !ok {
				t.Fatalf("(%s) %s: row %d is not in the table page's frame of the event", what, m.Type, id)
			}
			vals := table.Values{}
			for k, v := range full {
				if fid, ok := strings.CutPrefix(k, "field_"); ok {
					n, _ := strconv.ParseInt(fid, 10, 64)
					vals[n] = v
				}
			}
			if !p.pred.Match(vals) {
				t.Fatalf("(%s) %s: row %d does not match the view's filters %s", what, m.Type, id, mustJSON(t, p.view.FilterSet()))
			}
			for k, v := range r {
				if k != "id" && k != "order" && !jsonEqual(t, v, full[k]) {
					t.Fatalf("(%s) row %d: %s is %s in the view, %s in the table", what, id, k, v, full[k])
				}
			}
		}
	}
}

// apply updates what a socket was told with one view frame; a force
// refresh refetches, as a client does.
func (p *property) apply(m brMsg, told *map[int64]map[string]json.RawMessage, skip *uint64, _ map[int64]map[string]json.RawMessage) {
	t := p.t
	id := m.eventID(t)
	if id <= *skip {
		return // the refetch had it
	}
	if strings.HasPrefix(m.Type, "force_view") {
		*told, *skip = p.tn.publicRows(t, p.view.Slug, "")
		return
	}
	var rows []map[string]json.RawMessage
	m.decodeInto(t, "rows", &rows)
	for _, r := range rows {
		var rid int64
		_ = json.Unmarshal(r["id"], &rid)
		switch m.Type {
		case "rows_deleted":
			if _, ok := (*told)[rid]; !ok {
				t.Fatalf("%s deletes row %d, which the socket was never told about", m.Type, rid)
			}
			delete(*told, rid)
		case "rows_created":
			if _, ok := (*told)[rid]; ok {
				t.Fatalf("%s creates row %d, which the socket already has", m.Type, rid)
			}
			fallthrough
		default:
			if _, ok := (*told)[rid]; !ok && m.Type == "rows_updated" {
				t.Fatalf("%s updates row %d, which the socket was never told about", m.Type, rid)
			}
			row := map[string]json.RawMessage{}
			for k, v := range r {
				if k != "id" && k != "order" {
					row[k] = v
				}
			}
			(*told)[rid] = row
		}
	}
}

// rowsDiff compares what a socket was told with the public listing.
func rowsDiff(told, public map[int64]map[string]json.RawMessage) string {
	for id, want := range public {
		got, ok := told[id]
		if !ok {
			return fmt.Sprintf("row %d is listed but was never told", id)
		}
		if len(got) != len(want) {
			return fmt.Sprintf("row %d: told %d fields, listed %d", id, len(got), len(want))
		}
		for k, v := range want {
			// the listing is REST's (a number is a JSON number), the
			// socket Baserow's (a decimal string with the field's places)
			var a, b any
			_ = json.Unmarshal(v, &a)
			_ = json.Unmarshal(got[k], &b)
			if n, ok := a.(float64); ok {
				if s, ok := b.(string); ok {
					if m, err := strconv.ParseFloat(s, 64); err == nil && m == n {
						continue
					}
				}
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				return fmt.Sprintf("row %d: %s told %s, listed %s", id, k, got[k], v)
			}
		}
	}
	for id := range told {
		if _, ok := public[id]; !ok {
			return fmt.Sprintf("row %d was told and is not listed", id)
		}
	}
	return ""
}

// finish ends with a marker both sockets see next: nothing else was sent.
func (p *property) finish() {
	t := p.t
	p.f.patchView(t, p.view.ID, map[string]any{"name": "the end"})
	for _, c := range []*brConn{p.member, p.anon} {
		if m := c.expect("force_view_refresh"); m.eventID(t) != p.f.top(t) {
			t.Fatalf("the last message %s is not the marker's", m)
		}
	}
	t.Logf("%d view frames checked", p.frames)
	if p.frames == 0 {
		t.Fatal("no view frame was checked")
	}
}
