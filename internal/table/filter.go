package table

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The filter types, Baserow's names. A filter whose value is empty (after
// trimming, for all but contains) is left out, as Baserow leaves it out: in
// an AND set it lets every row through, in an OR set it is simply not there.
// boolean, empty and not_empty have no such case.
const (
	FilterEqual             = "equal"     // text, long_text: case-insensitive, trimmed; number: numerically
	FilterNotEqual          = "not_equal" // not equal
	FilterContains          = "contains"  // text types, number, date: case-insensitive; selects: a choice value contains it
	FilterNotContains       = "not_contains"
	FilterContainsNot       = "contains_not" // Baserow's own name for not_contains, read as that
	FilterEmpty             = "empty"        // every type: null, "", blank text, [], false
	FilterNotEmpty          = "not_empty"
	FilterHigherThan        = "higher_than" // number
	FilterLowerThan         = "lower_than"  // number
	FilterBoolean           = "boolean"     // boolean: the value is a truthy word or not
	FilterSingleSelectEqual = "single_select_equal"
	FilterDateEqual         = "date_equal"  // date: the UTC date of the cell is the value's
	FilterDateBefore        = "date_before" // date: strictly before that date
	FilterDateAfter         = "date_after"  // date: strictly after that date
)

// Limits of a filter set.
const (
	MaxFilters     = 100
	MaxFilterValue = 10_000 // bytes of one filter value
)

// FilterType of a FilterSet: AND or OR. The empty string is AND.
const (
	FilterAnd = "AND"
	FilterOr  = "OR"
)

// FilterValue is a filter's value. Baserow sends every value as a string; a
// JSON number or boolean is read as its text and null as "".
type FilterValue string

// UnmarshalJSON reads a string, number, boolean or null.
func (v *FilterValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("table: empty filter value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = FilterValue(s)
	case string(b) == "null":
		*v = ""
	case string(b) == "true" || string(b) == "false" || b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		if !json.Valid(b) {
			return errors.New("table: filter value is not valid JSON")
		}
		*v = FilterValue(b)
	default:
		return errors.New("table: a filter value must be a string, number, boolean or null")
	}
	return nil
}

// Filter is one condition on one field.
type Filter struct {
	FieldID int64       `json:"field_id"`
	Type    string      `json:"type"`
	Value   FilterValue `json:"value"`
}

// FilterSet is a list of filters joined by AND or OR; with no filters it
// matches every row.
type FilterSet struct {
	FilterType string   `json:"filter_type"`
	Filters    []Filter `json:"filters"`
}

// MarshalJSON writes filter_type AND when it is empty, and [] for no filters.
func (fs FilterSet) MarshalJSON() ([]byte, error) {
	type plain FilterSet
	return json.Marshal(plain(fs.written()))
}

// written is fs as JSON shows it: an empty filter type is AND, no filters
// an empty list.
func (fs FilterSet) written() FilterSet {
	if fs.FilterType == "" {
		fs.FilterType = FilterAnd
	}
	if fs.Filters == nil {
		fs.Filters = []Filter{}
	}
	return fs
}

// ParseFilterSet reads a filter set from JSON (the "filter" query
// parameter) strictly: unknown keys and trailing data are errors, reported
// as a *ValidationError keyed "filter". Compile checks the filters.
func ParseFilterSet(data []byte) (FilterSet, error) {
	var fs FilterSet
	if err := decodeStrict(data, &fs); err != nil {
		return FilterSet{}, (*ValidationError)(nil).Add("filter", err.Error())
	}
	return fs, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("must be valid JSON of the right shape: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("must hold one JSON value")
	}
	return nil
}

// CanonicalFilterType returns Baserow's contains_not as not_contains and
// any other name as it is.
func CanonicalFilterType(t string) string {
	if t == FilterContainsNot {
		return FilterNotContains
	}
	return t
}

// FilterApplies reports whether the filter type can be used on a field of
// type ft.
func FilterApplies(filterType string, ft FieldType) bool {
	switch CanonicalFilterType(filterType) {
	case FilterEmpty, FilterNotEmpty:
		return ft.Valid()
	case FilterEqual, FilterNotEqual:
		return ft.IsText() || ft == TypeNumber
	case FilterContains, FilterNotContains:
		return ft.IsText() || ft == TypeNumber || ft == TypeDate || ft.IsSelect()
	case FilterHigherThan, FilterLowerThan:
		return ft == TypeNumber
	case FilterBoolean:
		return ft == TypeBoolean
	case FilterSingleSelectEqual:
		return ft == TypeSingleSelect
	case FilterDateEqual, FilterDateBefore, FilterDateAfter:
		return ft == TypeDate
	}
	return false
}

// FilterTypes lists the filter types that apply to a field type.
func FilterTypes(ft FieldType) []string {
	var out []string
	for _, t := range allFilterTypes {
		if FilterApplies(t, ft) {
			out = append(out, t)
		}
	}
	return out
}

var allFilterTypes = []string{
	FilterEqual, FilterNotEqual, FilterContains, FilterNotContains, FilterEmpty, FilterNotEmpty,
	FilterHigherThan, FilterLowerThan, FilterBoolean, FilterSingleSelectEqual,
	FilterDateEqual, FilterDateBefore, FilterDateAfter,
}

