package table

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Sort orders rows by one field.
type Sort struct {
	FieldID int64  `json:"field_id"`
	Order   string `json:"order"`
}

// Sort orders. Baserow's "ASC" and "DESC" are read too; "" is asc.
const (
	SortAsc  = "asc"
	SortDesc = "desc"
)

// MaxSorts is the most sorts a list or view may have.
const MaxSorts = 20

// ParseSorts reads a list of sorts from JSON (the "sort" query parameter)
// strictly, reporting a *ValidationError keyed "sort"; CompileSorts checks
// the sorts.
func ParseSorts(data []byte) ([]Sort, error) {
	var s []Sort
	if err := decodeStrict(data, &s); err != nil {
		return nil, (*ValidationError)(nil).Add("sort", err.Error())
	}
	return s, nil
}

// Sorter compares rows by a list of sorts. A nil *Sorter finds all rows
// equal. It is not changed after it is made and may be shared.
type Sorter struct {
	keys []sortKey
}

type sortKey struct {
	field int64
	ftype FieldType
	desc  bool
	rank  map[int64]int // selects: choice id to its place by value
}

// CompileSorts checks sorts against the table's fields (keys
// "sorts[i].field_id", "sorts[i].order") and returns their Sorter, bound to
// the fields as given. A field may be sorted on once.
func CompileSorts(sorts []Sort, fields map[int64]*Field) (*Sorter, error) {
	var e *ValidationError
	if len(sorts) > MaxSorts {
		return nil, e.Add("sorts", "at most "+strconv.Itoa(MaxSorts)+" sorts")
	}
	s := &Sorter{}
	seen := make(map[int64]int, len(sorts))
	for i, srt := range sorts {
		key := ItemKey("sorts", i)
		f := fields[srt.FieldID]
		if f == nil {
			e = e.Add(key+".field_id", "field "+strconv.FormatInt(srt.FieldID, 10)+" does not exist")
			continue
		}
		if j, dup := seen[f.ID]; dup {
			e = e.Add(key+".field_id", "field "+strconv.FormatInt(f.ID, 10)+" is already sorted on by sort "+strconv.Itoa(j))
			continue
		}
		seen[f.ID] = i
		desc, ok := parseSortOrder(srt.Order)
		if !ok {
			e = e.Add(key+".order", "must be asc or desc")
			continue
		}
		k := sortKey{field: f.ID, ftype: f.Type, desc: desc}
		if f.Type.IsSelect() {
			k.rank = choiceRanks(f.Options.Choices)
		}
		s.keys = append(s.keys, k)
	}
	if e != nil {
		return nil, e
	}
	return s, nil
}

func parseSortOrder(o string) (desc, ok bool) {
	switch strings.ToLower(o) {
	case "", SortAsc:
		return false, true
	case SortDesc:
		return true, true
	}
	return false, false
}

// choiceRanks places choices by their value, case-insensitively, then by
// their position in the field.
func choiceRanks(choices []Choice) map[int64]int {
	idx := make([]int, len(choices))
	for i := range idx {
		idx[i] = i
	}
	folded := make([]string, len(choices))
	for i, c := range choices {
		folded[i] = foldString(c.Value)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(folded[a], folded[b]) })
	rank := make(map[int64]int, len(choices))
	for r, i := range idx {
		rank[choices[i].ID] = r
	}
	return rank
}

// Fields returns the ids of the fields the sorter reads, in sort order.
func (s *Sorter) Fields() []int64 {
	if s == nil {
		return nil
	}
	ids := make([]int64, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.field
	}
	return ids
}

// Compare orders two rows: -1 when a comes first, +1 when b does, 0 when the
// sorts cannot tell them apart; the caller then falls back to the row order
// and then the row id. Each sort compares by type: numbers numerically,
// dates in time, text case-insensitively, booleans false before true, selects
// by choice value (a multiple_select by its list of values). Empty cells come
// last in ascending order; desc reverses everything, so they come first.
// A stored value of the wrong shape counts as empty.
func (s *Sorter) Compare(a, b Values) int {
	if s == nil {
		return 0
	}
	for i := range s.keys {
		k := &s.keys[i]
		c := k.compare(a[k.field], b[k.field])
		if c != 0 {
			if k.desc {
				return -c
			}
			return c
		}
	}
	return 0
}

// compare orders two cells ascending.
func (k *sortKey) compare(a, b []byte) int {
	if k.ftype == TypeBoolean {
		return compareBool(isTrue(a), isTrue(b))
	}
	ea, eb := k.empty(a), k.empty(b)
	switch {
	case ea && eb:
		return 0
	case ea:
		return 1
	case eb:
		return -1
	}
	switch k.ftype {
	case TypeText, TypeLongText:
		ba, _ := jsonBody(a)
		bb, _ := jsonBody(b)
		return cmpFold(ba, bb)
	case TypeNumber:
		na, _ := viewNumber(a)
		nb, _ := viewNumber(b)
		return cmpDec(na, nb)
	case TypeDate:
		ba, _ := jsonBody(a)
		bb, _ := jsonBody(b)
		return bytes.Compare(ba, bb)
	case TypeSingleSelect:
		ia, _ := parseIntJSON(a)
		ib, _ := parseIntJSON(b)
		return cmp.Compare(k.rank[ia], k.rank[ib])
	case TypeMultipleSelect:
		return k.compareLists(a, b)
	}
	return 0
}

// empty reports whether a cell sorts as empty: an empty cell, or a value
// this field cannot read.
func (k *sortKey) empty(raw []byte) bool {
	if isEmptyValue(k.ftype, raw) {
		return true
	}
	switch k.ftype {
	case TypeText, TypeLongText, TypeDate:
		_, ok := jsonBody(raw)
		return !ok
	case TypeNumber:
		_, ok := viewNumber(raw)
		return !ok
	case TypeSingleSelect:
		id, ok := parseIntJSON(raw)
		_, known := k.rank[id]
		return !ok || !known
	case TypeMultipleSelect:
		known := false
		eachID(raw, func(id int64) bool {
			_, known = k.rank[id]
			return !known
		})
		return !known
	}
	return false
}

// compareLists compares two lists of choice ids by their choices' ranks,
// element by element; unknown ids are skipped.
func (k *sortKey) compareLists(a, b []byte) int {
	pa, pb := 0, 0
	for {
		ra, na, oka := k.nextRank(a, pa)
		rb, nb, okb := k.nextRank(b, pb)
		switch {
		case !oka && !okb:
			return 0
		case !oka:
			return -1
		case !okb:
			return 1
		case ra != rb:
			return cmp.Compare(ra, rb)
		}
		pa, pb = na, nb
	}
}

func (k *sortKey) nextRank(raw []byte, pos int) (rank, next int, ok bool) {
	for {
		id, n, ok := nextID(raw, pos)
		if !ok {
			return 0, 0, false
		}
		if r, known := k.rank[id]; known {
			return r, n, true
		}
		pos = n
	}
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
