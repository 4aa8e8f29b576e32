package event

import "testing"

func TestParseCollection(t *testing.T) {
	for _, tc := range []struct {
		name      string
		want      Collection
		ok, alias bool // alias: read by ParseCollectionAlias only
		stream    string
	}{
		{name: "record_5", want: RecordsOf(5), ok: true, stream: "table:5"},
		{name: "field_12", want: FieldsOf(12), ok: true, stream: "table:12"},
		{name: "view_3", want: ViewsOf(3), ok: true, stream: "table:3"},
		{name: "table_2", want: TablesOf(2), ok: true, stream: "workspace:2"},
		{name: "rec_5", want: RecordsOf(5), alias: true, stream: "table:5"},
		{name: "fld_5", want: FieldsOf(5), alias: true, stream: "table:5"},
		{name: "viw_5", want: ViewsOf(5), alias: true, stream: "table:5"},
		{name: "tbl_9", want: TablesOf(9), alias: true, stream: "workspace:9"},
		{name: "record_0"},
		{name: "record_-1"},
		{name: "record_+1"},
		{name: "record_007"},
		{name: "record_"},
		{name: "record"},
		{name: "record_1_2"},
		{name: "record_99999999999999999999"},
		{name: "rows_5"},
		{name: "publicview_abc"},
		{name: ""},
	} {
		c, ok := ParseCollection(tc.name)
		if ok != tc.ok || (ok && c != tc.want) {
			t.Errorf("ParseCollection(%q) = %v, %v; want %v, %v", tc.name, c, ok, tc.want, tc.ok)
		}
		c, ok = ParseCollectionAlias(tc.name)
		if ok != (tc.ok || tc.alias) || (ok && c != tc.want) {
			t.Errorf("ParseCollectionAlias(%q) = %v, %v; want %v, %v", tc.name, c, ok, tc.want, tc.ok || tc.alias)
		}
		if ok && c.Stream() != tc.stream {
			t.Errorf("%q: stream %q, want %q", tc.name, c.Stream(), tc.stream)
		}
		if tc.ok && c.String() != tc.name {
			t.Errorf("%q prints as %q", tc.name, c.String())
		}
	}
}

func TestStreamIDs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		table, ws   int64
		isTbl, isWS bool
	}{
		{name: "table:5", table: 5, isTbl: true},
		{name: "workspace:2", ws: 2, isWS: true},
		{name: TablesOf(7).Stream(), ws: 7, isWS: true},
		{name: RecordsOf(8).Stream(), table: 8, isTbl: true},
		{name: "table:0"},
		{name: "table:-1"},
		{name: "table:x"},
		{name: "table:"},
		{name: "workspace"},
		{name: "rows"},
		{name: ""},
	} {
		if id, ok := TableOfStream(tc.name); id != tc.table || ok != tc.isTbl {
			t.Errorf("TableOfStream(%q) = %d, %v; want %d, %v", tc.name, id, ok, tc.table, tc.isTbl)
		}
		if id, ok := WorkspaceOfStream(tc.name); id != tc.ws || ok != tc.isWS {
			t.Errorf("WorkspaceOfStream(%q) = %d, %v; want %d, %v", tc.name, id, ok, tc.ws, tc.isWS)
		}
	}
}

func TestInNamespace(t *testing.T) {
	for name, want := range map[string]bool{
		"record_5": true, "table_1": true, "record_007": true, "view_0": true,
		"record_": false, "rec_5": false, "record_x": false, "chat": false, "publicview_a": false, "": false,
	} {
		if got := InNamespace(name); got != want {
			t.Errorf("InNamespace(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseCollection: whatever parses prints back as the same collection,
// and an alias prints as the canonical name.
func FuzzParseCollection(f *testing.F) {
	for _, s := range []string{"record_5", "tbl_2", "view_007", "field_-1", "x_1", "record_9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, ok := ParseCollectionAlias(name)
		if !ok {
			return
		}
		if c.ID <= 0 || !InNamespace(c.String()) {
			t.Fatalf("%q: parsed as %v", name, c)
		}
		back, ok := ParseCollection(c.String())
		if !ok || back != c {
			t.Fatalf("%q: %v prints as %q, which reads as %v, %v", name, c, c.String(), back, ok)
		}
		if canon, ok := ParseCollection(name); ok && canon.String() != name {
			t.Fatalf("%q reads as %v, which prints as %q", name, canon, canon.String())
		}
	})
}

func TestMemberChangedLost(t *testing.T) {
	lost := MemberChanged{WorkspaceMeta: WorkspaceMeta{WorkspaceID: 7}, UserID: "u", TableIDs: []int64{3, 5}}.Lost()
	for _, tc := range []struct {
		c    Collection
		want bool
	}{
		{Collection{Kind: KindTable, ID: 7}, true},
		{Collection{Kind: KindTable, ID: 3}, false}, // another workspace's table list
		{Collection{Kind: KindRecord, ID: 3}, true},
		{Collection{Kind: KindField, ID: 5}, true},
		{Collection{Kind: KindView, ID: 5}, true},
		{Collection{Kind: KindRecord, ID: 7}, false}, // a table of another workspace
	} {
		if got := lost(tc.c); got != tc.want {
			t.Errorf("Lost()(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}
