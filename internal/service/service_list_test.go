package service_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// listAll pages through a listing and returns the rows in order.
func listAll(t *testing.T, fx *fixture, in service.ListRowsInput, between func(page int)) []event.Row {
	t.Helper()
	var all []event.Row
	for page := 0; ; page++ {
		p := ok(fx.svc.ListRows(fx.ctx, fx.admin, fx.tbl.ID, in))(t)
		all = append(all, p.Rows...)
		if p.NextCursor == nil {
			return all
		}
		if page > 100 {
			t.Fatal("too many pages")
		}
		if between != nil {
			between(page)
		}
		in.Cursor = *p.NextCursor
	}
}

func names(fx *fixture, rows []event.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		var s string
		_ = json.Unmarshal(r.Fields[fx.f["Name"].ID], &s)
		out[i] = s
	}
	return out
}

func testListRows(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	items := make([]service.RowFields, 30)
	for i := range items {
		items[i] = fx.fields("Name", fmt.Sprintf(`"r%02d"`, i), "Price", fmt.Sprint(i%7))
	}
	ok(fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, items, 0))(t)
	price := fx.f["Price"].ID

	// row order, 7 per page
	all := listAll(t, fx, service.ListRowsInput{Limit: 7}, nil)
	if len(all) != 30 || names(fx, all)[0] != "r00" || names(fx, all)[29] != "r29" {
		t.Fatalf("row order pages = %v", names(fx, all))
	}

	// sorted by price desc, with rows added between pages: no repeats, in order
	sortJSON := fmt.Sprintf(`[{"field_id":%d,"order":"desc"}]`, price)
	added := 0
	all = listAll(t, fx, service.ListRowsInput{Limit: 4, Sort: sortJSON}, func(page int) {
		if page < 2 {
			ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", fmt.Sprintf(`"new%d"`, page), "Price", "-1"), 0))(t)
			added++
		}
	})
	seen := map[int64]bool{}
	for i, r := range all {
		if seen[r.ID] {
			t.Fatalf("row %d listed twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 {
			var a, b float64
			_ = json.Unmarshal([]byte(unquote(all[i-1].Fields[price])), &a)
			_ = json.Unmarshal([]byte(unquote(r.Fields[price])), &b)
			if a < b {
				t.Fatalf("not sorted desc at %d: %v then %v", i, a, b)
			}
		}
	}
	if len(all) != 30+added {
		t.Fatalf("sorted listing has %d rows, want %d", len(all), 30+added)
	}

	// filter, search, view
	filter := fmt.Sprintf(`{"filter_type":"AND","filters":[{"field_id":%d,"type":"higher_than","value":"3"}]}`, price)
	if n := len(listAll(t, fx, service.ListRowsInput{Filter: filter, Limit: 5}, nil)); n != 12 {
		t.Errorf("price > 3: %d rows, want 12", n)
	}
	if got := names(fx, listAll(t, fx, service.ListRowsInput{Search: "R1"}, nil)); len(got) != 10 {
		t.Errorf("search r1: %v", got)
	}
	v := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{Name: "low",
		Filters: []table.Filter{{FieldID: price, Type: "lower_than", Value: "2"}},
		Sorts:   []table.Sort{{FieldID: fx.f["Name"].ID, Order: "desc"}}}))(t)
	got := names(fx, listAll(t, fx, service.ListRowsInput{ViewID: v.ID, Filter: filter}, nil))
	if len(got) != 0 {
		t.Errorf("view (< 2) AND filter (> 3) = %v", got)
	}
	got = names(fx, listAll(t, fx, service.ListRowsInput{ViewID: v.ID, Limit: 3}, nil))
	if len(got) != 12 || got[0] != "r29" || got[len(got)-1] != "new0" {
		t.Errorf("view listing = %v", got)
	}

	// the offset is the stream's top in the same snapshot
	p := ok(fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{Limit: 1}))(t)
	if top := fx.top(fx.tableStream()); p.Offset != top || top == 0 {
		t.Errorf("offset %d, top %d", p.Offset, top)
	}

	// bad input
	for _, c := range []struct {
		in  service.ListRowsInput
		key string
	}{
		{service.ListRowsInput{Filter: `{"filters":[`}, "filter"},
		{service.ListRowsInput{Filter: `{"filter_type":"AND","filters":[{"field_id":999999,"type":"equal","value":"x"}]}`}, "filter.filters[0].field_id"},
		{service.ListRowsInput{Filter: fmt.Sprintf(`{"filters":[{"field_id":%d,"type":"higher_than","value":"abc"}]}`, price)}, "filter.filters[0].value"},
		{service.ListRowsInput{Sort: `[{"field_id":`}, "sort"},
		{service.ListRowsInput{Sort: `[{"field_id":999999,"order":"asc"}]`}, "sort[0].field_id"},
		{service.ListRowsInput{Sort: fmt.Sprintf(`[{"field_id":%d,"order":"up"}]`, price)}, "sort[0].order"},
		{service.ListRowsInput{Limit: 1001}, "limit"},
		{service.ListRowsInput{Cursor: "garbage"}, "cursor"},
		{service.ListRowsInput{ViewID: 999999}, "view"},
	} {
		_, err := fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, c.in)
		wantDetail(t, err, c.key)
	}
	// a cursor of another query is refused
	p = ok(fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{Limit: 1}))(t)
	_, err := fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{Limit: 1, Sort: sortJSON, Cursor: *p.NextCursor})
	wantDetail(t, err, "cursor")

	// sorting is refused over MaxSortRows (50 here); row order still pages
	more := make([]service.RowFields, 30)
	for i := range more {
		more[i] = fx.fields("Name", fmt.Sprintf(`"m%02d"`, i))
	}
	ok(fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, more, 0))(t)
	_, err = fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{Sort: sortJSON})
	wantDetail(t, err, "sort")
	if n := len(listAll(t, fx, service.ListRowsInput{Limit: 1000}, nil)); n != 60+added {
		t.Errorf("%d rows in row order", n)
	}
}

