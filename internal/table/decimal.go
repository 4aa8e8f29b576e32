package table

import (
	"bytes"
	"strings"
)

// Numbers are exact decimals, never floats: a value is parsed into digits and
// an exponent, rounded in decimal, and stored as canonical text ("-12.50"),
// which is compared digit by digit without parsing into another type.

const (
	maxNumberInput = 1000 // bytes of a number as given by a client
	maxFilterInt   = 50   // integer digits of a number filter value
	maxFilterFrac  = 100  // fractional digits of a number filter value
)

// decimal is a parsed number: sign × digits × 10^exp. digits has no leading
// zeros; empty digits is zero.
type decimal struct {
	neg    bool
	digits []byte
	exp    int
}

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits], with at least one
// digit before or after the point. Spaces are not allowed; callers trim.
func parseDecimal(s []byte) (decimal, bool) {
	var d decimal
	if len(s) == 0 || len(s) > maxNumberInput {
		return d, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		d.neg = s[0] == '-'
		i++
	}
	digits := make([]byte, 0, len(s))
	frac, seen, dot := 0, 0, false
mantissa:
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			seen++
			if dot {
				frac++
			}
			digits = append(digits, c)
		case c == '.' && !dot:
			dot = true
		default:
			break mantissa
		}
	}
	if seen == 0 {
		return d, false
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return d, false
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return d, false
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return d, false
			}
			if exp < 1_000_000 { // saturate: far beyond any accepted size
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// leading zeros, before or after the point, carry no value
	k := 0
	for k < len(digits) && digits[k] == '0' {
		k++
	}
	d.digits = digits[k:]
	d.exp = exp - frac
	if len(d.digits) == 0 {
		d.neg = false
	}
	return d, true
}

// format rounds d half away from zero to places decimals and writes it as
// canonical text: an optional '-', the integer digits without leading zeros
// ("0" when none), and exactly places fractional digits after a '.'.
// It reports false when the integer part has more than maxInt digits.
func (d decimal) format(places, maxInt int) (string, bool) {
	kept := d.digits
	exp := d.exp
	if exp < -places {
		drop := -exp - places
		switch {
		case drop > len(kept):
			kept = nil
		case drop == len(kept):
			if kept[0] >= '5' {
				kept = []byte{'1'}
			} else {
				kept = nil
			}
		default:
			up := kept[len(kept)-drop] >= '5'
			kept = append([]byte(nil), kept[:len(kept)-drop]...)
			if up {
				kept = incrementDigits(kept)
			}
		}
		exp = -places
	}
	if len(kept) == 0 {
		kept, exp = nil, 0
	}
	intDigits := len(kept) + exp
	if len(kept) > 0 && intDigits > maxInt {
		return "", false
	}
	var b []byte
	if d.neg && len(kept) > 0 {
		b = append(b, '-')
	}
	if exp >= 0 {
		if len(kept) == 0 {
			b = append(b, '0')
		} else {
			b = append(b, kept...)
			b = append(b, bytes.Repeat([]byte{'0'}, exp)...)
		}
		if places > 0 {
			b = append(b, '.')
			b = append(b, bytes.Repeat([]byte{'0'}, places)...)
		}
		return string(b), true
	}
	f := -exp // 0 < f <= places
	if len(kept) > f {
		b = append(b, kept[:len(kept)-f]...)
		b = append(b, '.')
		b = append(b, kept[len(kept)-f:]...)
	} else {
		b = append(b, '0', '.')
		b = append(b, bytes.Repeat([]byte{'0'}, f-len(kept))...)
		b = append(b, kept...)
	}
	b = append(b, bytes.Repeat([]byte{'0'}, places-f)...)
	return string(b), true
}

// incrementDigits adds one to a decimal digit string, growing it on carry.
func incrementDigits(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != '9' {
			b[i]++
			return b
		}
		b[i] = '0'
	}
	return append([]byte{'1'}, b...)
}

// decView is a number ready for comparison: integer digits without leading
// zeros and fractional digits without trailing zeros. Zero has both empty and
// neg false. Its slices may point into the text it was read from.
type decView struct {
	neg    bool
	ip, fp []byte
}

// exact returns d without rounding, or false when it has more than
// maxFilterInt integer or maxFilterFrac fractional digits.
func (d decimal) exact() (decView, bool) {
	if len(d.digits) == 0 {
		return decView{}, true
	}
	if len(d.digits)+d.exp > maxFilterInt || -d.exp > maxFilterFrac {
		return decView{}, false
	}
	v := decView{neg: d.neg}
	if d.exp >= 0 {
		v.ip = append(append([]byte(nil), d.digits...), bytes.Repeat([]byte{'0'}, d.exp)...)
	} else if f := -d.exp; len(d.digits) > f {
		v.ip = d.digits[:len(d.digits)-f]
		v.fp = d.digits[len(d.digits)-f:]
	} else {
		v.fp = append(bytes.Repeat([]byte{'0'}, f-len(d.digits)), d.digits...)
	}
	v.fp = bytes.TrimRight(v.fp, "0")
	return v, true
}

// viewNumber reads a stored number: the text [-]digits[.digits], bare or as a
// JSON string. It does not allocate. It reports false for anything else,
// which the caller treats as an empty cell.
func viewNumber(raw []byte) (decView, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	var v decView
	if len(raw) > 0 && raw[0] == '-' {
		v.neg = true
		raw = raw[1:]
	}
	dot := bytes.IndexByte(raw, '.')
	ip, fp := raw, raw[:0]
	if dot >= 0 {
		ip, fp = raw[:dot], raw[dot+1:]
	}
	if len(ip) == 0 || !allDigits(ip) || !allDigits(fp) || (dot >= 0 && len(fp) == 0) {
		return decView{}, false
	}
	for len(ip) > 0 && ip[0] == '0' {
		ip = ip[1:]
	}
	for len(fp) > 0 && fp[len(fp)-1] == '0' {
		fp = fp[:len(fp)-1]
	}
	v.ip, v.fp = ip, fp
	if len(ip) == 0 && len(fp) == 0 {
		v.neg = false
	}
	return v, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// cmpDec compares two numbers: -1, 0 or +1.
func cmpDec(a, b decView) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmpAbs(a, b)
	if a.neg {
		return -c
	}
	return c
}

func cmpAbs(a, b decView) int {
	if len(a.ip) != len(b.ip) {
		if len(a.ip) < len(b.ip) {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(a.ip, b.ip); c != 0 {
		return c
	}
	// fractional digits without trailing zeros compare as strings
	return bytes.Compare(a.fp, b.fp)
}

// numberJSON is a number as stored and sent: d rounded half away from zero
// to places decimals, written as a JSON number without trailing zeros or
// exponent ("12.5", "-3", "0"). ok is false when the rounded number has
// more than MaxNumberDigits significant digits or integer digits: beyond
// them, a client's IEEE double (a JavaScript number) cannot hold it exactly.
func (d decimal) numberJSON(places int) (string, bool) {
	s, ok := d.format(places, MaxNumberDigits)
	if !ok {
		return "", false
	}
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	sig := 0
	started := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			started = true
		}
		if started {
			sig++
		}
	}
	if sig > MaxNumberDigits {
		return "", false
	}
	return s, true
}

// FormatNumber writes a stored number (a JSON number, or the decimal
// string older versions stored) with exactly places decimals, as Baserow
// sends numbers ("2.50"). ok is false for anything else.
func FormatNumber(raw []byte, places int) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	d, ok := parseDecimal(raw)
	if !ok {
		return "", false
	}
	return d.format(places, maxFilterInt)
}
