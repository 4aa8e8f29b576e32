package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
	b = appendJSONString(b, r.Order)
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

// AppendValues appends a row's cells as a JSON object.
func AppendValues(b []byte, vals table.Values) []byte {
	b = append(b, '{')
	keys := make([]string, 0, len(vals))
	for id := range vals {
		keys = append(keys, strconv.FormatInt(id, 10))
	}
	slices.Sort(keys) // json.Marshal sorts map keys as strings
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		id, _ := strconv.ParseInt(k, 10, 64)
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":`...)
		v := vals[id]
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		b = append(b, v...)
	}
	return append(b, '}')
}

// appendTime appends t as its MarshalJSON writes it, without a copy.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b, err := t.AppendText(append(b, '"'))
	if err != nil {
		return nil, fmt.Errorf("event: time %v: %w", t, err)
	}
	return append(b, '"'), nil
}

// appendJSONString appends s as a JSON string; s is a row order (digits
// and a dot) on the hot path, and anything else goes through
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	if !jsonscan.Verbatim(s) {
		j, _ := json.Marshal(s)
		return append(b, j...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