func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// clock is a settable time for tokens.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testPublicView(t *testing.T, st store.Store) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	fx := newFixture(t, st, service.Config{Now: clk.now, ViewTokenTTL: time.Minute})
	ctx := fx.ctx
	price, done := fx.f["Price"].ID, fx.f["Done"].ID
	ok(fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, []service.RowFields{
		fx.fields("Name", `"shown"`, "Price", "5", "Done", "true"),
		fx.fields("Name", `"filtered out"`, "Price", "6"),
	}, 0))(t)
	v := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{
		Name: "Public", Public: true, Password: "correct horse",
		Filters: []table.Filter{{FieldID: done, Type: "boolean", Value: "1"}}, HiddenFieldIDs: []int64{price},
	}))(t)
	if v.Slug == "" || !v.HasPassword || len(v.Slug) < 40 {
		t.Fatalf("view = %+v", v)
	}
	_, err := fx.svc.PublicRows(ctx, v.Slug, "", service.ListRowsInput{})
	wantErr(t, err, event.ErrUnauthorized)
	_, err = fx.svc.PublicViewAuth(ctx, v.Slug, "wrong password")
	wantErr(t, err, event.ErrUnauthorized)
	tok := ok(fx.svc.PublicViewAuth(ctx, v.Slug, "correct horse"))(t)
	p := ok(fx.svc.PublicRows(ctx, v.Slug, tok.Token, service.ListRowsInput{}))(t)
	if len(p.Rows) != 1 || names(fx, p.Rows)[0] != "shown" {
		t.Fatalf("public rows = %+v", p.Rows)
	}
	if _, has := p.Rows[0].Fields[price]; has {
		t.Fatalf("a hidden field left the server: %+v", p.Rows[0].Fields)
	}
	pv := ok(fx.svc.OpenPublicView(ctx, v.Slug, tok.Token))(t)
	for _, f := range pv.Fields {
		if f.ID == price {
			t.Fatal("OpenPublicView shows a hidden field")
		}
	}
	if pv.WorkspaceID != fx.ws.ID || len(pv.Fields) != 6 {
		t.Fatalf("public view = %+v", pv)
	}
	// a token of another view or a forged one does not open it
	_, err = fx.svc.PublicRows(ctx, v.Slug, tok.Token+"x", service.ListRowsInput{})
	wantErr(t, err, event.ErrUnauthorized)
	// tokens expire
	clk.add(2 * time.Minute)
	_, err = fx.svc.PublicRows(ctx, v.Slug, tok.Token, service.ListRowsInput{})
	wantErr(t, err, event.ErrUnauthorized)
	// a new password voids the old tokens
	tok = ok(fx.svc.PublicViewAuth(ctx, v.Slug, "correct horse"))(t)
	pw := "battery staple"
	ok(fx.svc.UpdateView(ctx, fx.admin, v.ID, service.ViewPatch{Password: &pw}))(t)
	_, err = fx.svc.PublicRows(ctx, v.Slug, tok.Token, service.ListRowsInput{})
	wantErr(t, err, event.ErrUnauthorized)
	// without a password no token is needed; private views do not exist
	none := ""
	ok(fx.svc.UpdateView(ctx, fx.admin, v.ID, service.ViewPatch{Password: &none}))(t)
	ok(fx.svc.PublicRows(ctx, v.Slug, "", service.ListRowsInput{}))(t)
	private := false
	ok(fx.svc.UpdateView(ctx, fx.admin, v.ID, service.ViewPatch{Public: &private}))(t)
	_, err = fx.svc.PublicRows(ctx, v.Slug, "", service.ListRowsInput{})
	wantErr(t, err, event.ErrNotFound)
	_, err = fx.svc.PublicViewAuth(ctx, "no-such-slug", "x")
	wantErr(t, err, event.ErrNotFound)
	short := "short"
	_, err = fx.svc.UpdateView(ctx, fx.admin, v.ID, service.ViewPatch{Password: &short})
	wantDetail(t, err, "password")
}

