//lint:file-ignore SA1019 ws.ReadFrame reads frames this code built, from memory; its deprecation is about untrusted peers

package native

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/table"
)

// wantOp is one `op` message RenderEvent must produce.
type wantOp struct {
	col, doc string
	// v is data.v; noV says it must be absent (an event from before
	// versions existed).
	v   int64
	noV bool
	// Exactly one of create, op (the json0 components) and del.
	create any
	op     []comp
	raw    string // op as JSON, for the forms comp does not have
	del    bool
}

// comp is one json0 component of the forms events produce.
type comp struct {
	P  []any           `json:"p"`
	OD json.RawMessage `json:"od,omitempty"`
	OI json.RawMessage `json:"oi,omitempty"`
}

// set is the component replacing member key of a document.
func set(key, od, oi string) comp {
	c := comp{P: []any{key}}
	if od != "" {
		c.OD = json.RawMessage(od)
	}
	if oi != "" {
		c.OI = json.RawMessage(oi)
	}
	return c
}

// docOf is a field's, view's or table's document data: its JSON without
// "version".
func docOf(t *testing.T, v any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mj(t, v), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "version")
	return mj(t, m)
}

func mj(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON compares two JSON texts by meaning.
func sameJSON(t *testing.T, got, want json.RawMessage) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// opFrame is an `op` message as a client reads it.
type opFrame struct {
	Type       string  `json:"type"`
	Collection string  `json:"collection"`
	Document   string  `json:"document"`
	Offset     *uint64 `json:"offset"`
	Timestamp  string  `json:"timestamp"`
	Data       struct {
		V      *int64          `json:"v"`
		Op     json.RawMessage `json:"op"`
		Create json.RawMessage `json:"create"`
		Del    *bool           `json:"del"`
		Source string          `json:"source"`
		UserID string          `json:"user_id"`
	} `json:"data"`
}

func readFrame(t *testing.T, b []byte) opFrame {
	t.Helper()
	f, err := ws.ReadFrame(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a WebSocket frame: %v", err)
	}
	if f.Header.OpCode != ws.OpText || !f.Header.Fin || f.Header.Masked {
		t.Fatalf("frame header %+v, want one unmasked text frame", f.Header)
	}
	var m opFrame
	if err := json.Unmarshal(f.Payload, &m); err != nil {
		t.Fatalf("frame %s: %v", f.Payload, err)
	}
	return m
}

func TestRenderStoreEvents(t *testing.T) {
	const tableID, wsID = 12, 3
	meta := event.TableMeta{TableID: tableID, WorkspaceID: wsID, Actor: "alice", Origin: "c_sock"}
	rec, fld, vw, tbl := "record_12", "field_12", "view_12", "table_3"
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

	name := table.Field{ID: 7, TableID: tableID, Name: "Name", Type: table.TypeText, Primary: true, Order: 1, Version: 1}
	price := table.Field{ID: 8, TableID: tableID, Name: "Price", Type: table.TypeNumber, Order: 2,
		Options: table.FieldOptions{Decimals: 2}, Version: 1}
	row := func(id, version int64, fields table.Values) event.Row {
		return event.Row{ID: id, Order: "1.00000000000000000000", Version: version, Fields: fields,
			CreatedAt: at, UpdatedAt: at}
	}
	grid := table.View{ID: 4, TableID: tableID, Name: "Grid", Type: table.ViewGrid, FilterType: table.FilterAnd,
		Filters: []table.Filter{{FieldID: 8, Type: "lower_than", Value: "10"}}, Sorts: []table.Sort{},
		HiddenFieldIDs: []int64{8}, Version: 1}
	with := func(v table.View, version int64, change func(*table.View)) table.View {
		c := *v.Clone()
		c.Version = version
		if change != nil {
			change(&c)
		}
		return c
	}
	withField := func(f table.Field, version int64, change func(*table.Field)) table.Field {
		c := *f.Clone()
		c.Version = version
		if change != nil {
			change(&c)
		}
		return c
	}
	tab := event.Table{ID: tableID, WorkspaceID: wsID, Name: "Tasks", Order: 1, CreatedAt: at, Version: 1}
	tabV := func(version int64, name string) event.Table {
		c := tab
		c.Version, c.Name = version, name
		return c
	}

	// field_updated: Price renamed (3 -> 4); the former primary field steps
	// down (5 -> 6, as related_fields); the view filtering on Price is
	// rewritten (1 -> 2).
	priceBefore := withField(price, 3, nil)
	priceAfter := withField(price, 4, func(f *table.Field) { f.Name = "Cost"; f.Primary = true })
	nameBefore := withField(name, 5, nil)
	nameAfter := withField(name, 6, func(f *table.Field) { f.Primary = false })
	gridBefore := with(grid, 1, nil)
	gridAfter := with(grid, 2, func(v *table.View) { v.Filters = []table.Filter{} })
	gridNoHidden := with(grid, 3, func(v *table.View) { v.Filters, v.HiddenFieldIDs = []table.Filter{}, []int64{} })

	tests := []struct {
		name    string
		event   string
		payload any
		want    []wantOp
		// tableStream: the event as it goes to the table's own stream
		// (table events go to the workspace's by default).
		tableStream bool
	}{
		{
			name: "rows_created", event: event.EventRowsCreated,
			payload: event.RowsCreated{TableMeta: meta, Rows: []event.Row{
				row(30, 1, table.Values{7: json.RawMessage(`"a"`)}), row(31, 1, table.Values{7: json.RawMessage(`"b"`)}),
			}},
			want: []wantOp{
				{col: rec, doc: "30", v: 0, create: event.RecordDoc{ID: 30, Order: "1.00000000000000000000", Fields: table.Values{7: json.RawMessage(`"a"`)}}},
				{col: rec, doc: "31", v: 0, create: event.RecordDoc{ID: 31, Order: "1.00000000000000000000", Fields: table.Values{7: json.RawMessage(`"b"`)}}},
			},
		},
		{
			name: "rows_updated", event: event.EventRowsUpdated,
			payload: event.RowsUpdated{TableMeta: meta,
				Rows: []event.Row{
					row(30, 3, table.Values{7: json.RawMessage(`"A"`), 8: json.RawMessage(`"1.00"`)}),
					row(31, 2, table.Values{7: json.RawMessage(`"b"`)}), // the value given was the one it had
				},
				RowsBefore: []event.Row{
					row(30, 2, table.Values{7: json.RawMessage(`"a"`), 8: json.RawMessage(`"1.00"`)}),
					row(31, 1, table.Values{7: json.RawMessage(`"b"`)}),
				},
				UpdatedFieldIDs: []int64{7, 8},
			},
			want: []wantOp{
				{col: rec, doc: "30", v: 2, op: []comp{{P: []any{"fields", "7"}, OD: json.RawMessage(`"a"`), OI: json.RawMessage(`"A"`)}}},
				// The version moved with nothing visible changed: an empty op
				// keeps the clients' versions in step.
				{col: rec, doc: "31", v: 1, op: []comp{}},
			},
		},
		{
			name: "rows_updated by a submit", event: event.EventRowsUpdated,
			payload: event.RowsUpdated{TableMeta: meta,
				Rows:            []event.Row{row(30, 3, table.Values{7: json.RawMessage(`"ab"`)})},
				RowsBefore:      []event.Row{row(30, 2, table.Values{7: json.RawMessage(`"a"`)})},
				UpdatedFieldIDs: []int64{7},
				Op:              json.RawMessage(`[{"p":["fields","7",1],"si":"b"}]`),
			},
			want: []wantOp{{col: rec, doc: "30", v: 2, raw: `[{"p":["fields","7",1],"si":"b"}]`}},
		},
		{
			name: "rows_deleted", event: event.EventRowsDeleted,
			payload: event.RowsDeleted{TableMeta: meta, RowIDs: []int64{30, 31},
				Rows: []event.Row{row(30, 4, table.Values{}), row(31, 1, table.Values{})}},
			want: []wantOp{{col: rec, doc: "30", v: 4, del: true}, {col: rec, doc: "31", v: 1, del: true}},
		},
		{
			name: "field_created", event: event.EventFieldCreated,
			payload: event.FieldCreated{TableMeta: meta, Field: price},
			want:    []wantOp{{col: fld, doc: "8", v: 0, create: docOf(t, price)}},
		},
		{
			name: "field_updated with related fields and views_changed", event: event.EventFieldUpdated,
			payload: event.FieldUpdated{TableMeta: meta, Field: priceAfter, FieldBefore: priceBefore,
				RelatedFields: []table.Field{nameAfter}, RelatedBefore: []table.Field{nameBefore},
				ViewsChanged: []table.View{gridAfter}, ViewsBefore: []table.View{gridBefore}},
			want: []wantOp{
				{col: fld, doc: "8", v: 3, op: []comp{set("name", `"Price"`, `"Cost"`), set("primary", "false", "true")}},
				{col: fld, doc: "7", v: 5, op: []comp{set("primary", "true", "false")}},
				{col: vw, doc: "4", v: 1, op: []comp{set("filters", `[{"field_id":8,"type":"lower_than","value":"10"}]`, "[]")}},
			},
		},
		{
			name: "field_updated alone", event: event.EventFieldUpdated,
			payload: event.FieldUpdated{TableMeta: meta, Field: withField(price, 2, func(f *table.Field) { f.Name = "Cost" }),
				FieldBefore: price, RelatedFields: []table.Field{}, RelatedBefore: []table.Field{},
				ViewsChanged: []table.View{}, ViewsBefore: []table.View{}},
			want: []wantOp{{col: fld, doc: "8", v: 1, op: []comp{set("name", `"Price"`, `"Cost"`)}}},
		},
		{
			name: "field_deleted with views_changed", event: event.EventFieldDeleted,
			payload: event.FieldDeleted{TableMeta: meta, FieldID: 8, Field: priceBefore,
				ViewsChanged: []table.View{gridNoHidden}, ViewsBefore: []table.View{gridAfter}},
			want: []wantOp{
				{col: fld, doc: "8", v: 3, del: true},
				{col: vw, doc: "4", v: 2, op: []comp{set("hidden_field_ids", "[8]", "[]")}},
			},
		},
		{
			name: "view_created", event: event.EventViewCreated,
			payload: event.ViewCreated{TableMeta: meta, View: grid},
			want:    []wantOp{{col: vw, doc: "4", v: 0, create: docOf(t, grid)}},
		},
		{
			name: "view_updated", event: event.EventViewUpdated,
			payload: event.ViewUpdated{TableMeta: meta, View: gridAfter, ViewBefore: gridBefore},
			want:    []wantOp{{col: vw, doc: "4", v: 1, op: []comp{set("filters", `[{"field_id":8,"type":"lower_than","value":"10"}]`, "[]")}}},
		},
		{
			name: "view_deleted", event: event.EventViewDeleted,
			payload: event.ViewDeleted{TableMeta: meta, ViewID: 4, View: gridNoHidden},
			want:    []wantOp{{col: vw, doc: "4", v: 3, del: true}},
		},
		{
			name: "table_created", event: event.EventTableCreated,
			payload: event.TableCreated{TableMeta: meta, Table: tab, Fields: []table.Field{name}},
			want:    []wantOp{{col: tbl, doc: "12", v: 0, create: docOf(t, tab)}},
		},
		{
			name: "table_updated", event: event.EventTableUpdated,
			payload: event.TableUpdated{TableMeta: meta, Table: tabV(3, "Jobs"), TableBefore: tabV(2, "Tasks")},
			want:    []wantOp{{col: tbl, doc: "12", v: 2, op: []comp{set("name", `"Tasks"`, `"Jobs"`)}}},
		},
		{
			// table_updated also goes to the table's stream (for the
			// Baserow table page): table_W is rendered from the
			// workspace's stream only, so never twice.
			name: "table_updated on the table's stream renders nothing", event: event.EventTableUpdated,
			payload:     event.TableUpdated{TableMeta: meta, Table: tabV(3, "Jobs"), TableBefore: tabV(2, "Tasks")},
			tableStream: true,
		},
		{
			name: "table_deleted", event: event.EventTableDeleted,
			payload: event.TableDeleted{TableMeta: meta, Table: tabV(3, "Jobs")},
			want:    []wantOp{{col: tbl, doc: "12", v: 3, del: true}},
		},
		{
			// Events written before versions existed carry version 0: their
			// updates and deletes go out without v rather than a wrong one.
			name: "legacy view_updated without versions", event: event.EventViewUpdated,
			payload: event.ViewUpdated{TableMeta: meta, View: with(grid, 0, func(v *table.View) { v.Name = "G" }), ViewBefore: with(grid, 0, nil)},
			want:    []wantOp{{col: vw, doc: "4", noV: true, op: []comp{set("name", `"Grid"`, `"G"`)}}},
		},
		{
			name: "legacy field_deleted without versions", event: event.EventFieldDeleted,
			payload: event.FieldDeleted{TableMeta: meta, FieldID: 8, Field: withField(price, 0, nil)},
			want:    []wantOp{{col: fld, doc: "8", noV: true, del: true}},
		},
		{
			name: "member_added renders nothing", event: event.EventMemberAdded,
			payload: event.MemberChanged{WorkspaceMeta: event.WorkspaceMeta{WorkspaceID: wsID, Actor: "alice"}, UserID: "bob", Role: "editor"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := "table:12"
			if strings.HasPrefix(tc.event, "table_") && !tc.tableStream {
				stream = "workspace:3"
			}
			p := &hub.Publication{Kind: hub.KindEvent, Stream: stream, Offset: 41, Event: tc.event,
				Author: hub.Author{UserID: "alice", ConnID: "c_sock"}, // as tablestream.Publication reads them from the payload
				Data:   mj(t, tc.payload), Time: at}
			outs, err := renderer{}.RenderEvent(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != len(tc.want) {
				t.Fatalf("%d outputs, want %d", len(outs), len(tc.want))
			}
			for i, w := range tc.want {
				o := outs[i]
				if o.Collection != w.col || o.Document != w.doc {
					t.Errorf("output %d is %s.%s, want %s.%s", i, o.Collection, o.Document, w.col, w.doc)
				}
				m := readFrame(t, o.Frame)
				if m.Type != TypeOp || m.Collection != w.col || m.Document != w.doc || m.Offset == nil || *m.Offset != 41 ||
					m.Timestamp != "2026-01-02T03:04:05.600Z" {
					t.Errorf("output %d envelope = %+v", i, m)
				}
				if m.Data.Source != "c_sock" || m.Data.UserID != "alice" {
					t.Errorf("output %d source %q user %q", i, m.Data.Source, m.Data.UserID)
				}
				switch {
				case w.noV && m.Data.V != nil:
					t.Errorf("output %d: v = %d, want none", i, *m.Data.V)
				case !w.noV && m.Data.V == nil:
					t.Errorf("output %d: no v, want %d", i, w.v)
				case !w.noV && *m.Data.V != w.v:
					t.Errorf("output %d (%s.%s): v = %d, want %d", i, w.col, w.doc, *m.Data.V, w.v)
				}
				kinds := 0
				if m.Data.Create != nil {
					kinds++
				}
				if m.Data.Op != nil {
					kinds++
				}
				if m.Data.Del != nil {
					kinds++
				}
				if kinds != 1 {
					t.Errorf("output %d has %d of create, op and del: %+v", i, kinds, m.Data)
				}
				switch {
				case w.create != nil:
					if m.Data.Create == nil || !sameJSON(t, m.Data.Create, mj(t, w.create)) {
						t.Errorf("output %d: create = %s\nwant %s", i, m.Data.Create, mj(t, w.create))
					}
				case w.op != nil:
					if m.Data.Op == nil || !sameJSON(t, m.Data.Op, mj(t, w.op)) {
						t.Errorf("output %d: op = %s\nwant %s", i, m.Data.Op, mj(t, w.op))
					}
				case w.raw != "":
					if string(m.Data.Op) != w.raw {
						t.Errorf("output %d: op = %s\nwant %s", i, m.Data.Op, w.raw)
					}
				case w.del:
					if m.Data.Del == nil || !*m.Data.Del {
						t.Errorf("output %d: del = %v, want true", i, m.Data.Del)
					}
				}
			}
		})
	}
}

// Every update of a field, a view or a table is one op at the version the
// document had: a client applying the ops of a document in order sees v
// grow by one each time, from the create (v 0) to the delete (the last v).
func TestRenderVersionsChain(t *testing.T) {
	meta := event.TableMeta{TableID: 5, WorkspaceID: 1, Actor: "u"}
	v := table.View{ID: 9, TableID: 5, Name: "V0", Type: table.ViewGrid, Version: 1}
	events := []struct {
		typ     string
		payload any
	}{{event.EventViewCreated, event.ViewCreated{TableMeta: meta, View: v}}}
	for i := int64(2); i <= 4; i++ {
		before := v
		v.Version, v.Name = i, "V"+strconv.FormatInt(i, 10)
		events = append(events, struct {
			typ     string
			payload any
		}{event.EventViewUpdated, event.ViewUpdated{TableMeta: meta, View: v, ViewBefore: before}})
	}
	events = append(events, struct {
		typ     string
		payload any
	}{event.EventViewDeleted, event.ViewDeleted{TableMeta: meta, ViewID: v.ID, View: v}})

	doc := int64(0) // the client's version of the document
	for i, e := range events {
		outs, err := renderer{}.RenderEvent(&hub.Publication{Kind: hub.KindEvent, Offset: uint64(i + 1), Event: e.typ,
			Data: mj(t, e.payload), Time: time.Now()})
		if err != nil || len(outs) != 1 {
			t.Fatalf("%s: %d outputs, %v", e.typ, len(outs), err)
		}
		m := readFrame(t, outs[0].Frame)
		if m.Data.V == nil || *m.Data.V != doc {
			t.Fatalf("%s: v = %v, want %d (the client's version)", e.typ, m.Data.V, doc)
		}
		if m.Data.Del == nil {
			doc++
		}
	}
	if doc != 4 {
		t.Fatalf("the view ended at version %d, want 4", doc)
	}
}

// TestRenderSubmitReply: a submit's event gives the submitting connection
// its reply, with the fixup, in the op's place; everyone else the op.
func TestRenderSubmitReply(t *testing.T) {
	meta := event.TableMeta{TableID: 12, WorkspaceID: 3, Actor: "alice", Origin: "c_sock", Src: "s", Seq: 2,
		Reply: &event.SubmitReply{Collection: "record_12", Doc: 5, Tag: "native:req-9", Fixup: json.RawMessage(`[{"p":["fields","8"],"oi":2.56,"od":2.555}]`)}}
	row := event.Row{ID: 5, Order: "1.00000000000000000000", Version: 3, Fields: table.Values{8: json.RawMessage(`2.56`)}}
	payload, err := json.Marshal(event.RowsUpdated{TableMeta: meta, Rows: []event.Row{row}, RowsBefore: []event.Row{row},
		UpdatedFieldIDs: []int64{8}, Op: json.RawMessage(`[{"p":["fields","8"],"oi":2.56,"od":null}]`)})
	if err != nil {
		t.Fatal(err)
	}
	p := &hub.Publication{Kind: hub.KindEvent, Stream: "table:12", Offset: 41, Event: event.EventRowsUpdated,
		Data: payload, Author: hub.Author{ConnID: "c_sock"}, Exclude: []string{"c_sock"}, Time: time.Now()}
	outs, err := renderer{}.RenderEvent(p)
	if err != nil || len(outs) != 1 {
		t.Fatalf("%d outputs, %v", len(outs), err)
	}
	f, err := ws.ReadFrame(bytes.NewReader(outs[0].Origin))
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Type, ID, Collection, Document string
		Offset                         uint64
		Data                           map[string]json.RawMessage
	}
	if err := json.Unmarshal(f.Payload, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Type != "submit" || reply.ID != "req-9" || reply.Collection != "record_12" || reply.Document != "5" ||
		reply.Offset != 41 || string(reply.Data["v"]) != "3" || string(reply.Data["fixup"]) != `[{"p":["fields","8"],"oi":2.56,"od":2.555}]` {
		t.Fatalf("reply %s", f.Payload)
	}
	if op := readFrame(t, outs[0].Frame); op.Type != "op" {
		t.Fatalf("the others' frame is %+v", op)
	}
}

// encodeOp and encodeReply write what encode writes, byte for byte.
func TestEncodeOpAsEncode(t *testing.T) {
	v := int64(41)
	ts := "2026-12-07T01:02:03.456Z"
	for _, d := range []opData{
		{V: &v, Op: json.RawMessage(`[{"p":["fields","5",0],"si":"a b"}]`), Source: "c_1", UserID: "alice"},
		{Create: json.RawMessage(`{"id":7,"fields":{}}`), Source: "server", UserID: ""},
		{V: &v, Del: true, Source: "server", UserID: "bob"},
		{V: &v, Op: json.RawMessage(`[{"p":["fields","5",0],"si":"<&>"}]`), Source: "c_1", UserID: "al\"ice"},
		{V: &v, Op: json.RawMessage(`[ {"p":["x"],"oi":1} ]`), Source: "c_é", UserID: "u"},
	} {
		for _, doc := range []string{"7", "<7>"} {
			want := encode(&outbound{Type: TypeOp, Collection: "record_3", Document: doc, Offset: new(uint64(12)), Data: d, Timestamp: ts})
			if got := encodeOp("record_3", doc, 12, d, ts); string(got) != string(want) {
				t.Errorf("encodeOp:\n got %q\nwant %q", got, want)
			}
		}
	}
	for _, d := range []submitReplyData{{V: 3}, {V: 3, Duplicate: true}, {V: 4, Fixup: json.RawMessage(`[{"p":["fields","5"],"od":"1.5","oi":1.5}]`)},
		{V: 4, Fixup: json.RawMessage(`[{"p":["fields","5"], "oi":"<"}]`)}} {
		for _, id := range []string{"", "118", "a\"b"} {
			want := encode(&outbound{Type: TypeSubmit, ID: id, Collection: "record_3", Document: "7", Offset: new(uint64(12)), Data: d, Timestamp: ts})
			if got := encodeReply(id, "record_3", "7", 12, d, ts); string(got) != string(want) {
				t.Errorf("encodeReply:\n got %q\nwant %q", got, want)
			}
		}
	}
	// Each is one allocation: the frame, built in place.
	big := int64(1) << 62
	d := opData{V: &big, Op: json.RawMessage(`[{"p":["fields","5",0],"si":"a b"}]`), Source: "c_1234567890", UserID: "alice@example.com"}
	if n := testing.AllocsPerRun(10, func() { encodeOp("record_1234567", "98765432", 1<<62, d, ts) }); n != 1 {
		t.Errorf("encodeOp: %v allocations, want 1", n)
	}
	r := submitReplyData{V: 1 << 62}
	if n := testing.AllocsPerRun(10, func() { encodeReply("118", "record_1234567", "98765432", 1<<62, r, ts) }); n != 1 {
		t.Errorf("encodeReply: %v allocations, want 1", n)
	}
}
