package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func contractDeleteFieldRemovesValues(t *testing.T, s Store) {
	f := newFixture(t, s)
	rows := insertRows(t, s, f.table.ID, 0,
		`{"`+f.nameKey+`":"a","`+f.countKey+`":1}`,
		`{"`+f.nameKey+`":"b","`+f.countKey+`":null}`,
		`{"`+f.nameKey+`":"c"}`,
	).Rows
	at := time.Now().Add(-time.Hour)
	update(t, s, func(ctx context.Context, tx Tx) error {
		for _, r := range rows {
			if err := tx.WriteRows(ctx, f.table.ID, []RowUpdate{{ID: r.ID, At: at, WholeVersion: 2, WholeAt: at, WholeBytes: 50}}); err != nil {
				return err
			}
		}
		return tx.DeleteField(ctx, f.n.ID)
	})
	for i, r := range allRows(t, s, f.table.ID) {
		jsonEqual(t, r.Values, json.RawMessage(`{"`+f.nameKey+`":"`+string(rune('a'+i))+`"}`), "values after the field's deletion")
		if r.Version != rows[i].Version+1 {
			t.Fatalf("row %d version %d changed by the field's deletion", r.ID, r.Version)
		}
		// The rows that held a cell of the field forget their last whole
		// event: the events after it do not say that the cell is gone.
		if want := map[bool]int64{true: 0, false: 2}[i < 2]; r.WholeVersion != want {
			t.Fatalf("row %d: WholeVersion %d after the field's deletion, want %d", i, r.WholeVersion, want)
		}
	}
}

