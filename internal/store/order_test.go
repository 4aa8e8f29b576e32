package store

import (
	"errors"
	"math/big"
	"testing"
)

func TestOrderForms(t *testing.T) {
	for _, tc := range []struct{ in, canonical, padded string }{
		{"1", "1.00000000000000000000", "00000000000000000001.00000000000000000000"},
		{"0.5", "0.50000000000000000000", "00000000000000000000.50000000000000000000"},
		{"00000000000000000012.25000000000000000000", "12.25000000000000000000", "00000000000000000012.25000000000000000000"},
		{"999999999999999999.99999999999999999999", "999999999999999999.99999999999999999999",
			"00999999999999999999.99999999999999999999"},
		{"0.00000000000000000001", "0.00000000000000000001", "00000000000000000000.00000000000000000001"},
	} {
		n, err := parseOrder(tc.in)
		if err != nil {
			t.Fatalf("parseOrder(%q): %v", tc.in, err)
		}
		if got := formatOrder(n); got != tc.canonical {
			t.Errorf("formatOrder(%q) = %q, want %q", tc.in, got, tc.canonical)
		}
		if got := paddedOrder(n); got != tc.padded || len(got) != 41 {
			t.Errorf("paddedOrder(%q) = %q, want %q", tc.in, got, tc.padded)
		}
	}
	for _, bad := range []string{"", ".5", "1.", "-1", "1e3", "1.000000000000000000001", "1000000000000000000", "x"} {
		if _, err := parseOrder(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseOrder(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestOrdersBetween(t *testing.T) {
	lo, _ := parseOrder("1")
	hi, _ := parseOrder("2")
	got := ordersBetween(lo, hi, 3)
	want := []string{"1.25000000000000000000", "1.50000000000000000000", "1.75000000000000000000"}
	for i := range want {
		if formatOrder(got[i]) != want[i] {
			t.Fatalf("ordersBetween = %v", got)
		}
	}
	// No room: one unit apart.
	if ordersBetween(big.NewInt(5), big.NewInt(6), 1) != nil {
		t.Fatal("found room between adjacent units")
	}
	after, err := ordersAfter(mustOrder(t, "2.5"), 2)
	if err != nil || formatOrder(after[0]) != "3.00000000000000000000" || formatOrder(after[1]) != "4.00000000000000000000" {
		t.Fatalf("ordersAfter = %v, %v", after, err)
	}
	if _, err := ordersAfter(mustOrder(t, "999999999999999999"), 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ordersAfter at the limit: %v", err)
	}
}

func mustOrder(t *testing.T, s string) *big.Int {
	t.Helper()
	n, err := parseOrder(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