// Compile checks a filter set against the table's fields and returns its
// predicate. Every problem is reported in one *ValidationError keyed
// "filter_type", "filters", "filters[i].field_id", "filters[i].type" or
// "filters[i].value". The predicate is bound to the fields as given:
// compile again when a field it uses changes.
func Compile(fs FilterSet, fields map[int64]*Field) (*Predicate, error) {
	var e *ValidationError
	p := &Predicate{}
	switch fs.FilterType {
	case "", FilterAnd:
	case FilterOr:
		p.or = true
	default:
		e = e.Add("filter_type", "must be AND or OR")
	}
	if len(fs.Filters) > MaxFilters {
		return nil, e.Add("filters", "at most "+strconv.Itoa(MaxFilters)+" filters")
	}
	for i, flt := range fs.Filters {
		c, skip, err := compileFilter(flt, fields)
		if err != nil {
			e = e.Merge(ItemKey("filters", i), err)
			continue
		}
		if !skip {
			p.conds = append(p.conds, c)
		}
	}
	if e != nil {
		return nil, e
	}
	return p, nil
}

// compileFilter returns the condition of one filter, or skip for a filter
// without a value.
func compileFilter(flt Filter, fields map[int64]*Field) (c cond, skip bool, e *ValidationError) {
	f := fields[flt.FieldID]
	if f == nil {
		return c, false, e.Add("field_id", "field "+strconv.FormatInt(flt.FieldID, 10)+" does not exist")
	}
	typ := CanonicalFilterType(flt.Type)
	if !FilterApplies(typ, f.Type) {
		if !slices.Contains(allFilterTypes, typ) {
			return c, false, e.Add("type", "unknown filter type "+strconv.Quote(flt.Type))
		}
		return c, false, e.Add("type", strconv.Quote(flt.Type)+" does not apply to "+string(f.Type)+
			" field "+strconv.FormatInt(f.ID, 10)+"; it takes "+strings.Join(FilterTypes(f.Type), ", "))
	}
	if len(flt.Value) > MaxFilterValue {
		return c, false, e.Add("value", "at most "+strconv.Itoa(MaxFilterValue)+" bytes")
	}
	c = cond{field: f.ID, ftype: f.Type, places: f.Options.Decimals}
	raw := string(flt.Value)
	value := strings.TrimSpace(raw)
	bad := func(msg string) (cond, bool, *ValidationError) {
		return c, false, e.Add("value", msg)
	}
	switch typ {
	case FilterEmpty, FilterNotEmpty:
		c.op, c.neg = opEmpty, typ == FilterNotEmpty
		return c, false, nil

	case FilterBoolean:
		low := strings.ToLower(value)
		v, ok := boolWords[low]
		if low == "o" { // true in Baserow's web front end
			v, ok = true, true
		}
		if !ok {
			return bad("must be true or false (1 or 0)")
		}
		c.op, c.flag = opBool, v
		return c, false, nil

	case FilterContains, FilterNotContains:
		if raw == "" {
			return c, true, nil
		}
		c.neg = typ == FilterNotContains
		needle := foldString(raw)
		if !f.Type.IsSelect() {
			c.op, c.text = opTextContains, []byte(needle)
			return c, false, nil
		}
		c.op = opChoiceIn
		if f.Type == TypeMultipleSelect {
			c.op = opChoicesAny
		}
		c.ids = []int64{} // no choice matching is a filter that matches nothing
		for _, ch := range f.Options.Choices {
			if strings.Contains(foldString(ch.Value), needle) {
				c.ids = append(c.ids, ch.ID)
			}
		}
		return c, false, nil
	}

	if value == "" { // every filter below is left out without a value
		return c, true, nil
	}
	switch typ {
	case FilterEqual, FilterNotEqual:
		c.neg = typ == FilterNotEqual
		if f.Type.IsText() {
			c.op, c.text = opTextEqual, []byte(foldString(value))
			return c, false, nil
		}
		c.op = opNumEqual
	case FilterHigherThan:
		c.op = opNumHigher
	case FilterLowerThan:
		c.op = opNumLower
	case FilterSingleSelectEqual:
		id, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad("must be a choice id")
		}
		if _, ok := f.Choice(id); !ok {
			return bad("choice " + value + " does not exist in field " + strconv.FormatInt(f.ID, 10))
		}
		c.op, c.ids = opChoiceIn, []int64{id}
		return c, false, nil
	case FilterDateEqual, FilterDateBefore, FilterDateAfter:
		date, ok, msg := filterDate(value)
		if !ok {
			return bad(msg)
		}
		if date == "" {
			return c, true, nil
		}
		c.op, c.text = opDateEqual, []byte(date)
		if typ == FilterDateBefore {
			c.op = opDateBefore
		} else if typ == FilterDateAfter {
			c.op = opDateAfter
		}
		return c, false, nil
	}
	// the number filters
	d, ok := parseDecimal([]byte(value))
	if !ok {
		return bad("must be a number")
	}
	if c.num, ok = d.exact(); !ok {
		return bad("has too many digits")
	}
	return c, false, nil
}

// filterDate reads the value of a date filter: an ISO date, optionally after
// Baserow's time zone prefix "<zone>?". Only UTC is known here (time zones
// would need the zone database, which is I/O), so another zone is an error.
// An empty date after the prefix leaves the filter out ("" and ok).
func filterDate(value string) (date string, ok bool, msg string) {
	if zone, rest, found := strings.Cut(value, "?"); found {
		switch zone {
		case "", "UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z":
		default:
			return "", false, "only the UTC time zone is supported, not " + strconv.Quote(zone)
		}
		value = strings.TrimSpace(rest)
		if value == "" {
			return "", true, ""
		}
	}
	if len(value) != 10 {
		return "", false, "must be a date like 2026-01-02"
	}
	t, err := time.Parse("2006-01-02", value)
	if err != nil || t.Year() < 1 {
		return "", false, "must be a date like 2026-01-02"
	}
	return value, true, ""
}
