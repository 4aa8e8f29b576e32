package json0

import "slices"

// Compose returns an op equivalent to applying a then b. Like json0's, it
// appends b's components to a's one at a time, merging a component into
// the one before it when they touch the same path: na+na add up, an
// insert followed by its deletion cancels, od then oi becomes a replace,
// contiguous string or text0 edits merge. Compose does not check the ops
// against a document; give it valid ops (Validate) or the result is
// meaningless, but it never panics.
func Compose(a, b Op) Op {
	out := slices.Clone(a)
	for _, c := range b {
		out = appendComponent(out, c)
	}
	return out
}

// Invert returns the op that undoes op: the components reversed, each
// inverted (oi<->od, li<->ld, si<->sd, na negated, lm moved back, text0
// inverted). Deletes must carry the deleted value, as Apply requires.
func Invert(op Op) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	for i := len(op) - 1; i >= 0; i-- {
		c := op[i]
		inv := Component{P: slices.Clone(c.P), OI: c.OD, OD: c.OI, LI: c.LD, LD: c.LI, SI: c.SD, SD: c.SI}
		if c.T != "" {
			inv.T, inv.O = c.T, textInvert(c.O)
		}
		if c.NA != nil {
			inv.NA = new(-*c.NA)
		}
		if c.LM != nil {
			n := len(c.P)
			inv.LM = intp(c.P[n-1].(int))
			inv.P[n-1] = *c.LM
		}
		out = append(out, inv)
	}
	return out, nil
}

// appendComponent adds c to the end of dest, merging it into dest's last
// component where json0 does.
func appendComponent(dest Op, c Component) Op {
	c = c.clone()
	if len(dest) == 0 {
		return append(dest, c)
	}
	last := &dest[len(dest)-1]
	bothStrings := c.isString() && last.isString()
	cc, lc := c, *last
	if bothStrings {
		cc, lc = toText(c), toText(*last)
	}
	if !slices.Equal(cc.P, lc.P) {
		return append(dest, c)
	}
	switch {
	case cc.T != "" && cc.T == lc.T:
		o := textCompose(lc.O, cc.O)
		if !bothStrings {
			last.O = o
			return dest
		}
		// Back to si/sd: the merged component, maybe followed by another.
		dest = dest[:len(dest)-1]
		for _, t := range o {
			dest = append(dest, fromText(Component{P: lc.P, T: SubtypeText0, O: TextOp{t}}))
		}
	case last.NA != nil && c.NA != nil:
		*last = Component{P: last.P, NA: new(*last.NA + *c.NA)}
	case last.LI.set && !c.LI.set && c.LD.set && samePrimitive(c.LD.v, last.LI.v):
		// Inserted, then deleted: nothing (or the delete half of a replace).
		if last.LD.set {
			last.LI = Value{}
		} else {
			dest = dest[:len(dest)-1]
		}
	case last.OD.set && !last.OI.set && c.OI.set && !c.OD.set:
		last.OI = c.OI
	case last.OI.set && c.OD.set:
		switch {
		case c.OI.set:
			last.OI = c.OI
		case last.OD.set:
			last.OI = Value{}
		default:
			dest = dest[:len(dest)-1]
		}
	case c.LM != nil && same(c.P[len(c.P)-1], *c.LM):
		// A move to where it is: nothing.
	default:
		dest = append(dest, c)
	}
	return dest
}

// samePrimitive is json0's identity test on list values: equal scalars
// match; objects and lists never do (the reference compares references of
// copies).
func samePrimitive(a, b any) bool {
	switch a.(type) {
	case nil, bool, float64, string:
		return a == b
	}
	return false
}
