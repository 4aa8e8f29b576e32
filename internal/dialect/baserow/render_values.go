package baserow

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"

	"github.com/tablecast/tablecast/internal/table"
)

// Cell values in Baserow's shapes. The store keeps a select as its choice
// id and a number as a decimal (a string, or a JSON number in the events
// of servers that send numbers as numbers); Baserow's front end holds a
// single select as {"id","value","color"}, a multiple select as a list of
// those, and a number as a decimal string with the field's places. Text,
// booleans and dates ("2026-01-02", "2026-01-02T03:04:05Z") are already
// what Baserow sends.

// cell writes one value of field f (nil: the field is unknown here, the
// value goes as stored).
func cell(w *buf, f *table.Field, v []byte) {
	if len(v) == 0 || f == nil || (len(v) == 4 && string(v) == "null") {
		if len(v) == 0 {
			w.raw("null")
		} else {
			w.bytes(v)
		}
		return
	}
	switch f.Type {
	case table.TypeNumber:
		if v[0] == '"' {
			w.bytes(v) // the store's decimal string: already Baserow's
			return
		}
		if s, ok := decimalText(v, f.Options.Decimals); ok {
			w.str(s)
			return
		}
	case table.TypeSingleSelect:
		if id, ok := choiceIDOf(v); ok {
			choiceObject(w, f, id)
			return
		}
	case table.TypeMultipleSelect:
		if multipleChoices(w, f, v) {
			return
		}
	}
	w.bytes(v)
}

// choiceObject writes {"id","value","color"}; a choice the definitions do
// not have (yet) is written with an empty value and color.
func choiceObject(w *buf, f *table.Field, id int64) {
	c, _ := f.Choice(id)
	w.raw(`{"id":`)
	w.int(id)
	w.raw(`,"value":`)
	w.str(c.Value)
	w.raw(`,"color":`)
	w.str(c.Color)
	w.raw("}")
}

// multipleChoices writes a list of choice ids as a list of choice objects;
// false when v is not such a list (it is then written as it is).
func multipleChoices(w *buf, f *table.Field, v []byte) bool {
	var ids []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &ids) != nil {
		return false
	}
	parsed := make([]int64, len(ids))
	for i, raw := range ids {
		id, ok := choiceIDOf(raw)
		if !ok {
			return false
		}
		parsed[i] = id
	}
	w.raw("[")
	for i, id := range parsed {
		if i > 0 {
			w.raw(",")
		}
		choiceObject(w, f, id)
	}
	w.raw("]")
	return true
}

// choiceIDOf reads a choice id: a JSON integer.
func choiceIDOf(v []byte) (int64, bool) {
	v = bytes.TrimSpace(v)
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// decimalText returns a number value as a decimal string with places
// digits after the point ("12.50"): a JSON string is taken as the
// store's decimal, a JSON number is formatted. false for anything else.
func decimalText(v []byte, places int) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return "", false
	}
	// The common case: a plain decimal with no more places than the field
	// has: padded with zeros.
	if !bytes.ContainsAny(v, "eE") {
		intPart, frac, _ := bytes.Cut(v, []byte("."))
		if len(frac) <= places {
			out := make([]byte, 0, len(intPart)+1+places)
			out = append(out, intPart...)
			if places > 0 {
				out = append(out, '.')
				out = append(out, frac...)
				for i := len(frac); i < places; i++ {
					out = append(out, '0')
				}
			}
			return string(out), true
		}
	}
	r, ok := new(big.Rat).SetString(string(v))
	if !ok {
		return "", false
	}
	return r.FloatString(places), true
}

// fieldShape is a field as Baserow's field serializer sends it: the
// members every field has, and those its type's front-end code reads,
// with the values that say what tablecast's fields do (a number may be
// negative and has no prefix, suffix or separator; a date is shown in ISO
// order, 24-hour time, in the browser's zone as Baserow does without a
// forced one; no field has a default value).
func fieldShape(f table.Field, workspaceID int64, public bool) map[string]any {
	tableID := f.TableID
	if public {
		tableID, workspaceID = 0, 0 // Baserow's placeholder for public pages
	}
	s := map[string]any{
		"id": f.ID, "table_id": tableID, "name": f.Name, "order": f.Order, "type": f.Type, "primary": f.Primary,
		"read_only": false, "immutable_type": false, "immutable_properties": false, "description": nil,
		"database_id": workspaceID, "workspace_id": workspaceID, "db_index": false, "field_constraints": []any{},
	}
	switch f.Type {
	case table.TypeText:
		s["text_default"] = ""
	case table.TypeLongText:
		s["long_text_enable_rich_text"] = false
	case table.TypeNumber:
		s["number_decimal_places"] = f.Options.Decimals
		s["number_negative"] = true
		s["number_prefix"] = ""
		s["number_suffix"] = ""
		s["number_separator"] = ""
		s["number_default"] = nil
	case table.TypeBoolean:
		s["boolean_default"] = false
	case table.TypeDate:
		s["date_format"] = "ISO"
		s["date_include_time"] = f.Options.IncludeTime
		s["date_time_format"] = "24"
		s["date_show_tzinfo"] = false
		s["date_force_timezone"] = nil
	case table.TypeSingleSelect, table.TypeMultipleSelect:
		cs := f.Options.Choices
		if cs == nil {
			cs = []table.Choice{}
		}
		s["select_options"] = cs
		if f.Type == table.TypeSingleSelect {
			s["single_select_default"] = nil
		} else {
			s["multiple_select_default"] = []int64{}
		}
	}
	return s
}

func fieldShapes(fs []table.Field, workspaceID int64, public bool) []map[string]any {
	out := make([]map[string]any, len(fs))
	for i, f := range fs {
		out[i] = fieldShape(f, workspaceID, public)
	}
	return out
}
