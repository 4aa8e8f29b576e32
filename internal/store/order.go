package store

import (
	"fmt"
	"math/big"
	"strings"
)

// Row orders are non-negative decimals with orderScale fraction digits, below
// 10^18: PostgreSQL keeps them as NUMERIC(40,20), SQLite as TEXT of fixed width
// (integer part zero-padded to 20 digits, a dot, 20 fraction digits: 41
// characters), whose byte order is the numeric order. The bound 10^18 (not the
// columns' 10^20) keeps the integer part within an SQLite INTEGER, which the
// shift of InsertRows relies on; new rows at the end take the next integer, so
// it is never reached in practice.
// In Go they are big.Ints counting units of 10^-20. The canonical string,
// the one Row.Order holds, has no leading zeros and all 20 fraction digits:
// "1.00000000000000000000".
const (
	orderScale     = 20
	orderIntWidth  = 20 // digits of the integer part in SQLite's padded form
	orderIntDigits = 18 // orders are below 10^orderIntDigits
)

var (
	orderUnit  = new(big.Int).Exp(big.NewInt(10), big.NewInt(orderScale), nil)                // 1.0
	orderLimit = new(big.Int).Exp(big.NewInt(10), big.NewInt(orderScale+orderIntDigits), nil) // 10^18 as an order
)

// parseOrder reads a decimal order: digits, optionally a dot and at most 20
// fraction digits. Leading zeros are accepted (the SQLite column has them).
func parseOrder(s string) (*big.Int, error) {
	intPart, frac, dot := strings.Cut(s, ".")
	if intPart == "" || (dot && frac == "") || len(frac) > orderScale || !allDigits(intPart) || !allDigits(frac) {
		return nil, fmt.Errorf("%w: row order %q is not a decimal like 1.5", ErrInvalid, s)
	}
	n, ok := new(big.Int).SetString(intPart+frac+strings.Repeat("0", orderScale-len(frac)), 10)
	if !ok || n.Cmp(orderLimit) >= 0 {
		return nil, fmt.Errorf("%w: row order %q is out of range", ErrInvalid, s)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatOrder writes n in the canonical form.
func formatOrder(n *big.Int) string {
	s := n.String()
	if len(s) <= orderScale {
		s = strings.Repeat("0", orderScale+1-len(s)) + s
	}
	return s[:len(s)-orderScale] + "." + s[len(s)-orderScale:]
}

// paddedOrder writes n in SQLite's fixed-width form.
func paddedOrder(n *big.Int) string {
	s := formatOrder(n)
	return strings.Repeat("0", orderIntWidth+1+orderScale-len(s)) + s
}

// canonicalOrder turns an order read from either engine into the canonical form.
func canonicalOrder(s string) (string, error) {
	n, err := parseOrder(s)
	if err != nil {
		return "", err
	}
	return formatOrder(n), nil
}

// ordersAfter returns n orders after last: the integers following its integer part.
func ordersAfter(last *big.Int, n int) ([]*big.Int, error) {
	next := new(big.Int).Div(last, orderUnit) // floor: last is non-negative
	out := make([]*big.Int, n)
	for i := range out {
		next.Add(next, big.NewInt(1))
		out[i] = new(big.Int).Mul(next, orderUnit)
	}
	if out[n-1].Cmp(orderLimit) >= 0 {
		return nil, fmt.Errorf("%w: row orders exhausted", ErrInvalid)
	}
	return out, nil
}

// ordersBetween returns n orders strictly between lo and hi, evenly spaced,
// or nil when the gap has fewer than n free units.
func ordersBetween(lo, hi *big.Int, n int) []*big.Int {
	step := new(big.Int).Sub(hi, lo)
	step.Div(step, big.NewInt(int64(n)+1))
	if step.Sign() == 0 {
		return nil
	}
	out := make([]*big.Int, n)
	cur := new(big.Int).Set(lo)
	for i := range out {
		cur.Add(cur, step)
		out[i] = new(big.Int).Set(cur)
	}
	return out
}
