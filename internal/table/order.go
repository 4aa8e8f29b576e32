package table

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
)

// Order is a row's place in its table, Baserow's row order: a non-negative
// decimal with 20 fractional digits, written "1.00000000000000000000". It is
// exact: a 128-bit integer counting units of 10^-20. The zero Order is 0,
// the place before every row. Orders compare with Compare (and == works).
type Order struct {
	hi, lo uint64
}

// OrderFractionDigits is the number of digits after the point of an Order.
const OrderFractionDigits = 20

// MaxOrderInteger bounds the integer part of an Order: at most 18 digits.
const MaxOrderInteger = 999_999_999_999_999_999

const e10 = 10_000_000_000

var errOrderSyntax = errors.New("table: a row order is a non-negative decimal with at most 18 integer and 20 fractional digits")

// OrderOf returns the whole number n as an Order, as when rows are
// renumbered 1, 2, 3...; n must be from 0 to MaxOrderInteger.
func OrderOf(n uint64) Order {
	if n > MaxOrderInteger {
		n = MaxOrderInteger
	}
	o, _ := mulAdd(Order{lo: n}, e10, 0)
	o, _ = mulAdd(o, e10, 0)
	return o
}

// ParseOrder reads "1", "1.5" or "1.00000000000000000000".
func ParseOrder(s string) (Order, error) {
	ip, fp, dot := s, "", false
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			ip, fp, dot = s[:i], s[i+1:], true
			break
		}
	}
	if ip == "" || len(ip) > 18 || len(fp) > OrderFractionDigits || (dot && fp == "") ||
		!allDigits([]byte(ip)) || !allDigits([]byte(fp)) {
		return Order{}, errOrderSyntax
	}
	n, _ := strconv.ParseUint(ip, 10, 64)
	var frac [OrderFractionDigits]byte
	for i := range frac {
		frac[i] = '0'
	}
	copy(frac[:], fp)
	hi, _ := strconv.ParseUint(string(frac[:10]), 10, 64)
	lo, _ := strconv.ParseUint(string(frac[10:]), 10, 64)
	o := OrderOf(n)
	// o += hi*10^10 + lo
	h, l := bits.Mul64(hi, e10)
	o = add(o, Order{hi: h, lo: l})
	o = add(o, Order{lo: lo})
	return o, nil
}

// MustParseOrder is ParseOrder for constants; it panics on an error.
func MustParseOrder(s string) Order {
	o, err := ParseOrder(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String writes the order with exactly 20 fractional digits.
func (o Order) String() string {
	return string(o.appendText(nil, false))
}

// SortKey writes the order with its integer part padded to 18 digits, so
// that keys sort as text the way orders sort as numbers (for a store that
// keeps orders in a text column).
func (o Order) SortKey() string {
	return string(o.appendText(nil, true))
}

func (o Order) appendText(b []byte, pad bool) []byte {
	q, r1 := divmod(o, e10)
	q, r2 := divmod(q, e10)
	// q < 10^18 fits in lo
	ip := strconv.FormatUint(q.lo, 10)
	if pad {
		b = append(b, bytes.Repeat([]byte{'0'}, 18-len(ip))...)
	}
	b = append(b, ip...)
	b = append(b, '.')
	b = appendPadded(b, r2)
	return appendPadded(b, r1)
}

func appendPadded(b []byte, n uint64) []byte {
	s := strconv.FormatUint(n, 10)
	b = append(b, bytes.Repeat([]byte{'0'}, 10-len(s))...)
	return append(b, s...)
}

// Compare returns -1, 0 or +1 as o is before, at or after p.
func (o Order) Compare(p Order) int {
	switch {
	case o.hi != p.hi:
		return cmp.Compare(o.hi, p.hi)
	default:
		return cmp.Compare(o.lo, p.lo)
	}
}

// IsZero reports whether o is 0.
func (o Order) IsZero() bool { return o == Order{} }

// OrderAfter returns the order of a row placed after last: the next whole
// number above it (floor(last) + 1), as Baserow numbers appended rows. It
// returns ErrOrderExhausted past MaxOrderInteger; renumber then.
func OrderAfter(last Order) (Order, error) {
	q, _ := divmod(last, e10)
	q, _ = divmod(q, e10)
	if q.lo >= MaxOrderInteger {
		return Order{}, ErrOrderExhausted
	}
	return OrderOf(q.lo + 1), nil
}

// OrderBetween returns an order strictly between a and b (in either
// argument order): their midpoint, cut to 20 fractional digits. When a and b
// are 10^-20 apart or equal there is none and it returns ErrOrderExhausted:
// the caller renumbers the rows and tries again. Inserting again and again
// before the same row halves the gap each time: from a gap of 1, 66 rows fit
// before renumbering is needed.
func OrderBetween(a, b Order) (Order, error) {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	// both are below 10^38 < 2^127, so the sum does not overflow
	s := add(a, b)
	mid := Order{hi: s.hi >> 1, lo: s.lo>>1 | s.hi<<63}
	if mid == a {
		return Order{}, ErrOrderExhausted
	}
	return mid, nil
}

// MarshalJSON writes the order as a JSON string, as Baserow does.
func (o Order) MarshalJSON() ([]byte, error) {
	b := append([]byte{'"'}, o.appendText(nil, false)...)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a string or a number.
func (o *Order) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := ParseOrder(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// MarshalText writes String().
func (o Order) MarshalText() ([]byte, error) { return o.appendText(nil, false), nil }

// UnmarshalText reads what ParseOrder reads.
func (o *Order) UnmarshalText(b []byte) error {
	v, err := ParseOrder(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

func add(a, b Order) Order {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, carry)
	return Order{hi: hi, lo: lo}
}

// mulAdd returns o*m + c and whether it overflowed 128 bits.
func mulAdd(o Order, m, c uint64) (Order, bool) {
	h1, l1 := bits.Mul64(o.lo, m)
	h2, l2 := bits.Mul64(o.hi, m)
	lo, carry := bits.Add64(l1, c, 0)
	hi, carry2 := bits.Add64(h1, l2, carry)
	return Order{hi: hi, lo: lo}, h2 != 0 || carry2 != 0
}

// divmod returns o / d and o % d.
func divmod(o Order, d uint64) (Order, uint64) {
	qhi, r := o.hi/d, o.hi%d
	qlo, r := bits.Div64(r, o.lo, d)
	return Order{hi: qhi, lo: qlo}, r
}
