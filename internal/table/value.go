package table

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values holds the cells of one row: field id to the cell's canonical JSON
// value, as Normalize returns it. A field missing from the map holds its
// DefaultValue. Values marshals as {"<field id>":value,...}, the "fields"
// object of a row.
type Values map[int64]json.RawMessage

// DefaultValue is the value of an empty cell: false for boolean, [] for
// multiple_select and null for every other type.
func (f *Field) DefaultValue() json.RawMessage {
	switch f.Type {
	case TypeBoolean:
		return json.RawMessage("false")
	case TypeMultipleSelect:
		return json.RawMessage("[]")
	}
	return json.RawMessage("null")
}

// Normalize turns a value given by a client into the canonical value stored
// and sent for this field, or returns a *ValueError saying why the field does
// not take it. It sees given values only: a field left out of a request is
// left alone by the caller, while null empties the cell (DefaultValue).
//
//   - text, long_text: a string, or a JSON number taken as its text; ""
//     empties the cell; no NUL characters; at most MaxTextLength or
//     MaxLongTextLength characters. Newlines are allowed in both.
//   - number: a JSON number or a numeric string ("12.5", " -3 ", "1e3"),
//     rounded half away from zero to Decimals places (in decimal, exactly)
//     and stored as a JSON number without trailing zeros or exponent
//     (12.5), the value clients hold; at most MaxNumberDigits significant
//     digits and integer digits once rounded; "" empties.
//   - boolean: true/false, 1/0, or a string t/f, y/n, yes/no, true/false,
//     on/off, 1/0, checked/unchecked in any case; "" is false.
//   - date: "2026-01-02", or with IncludeTime a date-time with seconds
//     optional and an offset or Z (none means UTC), stored in UTC as
//     "2026-01-02T03:04:05Z" (fractions of a second dropped). A date-time
//     given to a date field keeps its UTC date; a date given to a date-time
//     field is midnight UTC. "" empties.
//   - single_select: a choice id (number or numeric string), a choice value
//     (exact; the first choice with it), or an object with "id" as Baserow
//     sends it; stored as the id. "" empties.
//   - multiple_select: a list of such items, stored as the list of ids
//     without repeats, in the given order.
func (f *Field) Normalize(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !json.Valid(raw) {
		return nil, f.bad("must be a JSON value")
	}
	if raw[0] == 'n' {
		return f.DefaultValue(), nil
	}
	switch f.Type {
	case TypeText:
		return f.normText(raw, MaxTextLength)
	case TypeLongText:
		return f.normText(raw, MaxLongTextLength)
	case TypeNumber:
		return f.normNumber(raw)
	case TypeBoolean:
		return f.normBoolean(raw)
	case TypeDate:
		return f.normDate(raw)
	case TypeSingleSelect:
		if string(raw) == `""` {
			return json.RawMessage("null"), nil
		}
		id, err := f.choiceID(raw)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, id, 10), nil
	case TypeMultipleSelect:
		return f.normMultiple(raw)
	}
	return nil, f.bad("the field has an unknown type")
}

func (f *Field) bad(reason string) *ValueError { return &ValueError{Field: f.ID, Reason: reason} }

