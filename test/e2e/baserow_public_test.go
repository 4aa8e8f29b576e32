package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// restView is a view as the REST API answers it.
type restView struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
}

// publicView creates a public view of the fixture's table; body adds to
// or overrides {"name":"public","public":true}.
func (f *brFixture) publicView(t *testing.T, body map[string]any) restView {
	t.Helper()
	b := map[string]any{"name": "public", "public": true}
	for k, v := range body {
		b[k] = v
	}
	var v restView
	f.tn.restAs(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", f.tbl), b, "", &v)
	return v
}

func (f *brFixture) patchView(t *testing.T, id int64, body map[string]any) {
	t.Helper()
	f.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/views/%d", id), body, "", &struct{}{})
}

// viewToken asks POST /api/views/{slug}/public/auth for a token.
func (tn *testNode) viewToken(t *testing.T, slug, password string) (string, int) {
	t.Helper()
	status, body, _ := tn.adminRaw(t, http.MethodPost, "/api/views/"+slug+"/public/auth", "", mustJSON(t, map[string]any{"password": password}))
	if status != 200 {
		return "", status
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("public auth answer %s: %v", body, err)
	}
	return tok.AccessToken, status
}

// openFilter is the fixture's public view: Status equal "open", Secret
// hidden.
func (f *brFixture) openFilter() map[string]any {
	return map[string]any{
		"filters":          []any{map[string]any{"field_id": f.status, "type": "equal", "value": "open"}},
		"hidden_field_ids": []int64{f.secret},
	}
}

// visibleShape is a row with only the fixture view's visible fields.
func (f *brFixture) visibleShape(r restRow) map[string]any {
	s := r.shape()
	delete(s, fieldKey(f.secret))
	return s
}

// TestBaserowViewPage: a public view's page is for anyone, anonymous
// sockets included; only a public view can be added.
func TestBaserowViewPage(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		private := f.publicView(t, map[string]any{"public": false})
		anon := tn.brAnon(t)
		m := anon.addPage("view", map[string]any{"slug": v.Slug})
		if !jsonEqual(t, m.M["parameters"], map[string]any{"slug": v.Slug, "token": nil}) {
			t.Fatalf("page_add %s", m)
		}
		tn.brUser(t, "stranger").addPage("view", map[string]any{"slug": v.Slug})
		anon.addPageFails("view", map[string]any{"slug": "no-such-slug"}, "not_found")
		if private.Slug != "" {
			anon.addPageFails("view", map[string]any{"slug": private.Slug}, "not_found")
		}
	})
}

// TestBaserowPublicViewProjection: the view's sockets receive its
// projection: only rows its filter matches, only its visible fields, rows
// moving in and out of the filter as rows_created and rows_deleted,
// table_id 0 and metadata {}.
func TestBaserowPublicViewProjection(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		anon, user := tn.brAnon(t), tn.brUser(t, "stranger")
		anon.addPage("view", map[string]any{"slug": v.Slug})
		user.addPage("view", map[string]any{"slug": v.Slug})
		secret := `"` + fieldKey(f.secret) + `"`
		run := subtests(t, anon, user)
		expect := func(t *testing.T, typ string, want map[string]any) {
			t.Helper()
			for _, c := range []*brConn{anon, user} {
				m := f.expectEvent(t, c, typ, want)
				if strings.Contains(m.String(), secret) || strings.Contains(m.String(), "top secret") {
					t.Fatalf("a hidden field reached a public view socket: %s", m)
				}
			}
		}
		var open restRow
		run("a row created in the filter", func(t *testing.T) {
			f.createRow(t, map[int64]any{f.name: "closed one", f.status: "closed", f.secret: "top secret"}, "")
			open = f.createRow(t, map[int64]any{f.name: "open one", f.status: "open", f.secret: "top secret", f.amount: "3"}, "")
			// The closed row came first and is not there.
			expect(t, "rows_created", map[string]any{"table_id": 0, "rows": []any{f.visibleShape(open)},
				"metadata": map[string]any{}, "before_row_id": nil})
		})
		run("a visible field changed", func(t *testing.T) {
			f.patchRow(t, open.ID, map[int64]any{f.secret: "top secret 2"}, "") // hidden only: nothing
			after := f.patchRow(t, open.ID, map[int64]any{f.amount: "4", f.secret: "top secret 3"}, "")
			expect(t, "rows_updated", map[string]any{"table_id": 0, "rows_before_update": []any{f.visibleShape(open)},
				"rows": []any{f.visibleShape(after)}, "metadata": map[string]any{}, "updated_field_ids": []int64{f.amount}})
			open = after
		})
		run("a row leaving the filter is deleted", func(t *testing.T) {
			after := f.patchRow(t, open.ID, map[int64]any{f.status: "closed"}, "")
			expect(t, "rows_deleted", map[string]any{"table_id": 0, "row_ids": []int64{open.ID}, "rows": []any{f.visibleShape(open)}})
			open = after
		})
		run("a row entering the filter is created", func(t *testing.T) {
			after := f.patchRow(t, open.ID, map[int64]any{f.status: "open"}, "")
			expect(t, "rows_created", map[string]any{"table_id": 0, "rows": []any{f.visibleShape(after)},
				"metadata": map[string]any{}, "before_row_id": nil})
			open = after
		})
		run("a row in the filter deleted", func(t *testing.T) {
			f.deleteRow(t, open.ID)
			expect(t, "rows_deleted", map[string]any{"table_id": 0, "row_ids": []int64{open.ID}, "rows": []any{f.visibleShape(open)}})
		})
		anon.sync()
		user.sync()
	})
}

