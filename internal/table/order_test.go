package table

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOrderParseString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0.00000000000000000000"},
		{"1", "1.00000000000000000000"},
		{"1.5", "1.50000000000000000000"},
		{"1.00000000000000000000", "1.00000000000000000000"},
		{"0.00000000000000000001", "0.00000000000000000001"},
		{"12345678901234567.12345678901234567890", "12345678901234567.12345678901234567890"},
		{"999999999999999999.99999999999999999999", "999999999999999999.99999999999999999999"},
		{"007", "7.00000000000000000000"},
	}
	for _, tt := range tests {
		o, err := ParseOrder(tt.in)
		if err != nil || o.String() != tt.want {
			t.Errorf("ParseOrder(%q) = %v, %v; want %s", tt.in, o, err, tt.want)
		}
	}
	for _, bad := range []string{"", ".", "1.", ".5", "-1", "+1", "1e3", " 1", "1.000000000000000000001", "1000000000000000000", "a", "1.2.3"} {
		if _, err := ParseOrder(bad); err == nil {
			t.Errorf("ParseOrder(%q) accepted", bad)
		}
	}
	if OrderOf(3).String() != "3.00000000000000000000" || !OrderOf(0).IsZero() {
		t.Error("OrderOf")
	}
	if got := MustParseOrder("12.5").SortKey(); got != "000000000000000012.50000000000000000000" {
		t.Errorf("SortKey = %s", got)
	}
}

func TestOrderCompareAndSortKey(t *testing.T) {
	in := []string{"10", "9.99999999999999999999", "0", "1.5", "1.25", "100000000000000000", "0.00000000000000000001"}
	orders := make([]Order, len(in))
	for i, s := range in {
		orders[i] = MustParseOrder(s)
	}
	byValue := slices.Clone(orders)
	slices.SortFunc(byValue, Order.Compare)
	byKey := slices.Clone(orders)
	slices.SortFunc(byKey, func(a, b Order) int { return strings.Compare(a.SortKey(), b.SortKey()) })
	if !slices.Equal(byValue, byKey) {
		t.Errorf("SortKey order %v differs from value order %v", byKey, byValue)
	}
	want := []string{"0", "0.00000000000000000001", "1.25", "1.5", "9.99999999999999999999", "10", "100000000000000000"}
	for i, w := range want {
		if byValue[i] != MustParseOrder(w) {
			t.Errorf("position %d: %v, want %s", i, byValue[i], w)
		}
	}
}

func TestOrderAfter(t *testing.T) {
	tests := []struct{ last, want string }{
		{"0", "1"}, {"1", "2"}, {"1.5", "2"}, {"1.99999999999999999999", "2"}, {"41", "42"},
	}
	for _, tt := range tests {
		got, err := OrderAfter(MustParseOrder(tt.last))
		if err != nil || got != MustParseOrder(tt.want) {
			t.Errorf("OrderAfter(%s) = %v, %v; want %s", tt.last, got, err, tt.want)
		}
	}
	if _, err := OrderAfter(MustParseOrder("999999999999999999")); !errors.Is(err, ErrOrderExhausted) {
		t.Errorf("OrderAfter at the maximum: %v", err)
	}
}

func TestOrderBetween(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1", "2", "1.5"},
		{"2", "1", "1.5"},
		{"0", "1", "0.5"},
		{"1", "1.00000000000000000002", "1.00000000000000000001"},
		{"1", "1.00000000000000000003", "1.00000000000000000001"},
		{"999999999999999998", "999999999999999999.99999999999999999999", "999999999999999998.99999999999999999999"},
	}
	for _, tt := range tests {
		got, err := OrderBetween(MustParseOrder(tt.a), MustParseOrder(tt.b))
		if err != nil || got != MustParseOrder(tt.want) {
			t.Errorf("OrderBetween(%s, %s) = %v, %v; want %s", tt.a, tt.b, got, err, tt.want)
		}
	}
	for _, pair := range [][2]string{{"1", "1"}, {"1", "1.00000000000000000001"}, {"0", "0.00000000000000000001"}} {
		if _, err := OrderBetween(MustParseOrder(pair[0]), MustParseOrder(pair[1])); !errors.Is(err, ErrOrderExhausted) {
			t.Errorf("OrderBetween(%s, %s): %v, want ErrOrderExhausted", pair[0], pair[1], err)
		}
	}

	// Inserting before the same row again and again: every order is strictly
	// between its neighbours until the precision runs out, after 66 rows.
	prev, next := MustParseOrder("1"), MustParseOrder("2")
	n := 0
	for {
		mid, err := OrderBetween(prev, next)
		if errors.Is(err, ErrOrderExhausted) {
			break
		}
		if err != nil || mid.Compare(prev) <= 0 || mid.Compare(next) >= 0 {
			t.Fatalf("step %d: %v between %v and %v (%v)", n, mid, prev, next, err)
		}
		next = mid
		n++
	}
	if n != 66 {
		t.Errorf("%d inserts fit before the same row, want 66", n)
	}
}

func TestOrderJSON(t *testing.T) {
	var v struct {
		Order Order `json:"order"`
	}
	if err := json.Unmarshal([]byte(`{"order":"2.50000000000000000000"}`), &v); err != nil || v.Order != MustParseOrder("2.5") {
		t.Fatalf("from a string: %v, %v", v.Order, err)
	}
	if err := json.Unmarshal([]byte(`{"order":3}`), &v); err != nil || v.Order != OrderOf(3) {
		t.Fatalf("from a number: %v, %v", v.Order, err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"order":"3.00000000000000000000"}` {
		t.Errorf("JSON = %s", b)
	}
	for _, bad := range []string{`{"order":-1}`, `{"order":"x"}`, `{"order":true}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	var o Order
	if err := o.UnmarshalText([]byte("4.25")); err != nil || o != MustParseOrder("4.25") {
		t.Error("UnmarshalText")
	}
	if txt, _ := o.MarshalText(); string(txt) != "4.25000000000000000000" {
		t.Errorf("MarshalText = %s", txt)
	}
	if o.UnmarshalText([]byte("-")) == nil {
		t.Error("UnmarshalText accepted -")
	}
}
