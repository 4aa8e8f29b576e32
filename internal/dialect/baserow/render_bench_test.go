package baserow

import (
	"testing"

	"github.com/tablecast/tablecast/internal/event"
)

// BenchmarkRenderEvent renders one rows_updated event of one row for a
// table page and one public view's page: the work done once per event,
// whatever the number of sockets on each page.
func BenchmarkRenderEvent(b *testing.B) {
	for _, tc := range []struct {
		name  string
		pages []*page
	}{
		{"table page", []*page{{typ: tablePage{}, tableID: 1}}},
		{"public view", []*page{{typ: viewPage{}, tableID: 1, viewID: testView, slug: "slug5"}}},
		{"both", []*page{{typ: tablePage{}, tableID: 1}, {typ: viewPage{}, tableID: 1, viewID: testView, slug: "slug5"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := NewRenderer(RendererConfig{Store: &fakeStore{defs: testDefs(0)}})
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range tc.pages {
				r.hold(p)
			}
			ev := event.RowsUpdated{TableMeta: meta, Rows: []event.Row{row(1, "a2", "open", "s")},
				RowsBefore: []event.Row{row(1, "a", "open", "s")}, UpdatedFieldIDs: []int64{fName}}
			p := pub(b, 1, event.EventRowsUpdated, ev)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p.Offset = uint64(i + 1) // the definitions follow the stream: no read
				if _, err := r.RenderEvent(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
