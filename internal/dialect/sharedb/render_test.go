package sharedb

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/table"
)

func publication(t *testing.T, stream string, offset uint64, typ string, payload any) *hub.Publication {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return &hub.Publication{Kind: hub.KindEvent, Stream: stream, Offset: offset, Event: typ, Data: b, Time: time.Now()}
}

func outputs(t *testing.T, r *Renderer, p *hub.Publication) map[string]string {
	t.Helper()
	outs, err := r.RenderEvent(p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range outs {
		got[o.Collection+" "+o.Document] = string(frameBody(t, o.Frame))
	}
	return got
}

// TestRenderEvent: an event becomes one op message per document and per
// spelling of its collection held on the node; nothing when none is held.
func TestRenderEvent(t *testing.T) {
	r := NewRenderer(nil)
	meta := event.TableMeta{TableID: 5, WorkspaceID: 2, Actor: "u1", Origin: "c_x", Src: "client1", Seq: 7}
	row := event.Row{ID: 9, Order: "1.00000000000000000000", Version: 2, Fields: table.Values{1: json.RawMessage(`"b"`)}}
	before := row
	before.Version, before.Fields = 1, table.Values{1: json.RawMessage(`"a"`)}
	upd := publication(t, "table:5", 40, event.EventRowsUpdated, event.RowsUpdated{TableMeta: meta, Rows: []event.Row{row},
		RowsBefore: []event.Row{before}, UpdatedFieldIDs: []int64{1}, Op: json.RawMessage(`[{"p":["fields","1",0],"sd":"a"},{"p":["fields","1",0],"si":"b"}]`)})

	if got := outputs(t, r, upd); len(got) != 0 {
		t.Fatalf("nothing held, rendered %v", got)
	}
	if r.seenOffset("table:5") != 40 {
		t.Fatalf("seen offset %d; want 40 (every event is seen)", r.seenOffset("table:5"))
	}
	rec, _ := parseCollection("rec_5")
	record, _ := parseCollection("record_5")
	fld, _ := parseCollection("fld_5")
	r.hold(rec, 1)
	r.hold(rec, 1)
	r.hold(record, 1)
	r.hold(fld, 1)
	got := outputs(t, r, upd)
	want := map[string]string{
		"sdb/rec_5 9":    `{"a":"op","c":"rec_5","d":"9","v":1,"src":"client1","seq":7,"op":[{"p":["fields","1",0],"sd":"a"},{"p":["fields","1",0],"si":"b"}]}`,
		"sdb/record_5 9": `{"a":"op","c":"record_5","d":"9","v":1,"src":"client1","seq":7,"op":[{"p":["fields","1",0],"sd":"a"},{"p":["fields","1",0],"si":"b"}]}`,
	}
	if len(got) != len(want) || got["sdb/rec_5 9"] != want["sdb/rec_5 9"] || got["sdb/record_5 9"] != want["sdb/record_5 9"] {
		t.Fatalf("rendered\n%v\nwant\n%v", got, want)
	}

	// A REST create and delete, without src.
	meta.Src, meta.Seq = "", 0
	created := row
	created.Version = 1
	got = outputs(t, r, publication(t, "table:5", 41, event.EventRowsCreated, event.RowsCreated{TableMeta: meta, Rows: []event.Row{created}}))
	if got["sdb/rec_5 9"] != `{"a":"op","c":"rec_5","d":"9","v":0,"create":{"type":"http://sharejs.org/types/JSONv0","data":{"id":9,"order":"1.00000000000000000000","fields":{"1":"b"}}}}` {
		t.Errorf("create: %v", got)
	}
	got = outputs(t, r, publication(t, "table:5", 42, event.EventRowsDeleted, event.RowsDeleted{TableMeta: meta, RowIDs: []int64{9}, Rows: []event.Row{row}}))
	if got["sdb/record_5 9"] != `{"a":"op","c":"record_5","d":"9","v":2,"del":true}` {
		t.Errorf("delete: %v", got)
	}

	// Released: rendered no more.
	r.hold(rec, -1)
	r.hold(rec, -1)
	r.hold(record, -1)
	if got := outputs(t, r, upd); len(got) != 0 {
		t.Errorf("released, rendered %v", got)
	}
	r.hold(fld, -1)
	if len(r.interest) != 0 {
		t.Errorf("interest left: %v", r.interest)
	}
	r.hold(fld, -1) // one release too many changes nothing
	if len(r.interest) != 0 {
		t.Errorf("interest after an extra release: %v", r.interest)
	}
}

func TestPresenceFrame(t *testing.T) {
	for _, tc := range []struct {
		state string
		want  string
	}{
		{`{"src":"s1","p":{"x":1},"pv":3}`, `{"a":"p","ch":"__col_user_5","id":"p\"1","src":"s1","p":{"x":1},"pv":3}`},
		{``, `{"a":"p","ch":"__col_user_5","id":"p\"1","p":null}`},
		{`null`, `{"a":"p","ch":"__col_user_5","id":"p\"1","p":null}`},
	} {
		if got := string(frameBody(t, presenceFrame("__col_user_5", `p"1`, json.RawMessage(tc.state)))); got != tc.want {
			t.Errorf("presenceFrame(%s) = %s; want %s", tc.state, got, tc.want)
		}
	}
	r := NewRenderer(nil)
	b, err := r.Render(&hub.Publication{Kind: hub.KindUser, Data: json.RawMessage(`{"x":1}`)})
	if err != nil || len(b) != 0 {
		t.Errorf("a message to a user renders as nothing: %q, %v", b, err)
	}
}

// BenchmarkRenderEvent: a submit's event on a row, rendered for one
// spelling held (what every op of bench ops costs the renderer).
func BenchmarkRenderEvent(b *testing.B) {
	r := NewRenderer(nil)
	c, _ := parseCollection("record_5")
	r.hold(c, 1)
	fields := table.Values{}
	for i := int64(1); i <= 10; i++ {
		fields[i] = json.RawMessage(`"some text in a cell"`)
	}
	row := event.Row{ID: 9, Order: "1.00000000000000000000", Version: 8, Fields: fields}
	before := row
	before.Version = 7
	payload, _ := json.Marshal(event.RowsUpdated{
		TableMeta: event.TableMeta{TableID: 5, WorkspaceID: 2, Actor: "u1", Origin: "c_x", Src: "0123456789abcdef0123456789abcdef", Seq: 42},
		Rows:      []event.Row{row}, RowsBefore: []event.Row{before}, UpdatedFieldIDs: []int64{1},
		Op: json.RawMessage(`[{"p":["fields","1",3],"si":"x"}]`),
	})
	p := &hub.Publication{Kind: hub.KindEvent, Stream: "table:5", Offset: 1, Event: event.EventRowsUpdated, Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		if outs, err := r.RenderEvent(p); err != nil || len(outs) != 1 {
			b.Fatal(outs, err)
		}
	}
}

// TestRenderEventAck: a submit's event gives its socket (the origin) the
// ack in the op's place under the spelling it submitted with, with the
// fixup; under the other spelling the op itself; everyone else the op.
func TestRenderEventAck(t *testing.T) {
	r := NewRenderer(nil)
	rec, _ := parseCollection("rec_5")
	record, _ := parseCollection("record_5")
	r.hold(rec, 1)
	r.hold(record, 1)
	meta := event.TableMeta{TableID: 5, WorkspaceID: 2, Actor: "u1", Origin: "c_x", Src: "client1", Seq: 7,
		Reply: &event.SubmitReply{Collection: "record_5", Doc: 9, Tag: "sharedb:rec_5", Fixup: json.RawMessage(`[{"p":["fields","1"],"oi":2.56,"od":2.555}]`)}}
	row := event.Row{ID: 9, Order: "1.00000000000000000000", Version: 4, Fields: table.Values{1: json.RawMessage(`2.56`)}}
	p := publication(t, "table:5", 41, event.EventRowsUpdated, event.RowsUpdated{TableMeta: meta, Rows: []event.Row{row},
		RowsBefore: []event.Row{row}, UpdatedFieldIDs: []int64{1},
		Op: json.RawMessage(`[{"p":["fields","1"],"oi":2.56,"od":null}]`)})
	p.Author.ConnID, p.Exclude = "c_x", []string{"c_x"}
	outs, err := r.RenderEvent(p)
	if err != nil || len(outs) != 2 {
		t.Fatalf("%d outputs, %v", len(outs), err)
	}
	for _, o := range outs {
		frame, origin := string(frameBody(t, o.Frame)), string(frameBody(t, o.Origin))
		switch o.Collection {
		case rec.hubName():
			if want := `{"a":"op","c":"rec_5","d":"9","v":3,"src":"client1","seq":7,"fixup":[{"src":"client1","seq":7,"v":3,"op":[{"p":["fields","1"],"oi":2.56,"od":2.555}]}]}`; origin != want {
				t.Errorf("ack %s\nwant %s", origin, want)
			}
			if want := `{"a":"op","c":"rec_5","d":"9","v":3,"src":"client1","seq":7,"op":[{"p":["fields","1"],"oi":2.56,"od":null}]}`; frame != want {
				t.Errorf("op %s\nwant %s", frame, want)
			}
		default:
			if origin != frame {
				t.Errorf("under the other spelling the origin gets %s, want the op %s", origin, frame)
			}
		}
	}
}
