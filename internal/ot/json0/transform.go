package json0

import (
	"slices"
	"strconv"
)

// Transform returns op rewritten to apply after other, where both were made
// against the same document. side says which of the two wins ties: in
// ShareDB terms, transform a submitted op by a logged op with side Right,
// and the logged op by the submitted one with side Left. The rules are
// json0's (ot-json0 1.1.0), component by component; see the package doc for
// where this package deliberately differs.
func Transform(op, other Op, side Side) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := other.Validate(); err != nil {
		return nil, err
	}
	if len(other) == 0 {
		return slices.Clone(op), nil
	}
	if len(op) == 1 && len(other) == 1 {
		if out, ok := stringPastString(op[0], other[0], side); ok {
			return Op{out}, nil // without transformComponent's large frame
		}
		return transformComponent(nil, op[0], other[0], side)
	}
	if side == Left {
		l, _, err := transformX(op, other, transformComponent, appendComponent)
		return l, err
	}
	_, r, err := transformX(other, op, transformComponent, appendComponent)
	return r, err
}

// transformX transforms left and right (concurrent ops) against each
// other, component by component, with left winning ties. It serves both
// json0 and text0.
func transformX[S ~[]C, C any](left, right S,
	tc func(dest S, c, other C, side Side) (S, error),
	app func(dest S, c C) S,
) (S, S, error) {
	var newRight S
	for _, rc := range right {
		var newLeft S
		pending := true
		for k := 0; k < len(left); k++ {
			var next S
			var err error
			if newLeft, err = tc(newLeft, left[k], rc, Left); err != nil {
				return nil, nil, err
			}
			if next, err = tc(next, rc, left[k], Right); err != nil {
				return nil, nil, err
			}
			if len(next) == 1 {
				rc = next[0]
				continue
			}
			pending = false
			if len(next) == 0 {
				for _, c := range left[k+1:] {
					newLeft = app(newLeft, c)
				}
				break
			}
			// The right component split in two: transform the rest of left by both.
			l2, r2, err := transformX(left[k+1:], next, tc, app)
			if err != nil {
				return nil, nil, err
			}
			for _, c := range l2 {
				newLeft = app(newLeft, c)
			}
			for _, c := range r2 {
				newRight = app(newRight, c)
			}
			break
		}
		if pending {
			newRight = app(newRight, rc)
		}
		left = newLeft
	}
	return left, newRight, nil
}

// undef stands for an index past the end of a path, which json0's rules
// sometimes look at; it equals only itself and compares as no number.
type undefined struct{}

func at(p []any, i int) any {
	if i < 0 || i >= len(p) {
		return undefined{}
	}
	return p[i]
}

func same(a, b any) bool { return a == b }

// looseSame is JavaScript's == on path elements ("1" == 1).
func looseSame(a, b any) bool {
	if a == b {
		return true
	}
	s, ok1 := a.(string)
	n, ok2 := b.(int)
	if !ok1 || !ok2 {
		s, ok1 = b.(string)
		n, ok2 = a.(int)
	}
	return ok1 && ok2 && s == strconv.Itoa(n)
}

func less(a, b any) bool {
	x, ok1 := a.(int)
	y, ok2 := b.(int)
	return ok1 && ok2 && x < y
}

func lessEq(a, b any) bool {
	x, ok1 := a.(int)
	y, ok2 := b.(int)
	return ok1 && ok2 && x <= y
}

func bump(p []any, i, d int) {
	if n, ok := at(p, i).(int); ok {
		p[i] = n + d
	}
}

func intp(n int) *int { return &n }

// commonLength returns how much of a's path (to the thing a operates on)
// is a prefix of b's; ok is false when a cannot affect b.
func commonLength(a, b *Component) (int, bool) {
	alen, blen := a.adjLen(), b.adjLen()
	if alen == 0 {
		return -1, true
	}
	if blen == 0 {
		return 0, false
	}
	alen--
	blen--
	for i := 0; i < alen; i++ {
		if i >= blen || !same(a.P[i], b.P[i]) {
			return 0, false
		}
	}
	return alen, true
}

// toText rewrites an si/sd component as the equivalent text0 component.
func toText(c Component) Component {
	n := len(c.P)
	t := TextComponent{P: c.P[n-1].(int)}
	if c.SI != nil {
		t.I = *c.SI
	} else {
		t.D = *c.SD
	}
	return Component{P: slices.Clone(c.P[:n-1]), T: SubtypeText0, O: TextOp{t}}
}

