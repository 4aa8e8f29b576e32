package event

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/jsonscan"
	"github.com/tablecast/tablecast/internal/table"
)

// AppendRowJSON appends r's JSON, as json.Marshal writes it, without its
// cost on the path of every submit: cell values are appended as they are
// (they are compact JSON already: normalized by their field, or read back
// from the store), where json.Marshal would scan and compact each again.
func AppendRowJSON(b []byte, r Row) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"order":`...)
	b = jsonscan.AppendString(b, r.Order)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	b = append(b, `,"fields":`...)
	if r.Fields == nil {
		b = append(b, "null"...)
	} else {
		b = AppendValues(b, r.Fields)
	}
	b = append(b, `,"created_at":`...)
	var err error
	if b, err = appendTime(b, r.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendTime(b, r.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendValues appends a row's cells as a JSON object, in the order
// json.Marshal writes a map's (its keys sorted as strings), growing b once.
func AppendValues(b []byte, vals table.Values) []byte {
	ids := make([]int64, 0, len(vals))
	n := 2
	for id, v := range vals {
		ids = append(ids, id)
		n += len(v) + len(`,"-9223372036854775808":null`)
	}
	slices.SortFunc(ids, compareDecimal)
	b = slices.Grow(b, n)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `":`...)
		v := vals[id]
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		b = append(b, v...)
	}
	return append(b, '}')
}

// compareDecimal orders x and y as their decimal forms compare as strings,
// without writing them: a number comes before the longer ones it is a
// prefix of.
func compareDecimal(x, y int64) int {
	if x < 0 || y < 0 {
		return strings.Compare(strconv.FormatInt(x, 10), strconv.FormatInt(y, 10))
	}
	dx, dy := digits(x), digits(y)
	switch {
	case dx == dy:
		return cmp.Compare(x, y)
	case dx < dy:
		if c := cmp.Compare(x, y/pow10[dy-dx]); c != 0 {
			return c
		}
		return -1
	default:
		if c := cmp.Compare(x/pow10[dx-dy], y); c != 0 {
			return c
		}
		return 1
	}
}

var pow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// digits is the number of decimal digits of x >= 0.
func digits(x int64) int {
	n := 1
	for n < len(pow10) && x >= pow10[n] {
		n++
	}
	return n
}

// appendTime appends t as its MarshalJSON writes it, without a copy.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b, err := t.AppendText(append(b, '"'))
	if err != nil {
		return nil, fmt.Errorf("event: time %v: %w", t, err)
	}
	return append(b, '"'), nil
}