// TestBaserowPublicViewRefresh: a change of the view's filters or sorts
// sends force_view_rows_refresh, of the view itself or of a field it shows
// force_view_refresh, both naming the view by its slug; a change that
// does not concern the view sends nothing.
func TestBaserowPublicViewRefresh(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		v := f.publicView(t, f.openFilter())
		c := tn.brAnon(t)
		c.addPage("view", map[string]any{"slug": v.Slug})
		tests := []struct {
			name   string
			change func(t *testing.T)
			want   string // "": nothing
		}{
			{"filters", func(t *testing.T) {
				f.patchView(t, v.ID, map[string]any{"filters": []any{map[string]any{"field_id": f.status, "type": "contains", "value": "op"}}})
			}, "force_view_rows_refresh"},
			{"filter type", func(t *testing.T) { f.patchView(t, v.ID, map[string]any{"filter_type": "OR"}) }, "force_view_rows_refresh"},
			{"sorts", func(t *testing.T) {
				f.patchView(t, v.ID, map[string]any{"sorts": []any{map[string]any{"field_id": f.amount, "order": "desc"}}})
			}, "force_view_rows_refresh"},
			{"view name", func(t *testing.T) { f.patchView(t, v.ID, map[string]any{"name": "renamed"}) }, "force_view_refresh"},
			{"hidden fields", func(t *testing.T) {
				f.patchView(t, v.ID, map[string]any{"hidden_field_ids": []int64{f.secret, f.amount}})
			}, "force_view_refresh"},
			{"a visible field renamed", func(t *testing.T) {
				f.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", f.name), map[string]any{"name": "Title"}, "", &struct{}{})
			}, "force_view_refresh"},
			{"a field created", func(t *testing.T) { f.field(t, map[string]any{"name": "New", "type": "boolean"}) }, "force_view_refresh"},
			{"a hidden field renamed", func(t *testing.T) {
				f.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", f.secret), map[string]any{"name": "Hush"}, "", &struct{}{})
			}, ""},
			{"a hidden field the sorts read renamed", func(t *testing.T) {
				f.tn.restAs(t, "owner", "PATCH", fmt.Sprintf("/api/fields/%d", f.amount), map[string]any{"name": "Sum"}, "", &struct{}{})
			}, "force_view_rows_refresh"},
			{"another view changed", func(t *testing.T) {
				other := f.publicView(t, map[string]any{"name": "other"})
				f.patchView(t, other.ID, map[string]any{"name": "other 2"})
			}, ""},
			{"a visible field deleted", func(t *testing.T) {
				f.tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/fields/%d", f.status), nil, "", nil)
			}, "force_view_refresh"},
		}
		run := subtests(t, c)
		for i, tt := range tests {
			run(tt.name, func(t *testing.T) {
				tt.change(t)
				want := tt.want
				if want == "" {
					// Nothing for this change: the next message is the
					// marker's (events come in the table's order).
					f.patchView(t, v.ID, map[string]any{"name": "marker " + strconv.Itoa(i)})
					want = "force_view_refresh"
				}
				m := c.expect(want)
				if string(m.M["view_id"]) != strconv.Quote(v.Slug) || m.eventID(t) != f.top(t) {
					t.Fatalf("%s; want view_id %q and _event_id %d", m, v.Slug, f.top(t))
				}
			})
		}
		// Nothing else came: a row created in the view's filter is next.
		r := f.createRow(t, map[int64]any{f.name: "last"}, "")
		m := c.expect("rows_created")
		if !strings.Contains(m.String(), fmt.Sprintf(`"id":%d`, r.ID)) {
			t.Fatalf("got %s", m)
		}
	})
}

