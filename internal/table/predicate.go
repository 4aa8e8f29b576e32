package table

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
)

// Predicate is a compiled filter set: filter values are parsed once, by
// Compile or Search, and Match reads the row's stored values without
// allocating. A nil *Predicate matches every row. A Predicate is not changed
// after it is made and may be used from many goroutines.
type Predicate struct {
	or    bool // any condition, instead of all
	never bool // matches nothing (a search that no field can satisfy)
	conds []cond
	subs  []*Predicate // all of them must match too (And)
}

type op uint8

const (
	opEmpty        op = iota
	opTextEqual       // text: folded, trimmed equality with text
	opTextContains    // text, number, date: folded substring text
	opNumEqual        // number == num
	opNumHigher       // number > num
	opNumLower        // number < num
	opBool            // boolean == flag
	opChoiceIn        // single_select: id among ids
	opChoicesAny      // multiple_select: any id among ids
	opDateEqual       // date: the first ten bytes (the UTC date) == text
	opDateBefore      // ... < text
	opDateAfter       // ... > text
)

// cond is one compiled filter.
type cond struct {
	field int64
	op    op
	neg   bool // the not_ form: the opposite of op
	ftype FieldType
	// places are a number field's decimals: text filters and search
	// read a number as it is shown, with them ("12.50")
	places int
	flag   bool
	text   []byte
	num    decView
	ids    []int64
}

// Match reports whether a row with these values passes.
func (p *Predicate) Match(v Values) bool {
	if p == nil {
		return true
	}
	if p.never {
		return false
	}
	for _, s := range p.subs {
		if !s.Match(v) {
			return false
		}
	}
	if p.or {
		for i := range p.conds {
			if p.conds[i].match(v[p.conds[i].field]) {
				return true
			}
		}
		return len(p.conds) == 0
	}
	for i := range p.conds {
		if !p.conds[i].match(v[p.conds[i].field]) {
			return false
		}
	}
	return true
}

// Fields returns the ids of the fields the predicate reads, sorted: a change
// to no other field can change its answer.
func (p *Predicate) Fields() []int64 {
	var ids []int64
	var walk func(*Predicate)
	walk = func(p *Predicate) {
		if p == nil {
			return
		}
		for _, c := range p.conds {
			ids = append(ids, c.field)
		}
		for _, s := range p.subs {
			walk(s)
		}
	}
	walk(p)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// And returns a predicate that matches the rows all of ps match; nil ones
// are left out, and with none left it is nil (every row).
func And(ps ...*Predicate) *Predicate {
	var subs []*Predicate
	for _, p := range ps {
		if p != nil {
			subs = append(subs, p)
		}
	}
	switch len(subs) {
	case 0:
		return nil
	case 1:
		return subs[0]
	}
	return &Predicate{subs: subs}
}

// Search returns the predicate of the search box: rows where any text,
// long_text, number, date or select value contains the query,
// case-insensitively (numbers as their stored text, "12.50"; dates as
// "2026-01-02" or "2026-01-02T03:04:05Z"; selects by choice value). The query
// is trimmed; an empty one gives nil (every row).
func Search(query string, fields map[int64]*Field) *Predicate {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil
	}
	needle := []byte(foldString(query))
	p := &Predicate{or: true}
	for _, f := range fields {
		c := cond{field: f.ID, ftype: f.Type, places: f.Options.Decimals}
		switch {
		case f.Type.IsText(), f.Type == TypeNumber, f.Type == TypeDate:
			c.op, c.text = opTextContains, needle
		case f.Type.IsSelect():
			c.op = opChoiceIn
			if f.Type == TypeMultipleSelect {
				c.op = opChoicesAny
			}
			for _, ch := range f.Options.Choices {
				if bytes.Contains([]byte(foldString(ch.Value)), needle) {
					c.ids = append(c.ids, ch.ID)
				}
			}
			if len(c.ids) == 0 {
				continue
			}
		default:
			continue
		}
		p.conds = append(p.conds, c)
	}
	slices.SortFunc(p.conds, func(a, b cond) int { return cmp.Compare(a.field, b.field) })
	if len(p.conds) == 0 {
		p.never = true
	}
	return p
}

