package event

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/table"
)

// AppendRowJSON writes what json.Marshal writes, but for the escapes of
// <, > and & that json.Marshal adds inside cell values (the same JSON).
func TestAppendRowJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 5, 6, 7, 891011000, time.UTC)
	for _, r := range []Row{
		{},
		{ID: 7, Order: "1.00000000000000000000", Version: 12, CreatedAt: at, UpdatedAt: at.Add(time.Second),
			Fields: table.Values{1: json.RawMessage(`"a\"b<c>"`), 2: json.RawMessage(`null`), 10: json.RawMessage(`[1,"x"]`),
				3: json.RawMessage(`{"a":true}`), 25: json.RawMessage(`"2.50"`)}},
		{ID: 1, Order: "a\"<é>", Fields: table.Values{9: nil}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendRowJSON(nil, r)
		if err != nil || !json.Valid(got) {
			t.Fatalf("AppendRowJSON: %s %v", got, err)
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("AppendRowJSON:\n got %s\nwant %s", got, want)
		}
		if r.ID == 0 && string(got) != string(want) {
			t.Errorf("AppendRowJSON of the zero row:\n got %s\nwant %s", got, want)
		}
	}
}

// AppendCompactRowsUpdated writes what json.Marshal writes, byte for byte.
func TestAppendCompactRowsUpdated(t *testing.T) {
	at := time.Date(2026, 11, 22, 5, 6, 7, 891011000, time.UTC)
	h := RowHead{ID: 7, Order: "1.00000000000000000000", Version: 12, CreatedAt: at, UpdatedAt: at.Add(time.Second), UpdatedBefore: at}
	for _, c := range []struct {
		m       TableMeta
		op      string
		changed []int64
		d       Decimals
	}{
		{m: TableMeta{TableID: 3, WorkspaceID: 1, Actor: "alice", Origin: "c_1", Src: "s", Seq: 9,
			Reply: &SubmitReply{Collection: "record_3", Doc: 7, Tag: "native:1"}}, op: `[{"p":["fields","5",0],"si":"x"}]`, changed: []int64{5}},
		{m: TableMeta{TableID: 3, Actor: "a<b>&\"é\u2028", Reply: &SubmitReply{Collection: "record_3", Doc: 7,
			Fixup: json.RawMessage(`[ {"p":["fields","5"], "od":"a <b>", "oi":"x\u2029"} ]`)}},
			op: "[{\"p\":[\"fields\",\"5\",0],\"si\":\"<\u2028\"}]", changed: []int64{}, d: Decimals{10: 2, 9: 0, 100: 3}},
		{m: TableMeta{}, op: ``},
		{m: TableMeta{TableID: 1, Reply: &SubmitReply{}}, op: `[]`, changed: []int64{3, 10}, d: Decimals{}},
	} {
		ev := RowsUpdated{TableMeta: c.m, Row: &h, UpdatedFieldIDs: c.changed, Decimals: c.d}
		if c.op != "" {
			ev.Op = json.RawMessage(c.op)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendCompactRowsUpdated([]byte("x"), c.m, ev.Op, h, c.changed, c.d)
		if err != nil || string(got) != "x"+string(want) {
			t.Errorf("AppendCompactRowsUpdated:\n got %s, %v\nwant x%s", got, err, want)
		}
	}
}

// compareDecimal orders numbers as their decimal strings compare, and
// AppendValues writes cells in json.Marshal's order of map keys.
func TestCompareDecimal(t *testing.T) {
	nums := []int64{0, 1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 109, 110, 999, 1000, 12, 123, 1234, 12345,
		-1, -12, -2, 5e17, 999999999999999999, 1e18, 9223372036854775807, -9223372036854775808}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		nums = append(nums, r.Int64N(1e6), r.Int64())
	}
	for _, x := range nums {
		for _, y := range nums {
			want := strings.Compare(strconv.FormatInt(x, 10), strconv.FormatInt(y, 10))
			if got := compareDecimal(x, y); got != want {
				t.Fatalf("compareDecimal(%d, %d) = %d, want %d", x, y, got, want)
			}
		}
	}
	vals := table.Values{}
	for i, n := range nums[:40] {
		vals[n] = json.RawMessage(strconv.Itoa(i))
	}
	want, _ := json.Marshal(vals)
	if got := AppendValues([]byte("x"), vals); string(got) != "x"+string(want) {
		t.Fatalf("AppendValues:\n got %s\nwant x%s", got, want)
	}
}