// contractLongCells: values of a page or more (SQLite keeps them apart:
// migration 0009) read back as written through every
// write and read, short and long in turn, and go with their row, their
// field and their table.
func contractLongCells(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	long := func(c byte, n int) string { return `"` + strings.Repeat(string(c), n) + `"` }
	n, c := f.nameKey, f.countKey
	obj := func(name, count string) string { return `{"` + n + `":` + name + `,"` + c + `":` + count + `}` }
	// Values over a page (cellInlineMax) are what SQLite keeps apart.
	rows := insertRows(t, s, f.table.ID, 0, obj(long('a', 5000), "1"), obj(`"short"`, "2"), obj(long('b', 4001), "3")).Rows
	want := []string{obj(long('a', 5000), "1"), obj(`"short"`, "2"), obj(long('b', 4001), "3")}
	check := func(what string) {
		t.Helper()
		for i, r := range allRows(t, s, f.table.ID) {
			jsonEqual(t, r.Values, json.RawMessage(want[i]), fmt.Sprintf("row %d %s", i, what))
		}
		checkCellBodies(t, s, what)
	}
	check("inserted")
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"now short"}`)},
			{ID: rows[1].ID, Values: json.RawMessage(`{"` + n + `":` + long('c', 6000) + `}`)},
		})).get(t)
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{{ID: rows[2].ID, Values: json.RawMessage(`{"` + n + `":` + long('d', 9000) + `}`)}})
	})
	want = []string{obj(`"now short"`, "1"), obj(long('c', 6000), "2"), obj(long('d', 9000), "3")}
	check("after updates")
	got := must(s.RowCells(ctx, f.table.ID, rows[1].ID, []int64{f.name.ID})).get(t)
	jsonEqual(t, got.Values, json.RawMessage(`{"`+n+`":`+long('c', 6000)+`}`), "RowCells of a long cell")

	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.DeleteRows(ctx, f.table.ID, []int64{rows[1].ID})
		return err
	})
	want = []string{want[0], want[2]}
	check("after a row's deletion")
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteField(ctx, f.name.ID) })
	want = []string{`{"` + c + `":1}`, `{"` + c + `":3}`}
	check("after the field's deletion")
	insertRows(t, s, f.table.ID, 0, `{"`+c+`":`+long('e', 4500)+`}`)
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteTable(ctx, f.table.ID) })
	checkCellBodies(t, s, "after the table's deletion")
}

// WholeVersion, WholeAt and WholeBytes are an update's when it records a
// whole event (RowUpdate.WholeVersion), and kept otherwise.
func contractRowWhole(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	r := insertRows(t, s, f.table.ID, 0, `{"`+f.nameKey+`":"a"}`).Rows[0]
	if r := must(s.Row(ctx, f.table.ID, r.ID)).get(t); r.WholeVersion != 0 {
		t.Fatalf("a new row's WholeVersion is %d, want 0 (none recorded)", r.WholeVersion)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, c := range []struct {
		name      string
		u         RowUpdate
		wantV     int64
		wantAt    time.Time
		wantBytes int
	}{
		{"whole", RowUpdate{At: at, WholeVersion: 2, WholeAt: at, WholeBytes: 70}, 2, at, 70},
		{"not whole", RowUpdate{At: at.Add(time.Minute)}, 2, at, 70},
		{"whole, several versions", RowUpdate{At: at.Add(2 * time.Minute), ExpectedVersion: 3, Version: 7,
			WholeVersion: 5, WholeAt: at.Add(time.Minute), WholeBytes: 90}, 5, at.Add(time.Minute), 90},
		{"whole, returning", RowUpdate{At: at.Add(3 * time.Minute), WholeVersion: 8, WholeAt: at.Add(3 * time.Minute), WholeBytes: 10,
			Values: json.RawMessage(`{"` + f.nameKey + `":"b"}`)}, 8, at.Add(3 * time.Minute), 10},
	} {
		c.u.ID = r.ID
		var returned Row
		update(t, s, func(ctx context.Context, tx Tx) error {
			if c.u.Values != nil {
				rows, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{c.u})
				if err == nil {
					returned = rows[0]
				}
				return err
			}
			return tx.WriteRows(ctx, f.table.ID, []RowUpdate{c.u})
		})
		got := must(s.Row(ctx, f.table.ID, r.ID)).get(t)
		if got.WholeVersion != c.wantV || !got.WholeAt.Equal(c.wantAt.Truncate(time.Microsecond)) || got.WholeBytes != c.wantBytes {
			t.Fatalf("%s: whole %d at %v, %d bytes; want %d at %v, %d bytes", c.name,
				got.WholeVersion, got.WholeAt, got.WholeBytes, c.wantV, c.wantAt, c.wantBytes)
		}
		if c.u.Values != nil && (returned.WholeVersion != got.WholeVersion || !returned.WholeAt.Equal(got.WholeAt)) {
			t.Fatalf("%s: UpdateRows returned whole %d at %v, the row has %d at %v", c.name,
				returned.WholeVersion, returned.WholeAt, got.WholeVersion, got.WholeAt)
		}
	}

	// Several rows at their expected versions (one statement where the
	// engine can): each keeps or records its own.
	r2 := insertRows(t, s, f.table.ID, 0, `{}`).Rows[0]
	cur := must(s.Row(ctx, f.table.ID, r.ID)).get(t)
	later := at.Add(time.Hour)
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{
			{ID: r.ID, At: later, ExpectedVersion: cur.Version, Version: cur.Version + 2,
				WholeVersion: cur.Version + 1, WholeAt: later, WholeBytes: 33},
			{ID: r2.ID, At: later, ExpectedVersion: r2.Version},
		})
	})
	for _, c := range []struct {
		id, version, wholeV int64
		wholeAt             time.Time
		wholeBytes          int
	}{
		{r.ID, cur.Version + 2, cur.Version + 1, later, 33},
		{r2.ID, r2.Version + 1, 0, time.Time{}, 0},
	} {
		got := must(s.Row(ctx, f.table.ID, c.id)).get(t)
		if got.Version != c.version || !got.UpdatedAt.Equal(later.Truncate(time.Microsecond)) || got.WholeVersion != c.wholeV ||
			(c.wholeV != 0 && (!got.WholeAt.Equal(c.wholeAt.Truncate(time.Microsecond)) || got.WholeBytes != c.wholeBytes)) {
			t.Errorf("row %d after WriteRows of two rows: version %d updated %v, whole %d at %v, %d bytes; want %d, %v, whole %d at %v, %d bytes",
				c.id, got.Version, got.UpdatedAt, got.WholeVersion, got.WholeAt, got.WholeBytes, c.version, later, c.wholeV, c.wholeAt, c.wholeBytes)
		}
	}
	err := s.Update(ctx, func(tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{
			{ID: r.ID, ExpectedVersion: cur.Version + 2},
			{ID: r2.ID + 1000, ExpectedVersion: 1},
		})
	})
	wantErr(t, err, ErrNotFound, "WriteRows of two rows, the second missing")
	if got := must(s.Row(ctx, f.table.ID, r.ID)).get(t); got.Version != cur.Version+2 {
		t.Errorf("a failed WriteRows moved its first row to version %d", got.Version)
	}
}

// RowCells reads a row with the cells asked for only, in one snapshot
// like Row, and in a transaction too.
func contractRowCells(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	r := insertRows(t, s, f.table.ID, 0, `{"`+f.nameKey+`":"a \"b\"","`+f.countKey+`":1.5}`).Rows[0]
	whole := must(s.Row(ctx, f.table.ID, r.ID)).get(t)
	for _, c := range []struct {
		ids  []int64
		want string
	}{
		{[]int64{f.n.ID}, `{"` + f.countKey + `":1.5}`},
		{[]int64{f.n.ID, f.name.ID}, `{"` + f.nameKey + `":"a \"b\"","` + f.countKey + `":1.5}`},
		{[]int64{f.n.ID + 1000}, `{}`},
		{nil, `{}`},
	} {
		got := must(s.RowCells(ctx, f.table.ID, r.ID, c.ids)).get(t)
		jsonEqual(t, got.Values, json.RawMessage(c.want), fmt.Sprintf("RowCells(%v)", c.ids))
		got.Values = whole.Values
		if !reflect.DeepEqual(got, whole) {
			t.Fatalf("RowCells(%v) = %+v, want the head of %+v", c.ids, got, whole)
		}
	}
	_, err := s.RowCells(ctx, f.table.ID+1000, r.ID, []int64{f.n.ID})
	wantErr(t, err, ErrNotFound, "a row through another table")
	update(t, s, func(ctx context.Context, tx Tx) error {
		got := must(tx.RowCells(ctx, f.table.ID, r.ID, []int64{f.name.ID})).get(t)
		jsonEqual(t, got.Values, json.RawMessage(`{"`+f.nameKey+`":"a \"b\""}`), "RowCells in a transaction")
		return nil
	})
}

// contractRowVersions: the versions of the rows asked for, those of the
// table only, as a transaction sees them.
func contractRowVersions(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	rows := insertRows(t, s, f.table.ID, 0, `{}`, `{}`, `{}`).Rows
	other := newFixture(t, s)
	elsewhere := insertRows(t, s, other.table.ID, 0, `{}`).Rows[0]
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[1].ID, Values: json.RawMessage(`{}`)}})).get(t)
		return nil
	})
	ids := []int64{rows[0].ID, rows[1].ID, elsewhere.ID, rows[2].ID + 1000}
	want := map[int64]int64{rows[0].ID: rows[0].Version, rows[1].ID: rows[1].Version + 1}
	if got := must(s.RowVersions(ctx, f.table.ID, ids)).get(t); !reflect.DeepEqual(got, want) {
		t.Errorf("RowVersions(%v) = %v, want %v (another table's row and a missing one left out)", ids, got, want)
	}
	if got := must(s.RowVersions(ctx, f.table.ID, nil)).get(t); len(got) != 0 {
		t.Errorf("RowVersions(nil) = %v, want none", got)
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[2].ID, Values: json.RawMessage(`{}`)}})).get(t)
		got := must(tx.RowVersions(ctx, f.table.ID, []int64{rows[2].ID})).get(t)
		if got[rows[2].ID] != rows[2].Version+1 {
			t.Errorf("RowVersions in the transaction that updated the row = %v, want version %d", got, rows[2].Version+1)
		}
		return nil
	})
}

func contractInsertRows(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	start := time.Now().Add(-time.Second)
	ins := insertRows(t, s, f.table.ID, 0, `{"`+f.nameKey+`": "first", "`+f.countKey+`": 1.5}`, ``, `{}`)
	if ins.Shifted || len(ins.Rows) != 3 {
		t.Fatalf("InsertRows = %+v", ins)
	}
	wantOrders := []string{"1.00000000000000000000", "2.00000000000000000000", "3.00000000000000000000"}
	for i, r := range ins.Rows {
		if r.Order != wantOrders[i] || r.Version != 1 || r.TableID != f.table.ID || r.CreatedAt.Before(start) ||
			!r.UpdatedAt.Equal(r.CreatedAt) || (i > 0 && r.ID <= ins.Rows[i-1].ID) {
			t.Fatalf("row %d = %+v", i, r)
		}
	}
	jsonEqual(t, ins.Rows[0].Values, json.RawMessage(`{"`+f.nameKey+`":"first","`+f.countKey+`":1.5}`), "values")
	jsonEqual(t, ins.Rows[1].Values, json.RawMessage(`{}`), "empty values")
	got := must(s.Row(ctx, f.table.ID, ins.Rows[0].ID)).get(t)
	jsonEqual(t, got.Values, ins.Rows[0].Values, "read values")
	got.Values, ins.Rows[0].Values = nil, nil
	if !reflect.DeepEqual(got, ins.Rows[0]) {
		t.Fatalf("Row = %+v, want %+v", got, ins.Rows[0])
	}
	_, err := s.Row(ctx, f.table.ID+1000, ins.Rows[0].ID)
	wantErr(t, err, ErrNotFound, "a row through another table")

	// The next batch goes after the last row, at the next integer.
	more := insertRows(t, s, f.table.ID, 0, `{}`)
	if more.Rows[0].Order != "4.00000000000000000000" {
		t.Fatalf("appended order %s", more.Rows[0].Order)
	}
	// A large batch keeps its input order (several INSERT statements).
	vals := make([]string, 1234)
	for i := range vals {
		vals[i] = fmt.Sprintf(`{"%s": %d}`, f.countKey, i)
	}
	batch := insertRows(t, s, f.table.ID, 0, vals...).Rows
	for i, r := range batch {
		jsonEqual(t, r.Values, json.RawMessage(vals[i]), "batch values")
		if i > 0 && cmpOrder(t, batch[i-1].Order, r.Order) >= 0 {
			t.Fatalf("batch orders not increasing at %d: %s then %s", i, batch[i-1].Order, r.Order)
		}
	}
	all := allRows(t, s, f.table.ID)
	if len(all) != 4+1234 || !slices.Equal(rowIDs(all[4:]), rowIDs(batch)) {
		t.Fatalf("listing has %d rows / wrong order", len(all))
	}

	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.InsertRows(ctx, NewRows{TableID: 999999, Values: []json.RawMessage{json.RawMessage(`{}`)}})
		return err
	})
	wantErr(t, err, ErrNotFound, "rows of a missing table")
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.InsertRows(ctx, NewRows{TableID: f.table.ID, BeforeID: 999999, Values: []json.RawMessage{nil}})
		return err
	})
	wantErr(t, err, ErrNotFound, "before a missing row")
	// All or nothing: one bad item stores nothing.
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.InsertRows(ctx, NewRows{TableID: f.table.ID, Values: []json.RawMessage{
			json.RawMessage(`{}`), json.RawMessage(`[1]`)}})
		return err
	})
	wantErr(t, err, ErrInvalid, "values that are not an object")
	if n := len(allRows(t, s, f.table.ID)); n != len(all) {
		t.Fatalf("a failed batch stored rows: %d, want %d", n, len(all))
	}
}

func contractInsertRowsBefore(t *testing.T, s Store) {
	f := newFixture(t, s)
	base := insertRows(t, s, f.table.ID, 0, `{}`, `{}`, `{}`).Rows // orders 1, 2, 3
	two := insertRows(t, s, f.table.ID, base[2].ID, `{"x":1}`, `{"x":2}`).Rows
	if two[0].Order != "2.33333333333333333333" || two[1].Order != "2.66666666666666666666" {
		t.Fatalf("orders between 2 and 3: %s, %s", two[0].Order, two[1].Order)
	}
	first := insertRows(t, s, f.table.ID, base[0].ID, `{}`).Rows[0]
	if first.Order != "0.50000000000000000000" {
		t.Fatalf("order before the first row: %s", first.Order)
	}
	want := []int64{first.ID, base[0].ID, base[1].ID, two[0].ID, two[1].ID, base[2].ID}
	if got := rowIDs(allRows(t, s, f.table.ID)); !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}

	// Inserting before the same row again and again halves the gap each time
	// until there is no room: then the rows from there on move up by one, and
	// the order stays what the inserts asked for.
	target := base[1].ID
	want = slices.Clone(want[:2]) // first, base0
	var inserted []int64
	shifted := 0
	for i := range 80 {
		ins := insertRows(t, s, f.table.ID, target, fmt.Sprintf(`{"i":%d}`, i))
		if ins.Shifted {
			shifted++
		}
		inserted = append(inserted, ins.Rows[0].ID)
	}
	if shifted == 0 {
		t.Fatalf("80 inserts before one row never ran out of room")
	}
	want = append(want, inserted...)
	want = append(want, base[1].ID, two[0].ID, two[1].ID, base[2].ID)
	rows := allRows(t, s, f.table.ID)
	if got := rowIDs(rows); !slices.Equal(got, want) {
		t.Fatalf("order after %d shifts = %v, want %v", shifted, got, want)
	}
	for i := 1; i < len(rows); i++ {
		if cmpOrder(t, rows[i-1].Order, rows[i].Order) >= 0 {
			t.Fatalf("orders not strictly increasing: %s then %s", rows[i-1].Order, rows[i].Order)
		}
	}
}

func cmpOrder(t *testing.T, a, b string) int {
	t.Helper()
	x, err := parseOrder(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := parseOrder(b)
	if err != nil {
		t.Fatal(err)
	}
	return x.Cmp(y)
}

func contractRowPagination(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	vals := make([]string, 25)
	for i := range vals {
		vals[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	rows := insertRows(t, s, f.table.ID, 0, vals...).Rows
	other := newFixture(t, s)
	insertRows(t, s, other.table.ID, 0, `{}`, `{}`) // another table's rows never show

	// Pages of 7 cover the table exactly once, while rows are inserted
	// between pages before and after the cursor.
	var seen []int64
	var cursor RowCursor
	var added []int64
	for page := 0; ; page++ {
		got := must(s.Rows(ctx, f.table.ID, cursor, 7)).get(t)
		if len(got) == 0 {
			break
		}
		seen = append(seen, rowIDs(got)...)
		cursor = got[len(got)-1].Cursor()
		if page == 1 {
			// One before the cursor (not to be seen), one after it (to be seen).
			insertRows(t, s, f.table.ID, rows[2].ID, `{"late":"before"}`)
			added = append(added, insertRows(t, s, f.table.ID, rows[20].ID, `{"late":"after"}`).Rows[0].ID)
		}
	}
	var want []int64
	for i, r := range rows {
		if i == 20 {
			want = append(want, added...)
		}
		want = append(want, r.ID)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("paged ids = %v, want %v", seen, want)
	}

	byIDs := must(s.RowsByIDs(ctx, f.table.ID, []int64{rows[5].ID, rows[1].ID, 999999})).get(t)
	if got := rowIDs(byIDs); !slices.Equal(got, []int64{rows[1].ID, rows[5].ID}) {
		t.Fatalf("RowsByIDs = %v", got)
	}
	if got := must(s.RowsByIDs(ctx, f.table.ID, nil)).get(t); len(got) != 0 {
		t.Fatalf("RowsByIDs(nil) = %v", got)
	}
	_, err := s.Rows(ctx, f.table.ID, RowCursor{Order: "one"}, 10)
	wantErr(t, err, ErrInvalid, "a malformed cursor")
}

func contractUpdateRows(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	n, c := f.nameKey, f.countKey
	rows := insertRows(t, s, f.table.ID, 0, `{"`+n+`":"a","`+c+`":1}`, `{"`+n+`":"b"}`).Rows
	var got []Row
	update(t, s, func(ctx context.Context, tx Tx) error {
		got = must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + c + `": null, "99": [1, 2]}`)},
			{ID: rows[1].ID, Values: json.RawMessage(`{"` + c + `": 7}`), ExpectedVersion: 1},
		})).get(t)
		return nil
	})
	jsonEqual(t, got[0].Values, json.RawMessage(`{"`+n+`":"a","`+c+`":null,"99":[1,2]}`), "merged values (null kept)")
	jsonEqual(t, got[1].Values, json.RawMessage(`{"`+n+`":"b","`+c+`":7}`), "values given a cell")
	if got[0].Version != 2 || got[1].Version != 2 || got[0].UpdatedAt.Before(got[0].CreatedAt) ||
		got[0].Order != rows[0].Order || got[0].ID != rows[0].ID {
		t.Fatalf("updated rows %+v", got)
	}
	r := must(s.Row(ctx, f.table.ID, rows[0].ID)).get(t)
	jsonEqual(t, r.Values, got[0].Values, "stored merged values")

	// A stale version conflicts, and the whole batch is rolled back.
	err := s.Update(ctx, func(tx Tx) error {
		if _, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[1].ID, Values: json.RawMessage(`{"` + c + `":8}`)}}); err != nil {
			return err
		}
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`{}`), ExpectedVersion: 1}})
		return err
	})
	wantErr(t, err, ErrConflict, "a stale version")
	if r := must(s.Row(ctx, f.table.ID, rows[1].ID)).get(t); r.Version != 2 {
		t.Fatalf("rolled back update left version %d", r.Version)
	}
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: 999999, Values: json.RawMessage(`{}`), ExpectedVersion: 3}})
		return err
	})
	wantErr(t, err, ErrNotFound, "update a missing row")
	other := newFixture(t, s)
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.UpdateRows(ctx, other.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`{}`)}})
		return err
	})
	wantErr(t, err, ErrNotFound, "update a row through another table")
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`"x"`)}})
		return err
	})
	wantErr(t, err, ErrInvalid, "values that are not an object")
	// The right version passes.
	update(t, s, func(ctx context.Context, tx Tx) error {
		u := must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"z"}`), ExpectedVersion: 2}})).get(t)
		if u[0].Version != 3 {
			t.Errorf("version %d, want 3", u[0].Version)
		}
		return nil
	})
	// A version given with the expected one is the row's new version.
	update(t, s, func(ctx context.Context, tx Tx) error {
		u := must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`{}`), ExpectedVersion: 3, Version: 7}})).get(t)
		if u[0].Version != 7 {
			t.Errorf("version %d, want 7", u[0].Version)
		}
		return nil
	})
	for _, bad := range []RowUpdate{{ID: rows[0].ID, Version: 9}, {ID: rows[0].ID, ExpectedVersion: 7, Version: 7}} {
		err := s.Update(ctx, func(tx Tx) error {
			_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{bad})
			return err
		})
		wantErr(t, err, ErrInvalid, "a version without an expected one below it")
	}

	// Encoded values are stored without being checked again; anything but
	// an object is still refused.
	encoded := `{"` + c + `":8,"` + n + `":"x y"}`
	update(t, s, func(ctx context.Context, tx Tx) error {
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[1].ID, Values: json.RawMessage(encoded), Encoded: true}})
		return err
	})
	jsonEqual(t, must(s.Row(ctx, f.table.ID, rows[1].ID)).get(t).Values, json.RawMessage(encoded), "encoded values")
	for _, bad := range []string{``, `[]`, `"x"`} {
		err := s.Update(ctx, func(tx Tx) error {
			_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[1].ID, Values: json.RawMessage(bad), Encoded: true}})
			return err
		})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("encoded values %q: %v, want ErrInvalid", bad, err)
		}
	}
	err = s.Update(ctx, func(tx Tx) error {
		_, err := tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, ExpectedVersion: 6, Version: 9}})
		return err
	})
	wantErr(t, err, ErrConflict, "a version given with a stale expected one")

	// WriteRows writes as UpdateRows does, without the rows back.
	before := must(s.Row(ctx, f.table.ID, rows[1].ID)).get(t)
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{{ID: rows[1].ID, Values: json.RawMessage(`{"` + c + `":9}`),
			Encoded: true, ExpectedVersion: before.Version, Version: before.Version + 3}})
	})
	if r := must(s.Row(ctx, f.table.ID, rows[1].ID)).get(t); r.Version != before.Version+3 {
		t.Fatalf("after WriteRows: version %d, want %d", r.Version, before.Version+3)
	} else {
		jsonEqual(t, r.Values, json.RawMessage(`{"`+c+`":9,"`+n+`":"x y"}`), "values written by WriteRows")
	}
	for _, bad := range []struct {
		u    RowUpdate
		want error
	}{
		{RowUpdate{ID: rows[1].ID, Values: json.RawMessage(`{}`), ExpectedVersion: before.Version}, ErrConflict},
		{RowUpdate{ID: 999999, Values: json.RawMessage(`{}`)}, ErrNotFound},
		{RowUpdate{ID: rows[1].ID, Values: json.RawMessage(`[]`)}, ErrInvalid},
	} {
		err := s.Update(ctx, func(tx Tx) error { return tx.WriteRows(ctx, f.table.ID, []RowUpdate{bad.u}) })
		wantErr(t, err, bad.want, fmt.Sprintf("WriteRows(%+v)", bad.u))
	}
	// Several rows: each gets its cells, in the order given when a row is
	// named twice; a stale row fails them all.
	heads := []Row{must(s.Row(ctx, f.table.ID, rows[0].ID)).get(t), must(s.Row(ctx, f.table.ID, rows[1].ID)).get(t)}
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"p","` + c + `":1}`), ExpectedVersion: heads[0].Version},
			{ID: rows[1].ID, Values: json.RawMessage(`{"` + n + `":"q"}`), ExpectedVersion: heads[1].Version},
		})
	})
	for i, want := range []string{`{"` + n + `":"p","` + c + `":1,"99":[1,2]}`, `{"` + n + `":"q","` + c + `":9}`} {
		r := must(s.Row(ctx, f.table.ID, rows[i].ID)).get(t)
		jsonEqual(t, r.Values, json.RawMessage(want), fmt.Sprintf("row %d after WriteRows of two rows", i))
		if r.Version != heads[i].Version+1 {
			t.Errorf("row %d after WriteRows of two rows: version %d, want %d", i, r.Version, heads[i].Version+1)
		}
	}
	update(t, s, func(ctx context.Context, tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"first"}`)},
			{ID: rows[1].ID, Values: json.RawMessage(`{"` + n + `":"r"}`)},
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"second","` + c + `":2}`)},
		})
	})
	if r := must(s.Row(ctx, f.table.ID, rows[0].ID)).get(t); r.Version != heads[0].Version+3 {
		t.Errorf("a row named twice: version %d, want %d", r.Version, heads[0].Version+3)
	} else {
		jsonEqual(t, r.Values, json.RawMessage(`{"`+n+`":"second","`+c+`":2,"99":[1,2]}`), "a row named twice")
	}
	err = s.Update(ctx, func(tx Tx) error {
		return tx.WriteRows(ctx, f.table.ID, []RowUpdate{
			{ID: rows[0].ID, Values: json.RawMessage(`{"` + n + `":"lost"}`)},
			{ID: rows[1].ID, Values: json.RawMessage(`{"` + n + `":"lost"}`), ExpectedVersion: heads[1].Version},
		})
	})
	wantErr(t, err, ErrConflict, "WriteRows with a stale second row")
	if r := must(s.Row(ctx, f.table.ID, rows[0].ID)).get(t); strings.Contains(string(r.Values), "lost") {
		t.Errorf("a failed WriteRows left its first row written: %s", r.Values)
	}
	// A caller's time becomes updated_at, to the microsecond.
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	update(t, s, func(ctx context.Context, tx Tx) error {
		must(tx.UpdateRows(ctx, f.table.ID, []RowUpdate{{ID: rows[0].ID, Values: json.RawMessage(`{}`), At: at}})).get(t)
		return nil
	})
	if r := must(s.Row(ctx, f.table.ID, rows[0].ID)).get(t); !r.UpdatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("updated_at %v, want %v", r.UpdatedAt, at.Truncate(time.Microsecond))
	}
}