func (c *cond) match(raw []byte) bool {
	return c.test(raw) != c.neg
}

func (c *cond) test(raw []byte) bool {
	switch c.op {
	case opEmpty:
		return isEmptyValue(c.ftype, raw)
	case opTextEqual:
		body, ok := c.textOf(raw)
		return ok && equalFoldTrim(body, c.text)
	case opTextContains:
		body, ok := c.textOf(raw)
		return ok && containsFold(body, c.text)
	case opNumEqual, opNumHigher, opNumLower:
		n, ok := viewNumber(raw)
		if !ok {
			return false
		}
		cmp := cmpDec(n, c.num)
		return (c.op == opNumEqual && cmp == 0) || (c.op == opNumHigher && cmp > 0) || (c.op == opNumLower && cmp < 0)
	case opBool:
		return isTrue(raw) == c.flag
	case opChoiceIn:
		id, ok := parseIntJSON(raw)
		return ok && slices.Contains(c.ids, id)
	case opChoicesAny:
		return anyChoice(raw, c.ids)
	case opDateEqual, opDateBefore, opDateAfter:
		body, ok := jsonBody(raw)
		if !ok || len(body) < 10 {
			return false
		}
		cmp := bytes.Compare(body[:10], c.text)
		return (c.op == opDateEqual && cmp == 0) || (c.op == opDateBefore && cmp < 0) || (c.op == opDateAfter && cmp > 0)
	}
	return false
}

// textOf is the text a text filter reads of a stored value: a string's
// body, or a number written with its field's decimals.
func (c *cond) textOf(raw []byte) ([]byte, bool) {
	if c.ftype == TypeNumber && len(raw) > 0 && raw[0] != '"' && raw[0] != 'n' {
		s, ok := FormatNumber(raw, c.places)
		return []byte(s), ok
	}
	return jsonBody(raw)
}

func isTrue(raw []byte) bool { return string(raw) == "true" }

// isEmptyValue reports whether a stored value is an empty cell: missing,
// null, a blank string, an empty list, or false.
func isEmptyValue(ft FieldType, raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	switch ft {
	case TypeBoolean:
		return !isTrue(raw)
	case TypeMultipleSelect:
		return raw[0] != '[' || len(raw) < 2 || len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
	}
	if body, ok := jsonBody(raw); ok {
		return isBlank(body)
	}
	return false
}

// parseIntJSON reads a JSON integer without allocating.
func parseIntJSON(raw []byte) (int64, bool) {
	if len(raw) == 0 || len(raw) > 19 {
		return 0, false
	}
	neg := raw[0] == '-'
	if neg {
		raw = raw[1:]
		if len(raw) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// anyChoice reports whether a stored list of ids holds one of ids.
func anyChoice(raw []byte, ids []int64) bool {
	found := false
	eachID(raw, func(id int64) bool {
		found = slices.Contains(ids, id)
		return !found
	})
	return found
}

// eachID calls fn with the ids of a stored list "[1,2,3]" until it returns
// false.
func eachID(raw []byte, fn func(int64) bool) {
	for pos := 0; ; {
		id, next, ok := nextID(raw, pos)
		if !ok || !fn(id) {
			return
		}
		pos = next
	}
}

// nextID reads the id at or after pos of a stored list "[1,2,3]" and
// returns it with the position after it; ok is false at the end. Items that
// are not integers are skipped.
func nextID(raw []byte, pos int) (id int64, next int, ok bool) {
	if pos == 0 {
		for pos < len(raw) && (raw[pos] == ' ' || raw[pos] == '\t' || raw[pos] == '\n' || raw[pos] == '\r') {
			pos++
		}
		if pos == len(raw) || raw[pos] != '[' {
			return 0, 0, false
		}
		pos++
	}
	for pos < len(raw) {
		end := pos
		for end < len(raw) && raw[end] != ',' && raw[end] != ']' {
			end++
		}
		id, ok := parseIntJSON(bytes.TrimSpace(raw[pos:end]))
		if end < len(raw) && raw[end] == ']' {
			end = len(raw) - 1 // nothing after the closing bracket is read
		}
		if ok {
			return id, end + 1, true
		}
		pos = end + 1
	}
	return 0, 0, false
}