// TestBaserowPublicViewEnds: a view made private, given a new password or
// deleted, and a deleted table, discard every page of the view.
func TestBaserowPublicViewEnds(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		f := newBrFixture(t, tn)
		tests := []struct {
			name string
			end  func(t *testing.T, v restView)
		}{
			{"made private", func(t *testing.T, v restView) { f.patchView(t, v.ID, map[string]any{"public": false}) }},
			{"given a password", func(t *testing.T, v restView) { f.patchView(t, v.ID, map[string]any{"password": "sesame-street"}) }},
			{"deleted", func(t *testing.T, v restView) {
				tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/views/%d", v.ID), nil, "", nil)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := f.publicView(t, map[string]any{})
				a, b := tn.brAnon(t), tn.brUser(t, "owner")
				a.addPage("view", map[string]any{"slug": v.Slug})
				b.addPage("view", map[string]any{"slug": v.Slug})
				b.tablePage(f.tbl)
				tt.end(t, v)
				for _, c := range []*brConn{a, b} {
					if c == b {
						b.expect("view_" + map[bool]string{true: "deleted", false: "updated"}[tt.name == "deleted"])
					}
					m := c.expect("page_discard")
					if string(m.M["page"]) != `"view"` || !jsonEqual(t, m.M["parameters"], map[string]any{"slug": v.Slug, "token": nil}) {
						t.Fatalf("got %s", m)
					}
				}
				// Nothing of the view comes any more: the table page's next
				// event is the only message.
				r := f.createRow(t, map[int64]any{f.name: "after"}, "")
				if m := b.expect("rows_created"); string(m.M["table_id"]) != strconv.FormatInt(f.tbl, 10) ||
					!strings.Contains(m.String(), fmt.Sprintf(`"id":%d`, r.ID)) {
					t.Fatalf("got %s", m)
				}
				b.sync()
				a.sync()
				a.addPageFails("view", map[string]any{"slug": v.Slug}, map[bool]string{true: "forbidden", false: "not_found"}[tt.name == "given a password"])
			})
		}
		t.Run("table deleted", func(t *testing.T) {
			v := f.publicView(t, map[string]any{})
			a := tn.brAnon(t)
			a.addPage("view", map[string]any{"slug": v.Slug})
			tn.restAs(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d", f.tbl), nil, "", nil)
			a.expect("page_discard")
			a.sync()
		})
	})
}

// TestBaserowPublicViewPassword: a view with a password needs the token
// of POST /api/views/{slug}/public/auth; a wrong or missing one is refused.
func TestBaserowPublicViewPassword(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newBrFixture(t, tn)
	v := f.publicView(t, map[string]any{"password": "correct horse"})
	if _, status := tn.viewToken(t, v.Slug, "wrong horse"); status != 401 {
		t.Fatalf("wrong password: %d; want 401", status)
	}
	token, _ := tn.viewToken(t, v.Slug, "correct horse")
	other := f.publicView(t, map[string]any{"password": "another one"})
	otherToken, _ := tn.viewToken(t, other.Slug, "another one")

	c := tn.brAnon(t)
	c.addPageFails("view", map[string]any{"slug": v.Slug}, "forbidden")
	c.addPageFails("view", map[string]any{"slug": v.Slug, "token": "forged.token"}, "forbidden")
	c.addPageFails("view", map[string]any{"slug": v.Slug, "token": otherToken}, "forbidden")
	m := c.addPage("view", map[string]any{"slug": v.Slug, "token": token})
	if !jsonEqual(t, m.M["parameters"], map[string]any{"slug": v.Slug, "token": token}) {
		t.Fatalf("page_add %s", m)
	}
	r := f.createRow(t, map[int64]any{f.name: "seen"}, "")
	if m := c.expect("rows_created"); !strings.Contains(m.String(), fmt.Sprintf(`"id":%d`, r.ID)) {
		t.Fatalf("got %s", m)
	}
	// A new password voids the token: the page ends, the old token no
	// longer adds it, a new one does.
	f.patchView(t, v.ID, map[string]any{"password": "battery staple"})
	c.expect("page_discard")
	c.addPageFails("view", map[string]any{"slug": v.Slug, "token": token}, "forbidden")
	fresh, _ := tn.viewToken(t, v.Slug, "battery staple")
	c.addPage("view", map[string]any{"slug": v.Slug, "token": fresh})
	// A change that keeps the password keeps the page.
	f.patchView(t, v.ID, map[string]any{"name": "renamed"})
	c.expect("force_view_refresh")
	c.sync()
}

// TestBaserowProjectionOncePerView: the projection is computed once per
// view per event, whatever the number of sockets on the view
// (tablecast_baserow_view_projections_total).
func TestBaserowProjectionOncePerView(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newBrFixture(t, tn)
	v1 := f.publicView(t, f.openFilter())
	v2 := f.publicView(t, map[string]any{"name": "all"})
	var socks []*brConn
	for i := 0; i < 5; i++ {
		c := tn.brAnon(t)
		c.addPage("view", map[string]any{"slug": v1.Slug})
		if i < 2 {
			c.addPage("view", map[string]any{"slug": v2.Slug})
		}
		socks = append(socks, c)
	}
	before := metricValue(tn.metricsText(t), "tablecast_baserow_view_projections_total")
	const writes = 4
	for i := range writes {
		f.createRow(t, map[int64]any{f.name: "r" + strconv.Itoa(i), f.status: "open"}, "")
	}
	for i, c := range socks {
		n := writes
		if i < 2 {
			n *= 2
		}
		for range n {
			c.expect("rows_created")
		}
	}
	after := metricValue(tn.metricsText(t), "tablecast_baserow_view_projections_total")
	if got := after - before; got != 2*writes {
		t.Fatalf("%v projections for %d events on 2 views with 5 and 2 sockets; want %d", got, writes, 2*writes)
	}
}