// fromText rewrites a single-component text0 component as si or sd.
func fromText(c Component) Component {
	t := c.O[0]
	out := Component{P: append(slices.Clone(c.P), t.P)}
	if t.isDelete() {
		out.SD = &t.D
	} else {
		out.SI = &t.I
	}
	return out
}

// stringPastString is transformComponent of a string insert or delete
// against another, the common case when clients type into a record's
// cells, without going through text0: against an edit of another string
// (paths of the same length that differ before the offset) it is
// unchanged; within one string it moves as text0 moves it
// (stringOffsetPast). ok is false for any other pair.
func stringPastString(c, other Component, side Side) (Component, bool) {
	pos, ok := stringOffsetPast(&c, &other, side)
	if !ok {
		return Component{}, false
	}
	c.P = slices.Clone(c.P)
	if c.P[len(c.P)-1] != pos {
		c.P[len(c.P)-1] = pos
	}
	return c, true
}

// stringOffsetPast is the offset c has after other, under stringPastString's
// rules; ok is false for a pair they do not cover. Within one string, as
// text0 transforms its inserts and deletes (offsets and lengths in UTF-16
// code units):
//   - an insert moves past an insert before it, or at the same place when
//     side is Right;
//   - an insert moves back by a delete before it, and is left as it is by
//     one after it (one inside the deleted text: not covered, since text0
//     checks that it does not split a character there);
//   - a delete moves past an insert at or before its start, and is left as
//     it is by one at or after its end (one inside would split it: not
//     covered);
//   - a delete moves back by a delete wholly before it, and is left as it
//     is by one wholly after it (deletes that overlap: not covered).
//
// Empty inserts and deletes are not covered either (text0 drops them).
func stringOffsetPast(c, other *Component, side Side) (pos int, ok bool) {
	n := len(c.P)
	if !c.plainString() || !other.plainString() || n == 0 || len(other.P) != n {
		return 0, false
	}
	pos, ok1 := c.P[n-1].(int)
	at, ok2 := other.P[n-1].(int)
	if !ok1 || !ok2 {
		return 0, false
	}
	for i := range n - 1 {
		if !same(c.P[i], other.P[i]) {
			return pos, true
		}
	}
	size, osize := stringLen(c), stringLen(other)
	if size == 0 || osize == 0 {
		return 0, false
	}
	switch {
	case c.SI != nil && other.SI != nil:
		if at < pos || (at == pos && side == Right) {
			pos += osize
		}
		return pos, true
	case c.SI != nil: // past a delete
		switch {
		case pos <= at:
			return pos, true
		case pos >= at+osize:
			return pos - osize, true
		}
		return 0, false
	case other.SI != nil: // a delete past an insert
		switch {
		case at <= pos:
			return pos + osize, true
		case at >= pos+size:
			return pos, true
		}
		return 0, false
	}
	switch { // a delete past a delete
	case pos >= at+osize:
		return pos - osize, true
	case pos+size <= at:
		return pos, true
	}
	return 0, false
}

// stringLen is the length of a plain string component's insert or delete.
func stringLen(c *Component) int {
	if c.SI != nil {
		return u16len(*c.SI)
	}
	return u16len(*c.SD)
}

