//lint:file-ignore SA1019 ws.ReadFrame reads frames this code built, from memory; its deprecation is about untrusted peers

package baserow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/dialect/publicview"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/table"
)

// fakeStore serves one table's definitions; fail makes TableViews fail.
type fakeStore struct {
	mu    sync.Mutex
	defs  TableViews
	fail  error
	reads int
}

func (s *fakeStore) TableAccess(context.Context, string, int64) error      { return nil }
func (s *fakeStore) RowAccess(context.Context, string, int64, int64) error { return nil }
func (s *fakeStore) OpenPublicView(context.Context, string, string) (PublicView, error) {
	return PublicView{}, event.ErrNotFound
}

func (s *fakeStore) UserWorkspaces(context.Context, string) ([]int64, error) { return nil, nil }

func (s *fakeStore) TableViews(context.Context, int64) (TableViews, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.defs, s.fail
}

func (s *fakeStore) set(f func(tv *TableViews)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.defs)
}

// The test table 1: Name (primary text, 10), Status (text, 11), Secret
// (text, 12, hidden in the view). View 5, "open" rows only.
const (
	fName, fStatus, fSecret = 10, 11, 12
	testView                = 5
)

func testDefs(offset uint64) TableViews {
	return TableViews{
		Fields: []table.Field{
			{ID: fName, TableID: 1, Name: "Name", Type: table.TypeText, Primary: true, Order: 1},
			{ID: fStatus, TableID: 1, Name: "Status", Type: table.TypeText, Order: 2},
			{ID: fSecret, TableID: 1, Name: "Secret", Type: table.TypeText, Order: 3},
		},
		Views: []table.View{{ID: testView, TableID: 1, Name: "open", Type: "grid", FilterType: "AND", Public: true, Slug: "slug5",
			Filters:        []table.Filter{{FieldID: fStatus, Type: "equal", Value: "open"}},
			HiddenFieldIDs: []int64{fSecret}}},
		Offset: offset,
	}
}