func testMembers(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	bob, vera, mallory := service.Actor{UserID: "bob"}, service.Actor{UserID: "vera"}, service.Actor{UserID: "mallory"}
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "bob", Role: store.RoleEditor}))(t)
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "vera", Role: store.RoleViewer}))(t)
	_, err := fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "bob", Role: store.RoleViewer})
	wantErr(t, err, event.ErrConflict)
	_, err = fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "x", Role: "owner"})
	wantDetail(t, err, "role")

	ok(fx.svc.CreateRow(ctx, bob, fx.tbl.ID, fx.fields("Name", `"by bob"`), 0))(t)
	ok(fx.svc.CreateField(ctx, bob, fx.tbl.ID, service.FieldInput{Name: "Bob's", Type: table.TypeText}))(t)
	_, err = fx.svc.CreateTable(ctx, bob, fx.ws.ID, service.TableInput{Name: "no"})
	wantErr(t, err, event.ErrForbidden)
	_, err = fx.svc.AddMember(ctx, bob, fx.ws.ID, service.MemberInput{UserID: "eve", Role: store.RoleViewer})
	wantErr(t, err, event.ErrForbidden)
	_, err = fx.svc.CreateRow(ctx, vera, fx.tbl.ID, fx.fields(), 0)
	wantErr(t, err, event.ErrForbidden)
	ok(fx.svc.ListRows(ctx, vera, fx.tbl.ID, service.ListRowsInput{}))(t)
	_, err = fx.svc.ListRows(ctx, mallory, fx.tbl.ID, service.ListRowsInput{})
	wantErr(t, err, event.ErrNotFound)
	_, err = fx.svc.GetTable(ctx, mallory, fx.tbl.ID)
	wantErr(t, err, event.ErrNotFound)
	if ws := ok(fx.svc.ListWorkspaces(ctx, mallory))(t); len(ws) != 0 {
		t.Fatalf("mallory sees %v", ws)
	}
	if ws := ok(fx.svc.ListWorkspaces(ctx, vera))(t); len(ws) != 1 || ws[0].Role != event.Role(store.RoleViewer) {
		t.Fatalf("vera sees %v", ws)
	}

	// the last admin stays
	_, err = fx.svc.UpdateMember(ctx, fx.admin, fx.ws.ID, "alice", service.MemberInput{Role: store.RoleEditor})
	wantErr(t, err, event.ErrConflict)
	wantErr(t, fx.svc.RemoveMember(ctx, fx.admin, fx.ws.ID, "alice"), event.ErrConflict)
	top := fx.top(store.WorkspaceStream(fx.ws.ID))
	ok(fx.svc.UpdateMember(ctx, fx.admin, fx.ws.ID, "bob", service.MemberInput{Role: store.RoleAdmin}))(t)
	if err := fx.svc.RemoveMember(ctx, fx.admin, fx.ws.ID, "vera"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, fx.svc.RemoveMember(ctx, fx.admin, fx.ws.ID, "vera"), event.ErrNotFound)
	evs := fx.events(store.WorkspaceStream(fx.ws.ID), top)
	if len(evs) != 2 || evs[0].Type != event.EventMemberUpdated || evs[1].Type != event.EventMemberRemoved {
		t.Fatalf("member events = %v", evs)
	}
	mu := decode[event.MemberChanged](t, evs[0])
	if mu.UserID != "bob" || mu.Role != event.Role(store.RoleAdmin) || mu.RoleBefore != event.Role(store.RoleEditor) || mu.Actor != "alice" {
		t.Errorf("member_updated = %+v", mu)
	}
	_, err = fx.svc.ListRows(ctx, vera, fx.tbl.ID, service.ListRowsInput{})
	wantErr(t, err, event.ErrNotFound)
}