func contractDeleteRows(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	rows := insertRows(t, s, f.table.ID, 0, `{}`, `{}`, `{}`, `{}`).Rows
	other := newFixture(t, s)
	otherRow := insertRows(t, s, other.table.ID, 0, `{}`).Rows[0]
	update(t, s, func(ctx context.Context, tx Tx) error {
		del := must(tx.DeleteRows(ctx, f.table.ID, []int64{rows[3].ID, rows[1].ID, 999999, otherRow.ID})).get(t)
		if !slices.Equal(del, []int64{rows[1].ID, rows[3].ID}) {
			t.Errorf("DeleteRows = %v", del)
		}
		if del := must(tx.DeleteRows(ctx, f.table.ID, nil)).get(t); len(del) != 0 {
			t.Errorf("DeleteRows(nil) = %v", del)
		}
		return nil
	})
	if got := rowIDs(allRows(t, s, f.table.ID)); !slices.Equal(got, []int64{rows[0].ID, rows[2].ID}) {
		t.Fatalf("rows left %v", got)
	}
	if _, err := s.Row(ctx, other.table.ID, otherRow.ID); err != nil {
		t.Fatalf("another table's row was deleted: %v", err)
	}
}

// checkCellBodies: on SQLite every long value is kept apart, in a body
// that exactly one line of row_cells holds, and no body is left without
// its line. PostgreSQL keeps no bodies.
func checkCellBodies(t *testing.T, s Store, what string) {
	t.Helper()
	st, ok := s.(*SQLiteStore)
	if !ok {
		return
	}
	var bodies, held, joined, longInline int
	err := sqliteMigrator{st}.inMigrationTx(testCtx(t), func(q querier) error {
		return q.queryRow(testCtx(t), `SELECT (SELECT count(*) FROM cell_bodies),
			(SELECT count(*) FROM row_cells WHERE body IS NOT NULL),
			(SELECT count(DISTINCT b.id) FROM row_cells c JOIN cell_bodies b ON b.id = c.body),
			(SELECT count(*) FROM row_cells WHERE octet_length(value) > ?)`, cellInlineMax).Scan(&bodies, &held, &joined, &longInline)
	})
	if err != nil {
		t.Fatal(err)
	}
	if bodies != held || held != joined || longInline != 0 {
		t.Errorf("%s: %d cell bodies, %d lines holding one, %d held by a line; %d long values in their lines",
			what, bodies, held, joined, longInline)
	}
}