func newTestRenderer(t *testing.T, st *fakeStore) *Renderer {
	t.Helper()
	r, err := NewRenderer(RendererConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func row(id int64, name, status, secret string) event.Row {
	q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	return event.Row{ID: id, Order: "1.00000000000000000000", Version: 1,
		Fields: table.Values{fName: q(name), fStatus: q(status), fSecret: q(secret)}}
}

func pub(t testing.TB, offset uint64, typ string, payload any) *hub.Publication {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return &hub.Publication{Kind: hub.KindEvent, Stream: "table:1", Offset: offset, Epoch: "e", Event: typ, Data: b, Time: time.Now()}
}

var meta = event.TableMeta{TableID: 1, WorkspaceID: 9, Actor: "u"}

// messages splits an output's frames into their JSON payloads.
func messages(t *testing.T, frame []byte) []string {
	t.Helper()
	var out []string
	r := bytes.NewReader(frame)
	for r.Len() > 0 {
		f, err := ws.ReadFrame(r)
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		out = append(out, string(f.Payload))
	}
	return out
}

func TestRenderNothingWithoutPages(t *testing.T) {
	st := &fakeStore{defs: testDefs(0)}
	r := newTestRenderer(t, st)
	// Not even decoded: junk goes through when nobody here watches table 1.
	p := &hub.Publication{Kind: hub.KindEvent, Stream: "table:1", Offset: 1, Event: event.EventRowsCreated, Data: []byte("junk")}
	if outs, err := r.RenderEvent(p); err != nil || outs != nil {
		t.Fatalf("RenderEvent = %v, %v; want nothing", outs, err)
	}
	r.hold(&page{typ: tablePage{}, tableID: 2})
	if outs, err := r.RenderEvent(p); err != nil || outs != nil {
		t.Fatalf("another table's page: %v, %v; want nothing", outs, err)
	}
	if st.reads != 0 {
		t.Fatalf("%d store reads", st.reads)
	}
}

func TestRenderPages(t *testing.T) {
	st := &fakeStore{defs: testDefs(0)}
	r := newTestRenderer(t, st)
	tp := &page{typ: tablePage{}, tableID: 1}
	rp := &page{typ: rowPage{}, tableID: 1, rowID: 2}
	vp := &page{typ: viewPage{}, tableID: 1, viewID: testView, slug: "slug5"}
	for _, p := range []*page{tp, rp, vp, vp} {
		r.hold(p)
	}
	before := []event.Row{row(1, "a", "open", "s1"), row(2, "b", "closed", "s2"), row(3, "c", "open", "s3")}
	after := []event.Row{row(1, "a2", "open", "s1"), row(2, "b", "open", "s2x"), row(3, "c", "closed", "s3")}
	outs, err := r.RenderEvent(pub(t, 1, event.EventRowsUpdated, event.RowsUpdated{TableMeta: meta,
		Rows: after, RowsBefore: before, UpdatedFieldIDs: []int64{fName, fStatus, fSecret}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 {
		t.Fatalf("%d outputs; want view, table (a row page gets no row events)", len(outs))
	}
	// The view's projection: row 3 left, row 1 changed, row 2 entered; no
	// Secret anywhere.
	if o := outs[0]; o.Collection != "br/view/1" || o.Document != "5" {
		t.Fatalf("first output %s.%s", o.Collection, o.Document)
	}
	view := messages(t, outs[0].Frame)
	want := []string{
		`{"type":"rows_deleted","table_id":0,"row_ids":[3],"rows":[{"id":3,"order":"1.00000000000000000000","field_10":"c","field_11":"open"}],"_event_id":1}`,
		`{"type":"rows_updated","table_id":0,"rows_before_update":[{"id":1,"order":"1.00000000000000000000","field_10":"a","field_11":"open"}],"rows":[{"id":1,"order":"1.00000000000000000000","field_10":"a2","field_11":"open"}],"metadata":{},"updated_field_ids":[10,11],"_event_id":1}`,
		`{"type":"rows_created","table_id":0,"rows":[{"id":2,"order":"1.00000000000000000000","field_10":"b","field_11":"open"}],"metadata":{},"before_row_id":null,"_event_id":1}`,
	}
	if strings.Join(view, "\n") != strings.Join(want, "\n") {
		t.Fatalf("view frames:\n%s\nwant:\n%s", strings.Join(view, "\n"), strings.Join(want, "\n"))
	}
	// The table page: everything, Secret included.
	if o := outs[1]; o.Collection != "br/table/1" || o.Document != "" || !strings.Contains(string(o.Frame), `"field_12":"s2x"`) {
		t.Fatalf("table output %s.%s %q", o.Collection, o.Document, o.Frame)
	}
	if n := r.Projections(); n != 1 {
		t.Fatalf("%d projections for one event on one view with two pages; want 1", n)
	}

	// Released pages are no longer rendered; the view's definitions go
	// with its last page.
	for _, p := range []*page{tp, rp, vp, vp} {
		r.release(p)
	}
	if outs, _ := r.RenderEvent(pub(t, 2, event.EventRowsCreated, event.RowsCreated{TableMeta: meta, Rows: after})); outs != nil {
		t.Fatalf("after release: %d outputs", len(outs))
	}
	left := r.defs.Held()
	if left != 0 {
		t.Fatalf("%d tables' definitions kept with no table or view page", left)
	}
}

// TestDefinitionsFollowTheStream: definitions are read once, kept while
// row events pass, read again after a view or field event, and read again
// before projecting an event past the offset they reflect (a replay ahead
// of the delivery path).
func TestDefinitionsFollowTheStream(t *testing.T) {
	st := &fakeStore{defs: testDefs(10)}
	r := newTestRenderer(t, st)
	r.hold(&page{typ: viewPage{}, tableID: 1, viewID: testView, slug: "slug5"})
	created := func(off uint64, status string) []string {
		outs, err := r.RenderEvent(pub(t, off, event.EventRowsCreated, event.RowsCreated{TableMeta: meta,
			Rows: []event.Row{row(int64(off), "n", status, "s")}}))
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, o := range outs {
			all = append(all, messages(t, o.Frame)...)
		}
		return all
	}
	for off := uint64(11); off <= 13; off++ {
		if got := created(off, "open"); len(got) != 1 {
			t.Fatalf("event %d: %q", off, got)
		}
	}
	if st.reads != 1 {
		t.Fatalf("%d reads for 3 row events; want 1", st.reads)
	}
	// The view now shows closed rows: the view_updated at 14 says so.
	st.set(func(tv *TableViews) {
		tv.Views[0].Filters[0].Value = "closed"
		tv.Offset = 14
	})
	before, after := testDefs(0).Views[0], testDefs(0).Views[0]
	after.Filters = []table.Filter{{FieldID: fStatus, Type: "equal", Value: "closed"}}
	got, _ := r.RenderEvent(pub(t, 14, event.EventViewUpdated, event.ViewUpdated{TableMeta: meta, View: after, ViewBefore: before}))
	if len(got) != 1 || !strings.Contains(string(got[0].Frame), `{"type":"force_view_rows_refresh","view_id":"slug5","_event_id":14}`) {
		t.Fatalf("view_updated: %+v", got)
	}
	if got := created(15, "closed"); len(got) != 1 || st.reads != 2 {
		t.Fatalf("after the view changed: %q, %d reads", got, st.reads)
	}
	// A replay far ahead reads again (the definitions reflect 15).
	st.set(func(tv *TableViews) { tv.Offset = 40 })
	created(30, "closed")
	if st.reads != 3 {
		t.Fatalf("%d reads; want a read for an event past the definitions", st.reads)
	}
	// The past is projected with the definitions of now, without reading.
	created(16, "closed")
	if st.reads != 3 {
		t.Fatalf("%d reads for an event of the past", st.reads)
	}
}

// TestStoreFailureRefreshesViews: without the definitions the watched
// views are told to refetch their rows, rather than missing the event
// (force_view_refresh would need the view and its fields).
func TestStoreFailureRefreshesViews(t *testing.T) {
	st := &fakeStore{fail: errors.New("database gone")}
	r := newTestRenderer(t, st)
	r.hold(&page{typ: viewPage{}, tableID: 1, viewID: testView, slug: "slug5"})
	r.hold(&page{typ: tablePage{}, tableID: 1})
	outs, err := r.RenderEvent(pub(t, 1, event.EventRowsCreated, event.RowsCreated{TableMeta: meta, Rows: []event.Row{row(1, "a", "open", "s")}}))
	if err != nil || len(outs) != 2 {
		t.Fatalf("%d outputs, %v", len(outs), err)
	}
	if got := messages(t, outs[0].Frame); len(got) != 1 || got[0] != `{"type":"force_view_rows_refresh","view_id":"slug5","_event_id":1}` {
		t.Fatalf("view output %q", got)
	}
}

func TestRenderUserMessage(t *testing.T) {
	r := newTestRenderer(t, &fakeStore{})
	for data, want := range map[string]string{
		`{"type":"notification_created","id":3}`: `{"type":"notification_created","id":3}`,
		`{"hello":1}`:                            `{"type":"message","data":{"hello":1}}`,
		`"text"`:                                 `{"type":"message","data":"text"}`,
	} {
		b, err := r.Render(&hub.Publication{Kind: hub.KindUser, Data: json.RawMessage(data)})
		if err != nil {
			t.Fatal(err)
		}
		if got := messages(t, b); len(got) != 1 || got[0] != want {
			t.Errorf("%s rendered %q; want %s", data, got, want)
		}
	}
	if _, err := r.Render(&hub.Publication{Kind: hub.KindMessage}); err == nil {
		t.Error("an app channel message was rendered")
	}
}

// TestViewChangeFrames: a view's update becomes Baserow's messages for
// what changed; filter ids follow the filter's place.
func TestViewChangeFrames(t *testing.T) {
	base := table.View{ID: 7, TableID: 1, Name: "v", Type: "grid", FilterType: "AND",
		Filters: []table.Filter{{FieldID: fName, Type: "equal", Value: "a"}, {FieldID: fStatus, Type: "equal", Value: "b"}},
		Sorts:   []table.Sort{{FieldID: fName, Order: "asc"}}}
	fields := testDefs(0)
	defs, _ := publicview.Compile(fields)
	types := func(before, after table.View) []string {
		t.Helper()
		ev := &tableEvent{p: &hub.Publication{Offset: 3}, tableID: 1}
		frames, err := ev.viewChangeFrames(before, after, defs.Fields)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range messages(t, frames) {
			var head struct {
				Type     string `json:"type"`
				FilterID int64  `json:"view_filter_id"`
				SortID   int64  `json:"view_sort_id"`
			}
			_ = json.Unmarshal([]byte(m), &head)
			out = append(out, fmt.Sprintf("%s/%d", head.Type, head.FilterID+head.SortID))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		change func(v *table.View)
		want   []string
	}{
		{"nothing", func(*table.View) {}, []string{"view_updated/0"}},
		{"rename", func(v *table.View) { v.Name = "w" }, []string{"view_updated/0"}},
		{"first filter removed", func(v *table.View) { v.Filters = v.Filters[1:] },
			[]string{"view_filter_updated/7001", "view_filter_deleted/7002"}},
		{"filter added", func(v *table.View) {
			v.Filters = append(slices.Clone(v.Filters), table.Filter{FieldID: fSecret, Type: "empty"})
		}, []string{"view_filter_created/0"}},
		{"sort flipped, rename", func(v *table.View) {
			v.Sorts = []table.Sort{{FieldID: fName, Order: "desc"}}
			v.Name = "w"
		}, []string{"view_updated/0", "view_sort_updated/7001"}},
		{"sorts cleared", func(v *table.View) { v.Sorts = nil }, []string{"view_sort_deleted/7001"}},
		{"hidden", func(v *table.View) { v.HiddenFieldIDs = []int64{fSecret} }, []string{"view_field_options_updated/0"}},
	} {
		after := *base.Clone()
		tc.change(&after)
		if got := types(base, after); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}

// Number cells are JSON numbers in events; Baserow receives them as decimal
// strings with their field's places, as Baserow sends numbers.
func TestRenderNumbersAsBaserowStrings(t *testing.T) {
	r := newTestRenderer(t, &fakeStore{defs: testDefs(0)})
	tp := &page{typ: tablePage{}, tableID: 1}
	r.hold(tp)
	defer r.release(tp)
	const price, count, choice = 20, 21, 22
	rows := []event.Row{{ID: 1, Order: "1.00000000000000000000", Version: 1, Fields: table.Values{
		price: json.RawMessage(`2.5`), count: json.RawMessage(`-3`), choice: json.RawMessage(`7`),
	}}, {ID: 2, Order: "2.00000000000000000000", Version: 1, Fields: table.Values{
		price: json.RawMessage(`null`), count: json.RawMessage(`0.0000001`), choice: json.RawMessage(`null`),
	}}}
	outs, err := r.RenderEvent(pub(t, 1, event.EventRowsCreated, event.RowsCreated{TableMeta: meta, Rows: rows,
		Decimals: event.Decimals{price: 2, count: 7}}))
	if err != nil || len(outs) != 1 {
		t.Fatalf("RenderEvent = %d outputs, %v", len(outs), err)
	}
	got := messages(t, outs[0].Frame)[0]
	for _, want := range []string{`"field_20":"2.50","field_21":"-3.0000000","field_22":7}`,
		`"field_20":null,"field_21":"0.0000001","field_22":null}`} {
		if !strings.Contains(got, want) {
			t.Errorf("rows_created %s\nlacks %s", got, want)
		}
	}
}
