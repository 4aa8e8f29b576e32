package publicview

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

type oneTable struct{ tv TableViews }

func (s oneTable) TableViews(context.Context, int64) (TableViews, error) { return s.tv, nil }

// testView is a public view of table 1 showing fields 1 and 2 (3 hidden),
// with the rows whose field 2 is "open".
func testView(t *testing.T) *View {
	t.Helper()
	var v table.View
	if err := json.Unmarshal([]byte(`{"id":7,"table_id":1,"public":true,"slug":"s",
		"filters":[{"field_id":2,"type":"equal","value":"open"}],"hidden_field_ids":[3]}`), &v); err != nil {
		t.Fatal(err)
	}
	fields := []table.Field{{ID: 1, TableID: 1, Name: "Name", Type: table.TypeText, Primary: true},
		{ID: 2, TableID: 1, Name: "Status", Type: table.TypeText}, {ID: 3, TableID: 1, Name: "Secret", Type: table.TypeText}}
	d := NewDefs(oneTable{TableViews{Fields: fields, Views: []table.View{v}, Offset: 5}}, nil)
	defs, err := d.ForEvent(1, 6, false)
	if err != nil || defs.Views[7] == nil {
		t.Fatalf("definitions %+v: %v", defs, err)
	}
	return defs.Views[7]
}

func row(id int64, status string) event.Row {
	return event.Row{ID: id, Fields: table.Values{1: json.RawMessage(`"n"`), 2: json.RawMessage(`"` + status + `"`), 3: json.RawMessage(`"x"`)}}
}

func ids(rows []event.Row) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestProjectUpdated(t *testing.T) {
	v := testView(t)
	if got := v.Visible; len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("visible %v, want [1 2]", got)
	}
	before := []event.Row{row(1, "open"), row(2, "open"), row(3, "closed"), row(4, "closed")}
	after := []event.Row{row(1, "open"), row(2, "closed"), row(3, "open"), row(4, "closed")}
	cases := []struct {
		name                  string
		fields                []int64
		left, stayed, entered []int64
	}{
		{"a shown field", []int64{2}, []int64{2}, []int64{1}, []int64{3}},
		{"a hidden field only", []int64{3}, []int64{2}, []int64{}, []int64{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := v.ProjectUpdated(&event.RowsUpdated{Rows: after, RowsBefore: before, UpdatedFieldIDs: c.fields})
			for _, got := range []struct {
				what      string
				got, want []int64
			}{{"left", ids(u.Left), c.left}, {"stayed", ids(u.Stayed), c.stayed}, {"entered", ids(u.Entered), c.entered}} {
				if len(got.got) != len(got.want) || (len(got.got) > 0 && got.got[0] != got.want[0]) {
					t.Errorf("%s %v, want %v", got.what, got.got, got.want)
				}
			}
		})
	}
	if in := ids(v.Matching(before)); len(in) != 2 || in[0] != 1 || in[1] != 2 {
		t.Errorf("matching %v, want [1 2]", in)
	}
}