func testDeleteTable(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	other := ok(fx.svc.CreateTable(ctx, fx.admin, fx.ws.ID, service.TableInput{Name: "Other"}))(t)
	if len(other.Fields) != 1 || other.Fields[0].Name != "Name" || !other.Fields[0].Primary || other.Fields[0].Type != table.TypeText {
		t.Fatalf("default fields = %+v", other.Fields)
	}
	ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	if err := fx.svc.DeleteTable(ctx, fx.admin, fx.tbl.ID); err != nil {
		t.Fatal(err)
	}
	_, err := fx.svc.GetTable(ctx, fx.admin, fx.tbl.ID)
	wantErr(t, err, event.ErrNotFound)
	evs := fx.events(fx.tableStream(), 0)
	if last := evs[len(evs)-1]; last.Type != event.EventTableDeleted || last.Offset != 2 {
		t.Fatalf("the table stream ends with %s@%d", last.Type, last.Offset)
	}
	wevs := fx.events(store.WorkspaceStream(fx.ws.ID), 0)
	if last := wevs[len(wevs)-1]; last.Type != event.EventTableDeleted {
		t.Fatalf("workspace stream ends with %s", last.Type)
	}
	if err := fx.svc.DeleteWorkspace(ctx, fx.admin, fx.ws.ID); err != nil {
		t.Fatal(err)
	}
	if evs := fx.events(store.TableStream(other.ID), 0); len(evs) != 1 || evs[0].Type != event.EventTableDeleted {
		t.Fatalf("events of the other table = %v", evs)
	}
	wevs = fx.events(store.WorkspaceStream(fx.ws.ID), 0)
	wd := decode[event.WorkspaceDeleted](t, wevs[len(wevs)-1])
	if len(wd.TableIDs) != 1 || wd.TableIDs[0] != other.ID {
		t.Fatalf("workspace_deleted = %+v", wd)
	}
	if ws := ok(fx.svc.ListWorkspaces(ctx, fx.admin))(t); len(ws) != 0 {
		t.Fatalf("workspaces = %v", ws)
	}
}