// transformComponent appends to dest the component c rewritten to apply
// after other; side breaks ties.
func transformComponent(dest Op, c, other Component, side Side) (Op, error) {
	if out, ok := stringPastString(c, other, side); ok {
		if len(dest) == 0 { // out's path is its own already
			return append(dest, out), nil
		}
		return appendComponent(dest, out), nil
	}
	c = c.clone()
	common, affected := commonLength(&other, &c)
	common2, affects := commonLength(&c, &other)
	clen, olen := c.adjLen(), other.adjLen()

	// A delete of something other changes carries other's change, so that
	// it stays invertible.
	if affects && olen > clen && looseSame(at(c.P, common2), at(other.P, common2)) && (c.LD.set || c.OD.set) {
		oc := other.clone()
		oc.P = oc.P[clen:]
		dst := &c.OD
		if c.LD.set {
			dst = &c.LD
		}
		v, err := applyComponent(dst.v, &oc)
		if err != nil {
			return nil, err
		}
		*dst = Some(v)
	}
	if !affected {
		return appendComponent(dest, c), nil
	}

	sameOperand := clen == olen
	cc, oc := at(c.P, common), at(other.P, common)
	wasString := c.isString()
	if (wasString || c.T != "") && (other.isString() || other.T != "") {
		// Text against text: json0 converts si/sd to text0 only when both
		// are si/sd; this package also transforms si/sd against text0.
		if wasString {
			c = toText(c)
		}
		ot := other
		if other.isString() {
			ot = toText(other)
		}
		res, err := textTransform(c.O, ot.O, side)
		if err != nil {
			return nil, err
		}
		if wasString {
			for _, t := range res {
				dest = appendComponent(dest, fromText(Component{P: c.P, T: c.T, O: TextOp{t}}))
			}
		} else if len(res) > 0 {
			c.O = res
			dest = appendComponent(dest, c)
		}
		return dest, nil
	}

	switch {
	case other.T != "", other.NA != nil:
		// Commutes with everything it can meet.
	case other.LI.set && other.LD.set:
		if same(oc, cc) {
			if !sameOperand {
				return dest, nil
			}
			if c.LD.set {
				if !c.LI.set || side != Left {
					return dest, nil
				}
				// Both replace the element: only the left one survives.
				c.LD = other.LI
			}
		}
	case other.LI.set:
		if c.LI.set && !c.LD.set && sameOperand && same(cc, oc) {
			if side == Right {
				bump(c.P, common, 1)
			}
		} else if lessEq(oc, cc) {
			bump(c.P, common, 1)
		}
		if c.LM != nil && sameOperand && lessEq(oc, *c.LM) {
			c.LM = intp(*c.LM + 1)
		}
	case other.LD.set:
		if c.LM != nil && sameOperand {
			if same(oc, cc) {
				return dest, nil // they deleted what we move
			}
			to := *c.LM
			if less(oc, to) || (same(oc, to) && less(cc, to)) {
				c.LM = intp(to - 1)
			}
		}
		if less(oc, cc) {
			bump(c.P, common, -1)
		} else if same(oc, cc) {
			if olen < clen {
				return dest, nil // inside the deleted element
			}
			if c.LD.set {
				if !c.LI.set {
					return dest, nil // both delete it
				}
				c.LD = Value{} // our replace becomes an insert
			}
		}
	case other.LM != nil:
		if c.LM != nil && clen == olen {
			if r, keep := moveMove(c, other, common, side); keep {
				c = r
			} else {
				return dest, nil
			}
		} else if c.LI.set && !c.LD.set && sameOperand {
			from, to := oc, *other.LM
			p := cc
			if less(from, p) {
				bump(c.P, common, -1)
			}
			if less(to, p) {
				bump(c.P, common, 1)
			}
		} else {
			// Everything that cares where its element went.
			from, to := oc, *other.LM
			p := cc
			if same(p, from) {
				c.P[common] = to
			} else {
				if less(from, p) {
					bump(c.P, common, -1)
				}
				if less(to, p) || (same(p, to) && less(to, from)) {
					bump(c.P, common, 1)
				}
			}
		}
	case other.OI.set && other.OD.set:
		if same(cc, oc) {
			if !c.OI.set || !sameOperand {
				return dest, nil // replaced under us
			}
			if side == Right {
				return dest, nil
			}
			c.OD = other.OI // we win: replace what they put
		}
	case other.OI.set:
		if c.OI.set && same(cc, oc) {
			if side == Right {
				return dest, nil
			}
			dest = appendComponent(dest, Component{P: c.P, OD: other.OI})
		}
	case other.OD.set:
		if looseSame(cc, oc) {
			if !sameOperand || !c.OI.set {
				return dest, nil
			}
			c.OD = Value{}
		}
	}
	return appendComponent(dest, c), nil
}

// moveMove transforms the move c by the concurrent move other in the same
// list; keep is false when c disappears.
func moveMove(c, other Component, common int, side Side) (Component, bool) {
	from, to := c.P[common].(int), *c.LM
	otherFrom, otherTo := other.P[common].(int), *other.LM
	if otherFrom == otherTo {
		return c, true
	}
	lm := to
	if from == otherFrom {
		// They moved it too: the left move wins.
		if side != Left {
			return c, false
		}
		c.P[common] = otherTo
		if from == to {
			lm = otherTo
		}
		c.LM = &lm
		return c, true
	}
	p := from
	if from > otherFrom {
		p--
	}
	if from > otherTo {
		p++
	} else if from == otherTo && otherFrom > otherTo {
		p++
		if from == to {
			lm++
		}
	}
	c.P[common] = p
	if to > otherFrom || (to == otherFrom && to > from) {
		lm--
	}
	switch {
	case to > otherTo:
		lm++
	case to == otherTo:
		if (otherTo > otherFrom && to > from) || (otherTo < otherFrom && to < from) {
			if side == Right {
				lm++
			}
		} else if to > from {
			lm++
		} else if to == otherFrom {
			lm--
		}
	}
	c.LM = &lm
	return c, true
}