// jsonString decodes a JSON string literal, without encoding/json when it
// has no escapes or non-ASCII bytes.
func jsonString(raw []byte) (string, bool) {
	body, ok := jsonBody(raw)
	if !ok {
		return "", false
	}
	if isASCIIPlain(body) {
		return string(body), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (f *Field) normText(raw []byte, limit int) (json.RawMessage, error) {
	switch {
	case raw[0] == '"':
		if body := raw[1 : len(raw)-1]; isASCIIPlain(body) {
			// the common case: the literal is already canonical
			if len(body) == 0 {
				return json.RawMessage("null"), nil
			}
			if len(body) > limit {
				return nil, f.bad("at most " + strconv.Itoa(limit) + " characters")
			}
			return append(json.RawMessage(nil), raw...), nil
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		if len(raw) > limit {
			return nil, f.bad("at most " + strconv.Itoa(limit) + " characters")
		}
		return AppendJSONString(nil, string(raw)), nil
	default:
		return nil, f.bad("must be a string")
	}
	s, ok := jsonString(raw)
	if !ok {
		return nil, f.bad("must be a string")
	}
	return f.textOf(s, limit)
}

// textOf is the canonical value of the text s in a text field.
func (f *Field) textOf(s string, limit int) (json.RawMessage, error) {
	if s == "" {
		return json.RawMessage("null"), nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, f.bad("must not contain NUL characters")
	}
	if len(s) > limit && utf8.RuneCountInString(s) > limit {
		return nil, f.bad("at most " + strconv.Itoa(limit) + " characters")
	}
	return AppendJSONString(make([]byte, 0, len(s)+2), s), nil
}

// NormalizeString is Normalize of a string value, without encoding it to
// JSON first, for the fields whose canonical value of a string is that
// string (text, long_text; "" is null): ok is false for the other types
// and for a string that is not valid UTF-8, which Normalize takes.
func (f *Field) NormalizeString(s string) (canon json.RawMessage, ok bool, err error) {
	limit := MaxTextLength
	switch f.Type {
	case TypeText:
	case TypeLongText:
		limit = MaxLongTextLength
	default:
		return nil, false, nil
	}
	if !utf8.ValidString(s) {
		return nil, false, nil
	}
	canon, err = f.textOf(s, limit)
	return canon, true, err
}

func (f *Field) normNumber(raw []byte) (json.RawMessage, error) {
	text := raw
	switch {
	case raw[0] == '"':
		s, ok := jsonString(raw)
		if !ok {
			return nil, f.bad("must be a number")
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return json.RawMessage("null"), nil
		}
		text = []byte(s)
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
	default:
		return nil, f.bad("must be a number")
	}
	d, ok := parseDecimal(text)
	if !ok {
		return nil, f.bad("must be a number")
	}
	s, ok := d.numberJSON(f.Options.Decimals)
	if !ok {
		return nil, f.bad("must have at most " + strconv.Itoa(MaxNumberDigits) + " significant digits once rounded to " +
			strconv.Itoa(f.Options.Decimals) + " decimals (numbers are exact up to that size, as in a JavaScript number)")
	}
	return json.RawMessage(s), nil
}

// NumberIsStored reports whether raw is a number cell's value in the form
// this version stores (a JSON number or null), not the decimal string
// older versions stored.
func NumberIsStored(raw []byte) bool { return len(raw) == 0 || raw[0] != '"' }

var boolWords = map[string]bool{
	"t": true, "y": true, "yes": true, "true": true, "on": true, "1": true, "checked": true,
	"f": false, "n": false, "no": false, "false": false, "off": false, "0": false, "unchecked": false, "": false,
}

func (f *Field) normBoolean(raw []byte) (json.RawMessage, error) {
	switch raw[0] {
	case 't':
		return json.RawMessage("true"), nil
	case 'f':
		return json.RawMessage("false"), nil
	case '"':
		if s, ok := jsonString(raw); ok {
			if v, ok := boolWords[strings.ToLower(strings.TrimSpace(s))]; ok {
				return json.RawMessage(strconv.FormatBool(v)), nil
			}
		}
	case '[', '{':
	default:
		if d, ok := parseDecimal(raw); ok {
			if len(d.digits) == 0 {
				return json.RawMessage("false"), nil
			}
			if !d.neg && len(d.digits)+d.exp == 1 && d.digits[0] == '1' && strings.Trim(string(d.digits[1:]), "0") == "" {
				return json.RawMessage("true"), nil
			}
		}
	}
	return nil, f.bad("must be true or false")
}

func (f *Field) normDate(raw []byte) (json.RawMessage, error) {
	example := "2026-01-02"
	if f.Options.IncludeTime {
		example = "2026-01-02T03:04:05Z"
	}
	s, ok := jsonString(raw)
	if !ok {
		return nil, f.bad("must be a date string like " + example)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("null"), nil
	}
	t, ok := parseDateTime(s)
	if !ok {
		return nil, f.bad("must be a date string like " + example)
	}
	layout := "2006-01-02"
	if f.Options.IncludeTime {
		layout = "2006-01-02T15:04:05Z"
	}
	return AppendJSONString(nil, t.Format(layout)), nil
}

var dateTimeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04",
}

// parseDateTime reads an ISO 8601 date or date-time (with 'T' or a space
// between), returning it in UTC, whole seconds, years 1 to 9999.
func parseDateTime(s string) (time.Time, bool) {
	var t time.Time
	var err error
	if len(s) == 10 {
		t, err = time.Parse("2006-01-02", s)
	} else {
		if len(s) < 16 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
			return time.Time{}, false
		}
		s = s[:10] + "T" + s[11:]
		for _, layout := range dateTimeLayouts {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
	}
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC().Truncate(time.Second)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// choiceID resolves one select item to the id of one of f's choices.
func (f *Field) choiceID(raw []byte) (int64, error) {
	switch raw[0] {
	case '"':
		s, ok := jsonString(raw)
		if !ok {
			return 0, f.bad("must be a choice id or value")
		}
		for _, c := range f.Options.Choices {
			if c.Value == s {
				return c.ID, nil
			}
		}
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, f.bad("no choice has the value " + strconv.Quote(s))
		}
		return f.knownChoice(id)
	case '{':
		var obj struct {
			ID json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil || len(obj.ID) == 0 {
			return 0, f.bad("a choice object must have an id")
		}
		id, err := strconv.ParseInt(string(obj.ID), 10, 64)
		if err != nil {
			return 0, f.bad("a choice object must have an integer id")
		}
		return f.knownChoice(id)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		id, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return 0, f.bad("a choice id must be an integer")
		}
		return f.knownChoice(id)
	}
	return 0, f.bad("must be a choice id or value")
}

func (f *Field) knownChoice(id int64) (int64, error) {
	if _, ok := f.Choice(id); !ok || id == 0 {
		return 0, f.bad("choice " + strconv.FormatInt(id, 10) + " does not exist")
	}
	return id, nil
}

func (f *Field) normMultiple(raw []byte) (json.RawMessage, error) {
	if raw[0] != '[' {
		return nil, f.bad("must be a list of choice ids or values")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, f.bad("must be a list of choice ids or values")
	}
	if len(items) > MaxChoices {
		return nil, f.bad("at most " + strconv.Itoa(MaxChoices) + " items")
	}
	out := make([]byte, 0, 2+len(items)*4)
	out = append(out, '[')
	seen := make([]int64, 0, len(items))
next:
	for i, item := range items {
		item = bytes.TrimSpace(item)
		if len(item) == 0 || item[0] == 'n' || item[0] == '[' {
			return nil, f.bad("item " + strconv.Itoa(i) + " must be a choice id or value")
		}
		id, err := f.choiceID(item)
		if err != nil {
			return nil, f.bad("item " + strconv.Itoa(i) + ": " + err.(*ValueError).Reason)
		}
		for _, s := range seen {
			if s == id {
				continue next
			}
		}
		if len(seen) > 0 {
			out = append(out, ',')
		}
		seen = append(seen, id)
		out = strconv.AppendInt(out, id, 10)
	}
	return append(out, ']'), nil
}

// NormalizeRow normalizes the "fields" object of a row body, whose keys are
// field ids ("12") or Baserow's "field_12". Every problem is reported, keyed
// "fields.<key>" as given; a field given twice (both spellings) is an error.
func NormalizeRow(fields map[int64]*Field, in map[string]json.RawMessage) (Values, *ValidationError) {
	var e *ValidationError
	out := make(Values, len(in))
	for key, raw := range in {
		id, ok := parseFieldKey(key)
		f := fields[id]
		if !ok || f == nil {
			e = e.Add("fields."+key, "no such field")
			continue
		}
		if _, dup := out[id]; dup {
			e = e.Add(FieldKey(id), "given twice")
			continue
		}
		v, err := f.Normalize(raw)
		if err != nil {
			e = e.Add("fields."+key, err.(*ValueError).Reason)
			continue
		}
		out[id] = v
	}
	if e != nil {
		return nil, e
	}
	return out, nil
}

func parseFieldKey(key string) (int64, bool) {
	key = strings.TrimPrefix(key, "field_")
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != key {
		return 0, false
	}
	return id, true
}

// SelectedChoices returns the choices a stored select value names, in its
// order, skipping ids the field no longer has; dialects render them as
// Baserow's {"id","value","color"} objects.
func (f *Field) SelectedChoices(raw json.RawMessage) []Choice {
	var out []Choice
	add := func(id int64) bool {
		if c, ok := f.Choice(id); ok {
			out = append(out, c)
		}
		return true
	}
	switch f.Type {
	case TypeSingleSelect:
		if id, ok := parseIntJSON(bytes.TrimSpace(raw)); ok {
			add(id)
		}
	case TypeMultipleSelect:
		eachID(raw, add)
	}
	return out
}
