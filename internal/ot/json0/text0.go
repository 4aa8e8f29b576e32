package json0

import "unicode/utf8"

// text0: string edits addressed in UTF-16 code units, the subtype used by
// {"t":"text0","o":[...]} and, one component at a time, by si/sd.

// u16len is the length of s in UTF-16 code units.
func u16len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// byteOffset converts UTF-16 offset pos into a byte index of s. It fails when
// pos is past the end or splits a surrogate pair.
func byteOffset(s string, pos int) (int, bool) {
	if pos < 0 {
		return 0, false
	}
	u := 0
	for i := 0; i < len(s); {
		if u == pos {
			return i, true
		}
		if u > pos {
			return 0, false
		}
		if s[i] < utf8.RuneSelf {
			u++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			u += 2
		} else {
			u++
		}
		i += size
	}
	return len(s), u == pos
}

// u16slice is s[from:to] in UTF-16 units, clamped to s like JavaScript's
// String.prototype.slice; ok is false if a bound splits a surrogate pair.
func u16slice(s string, from, to int) (string, bool) {
	n := u16len(s)
	from, to = max(0, min(from, n)), max(0, min(to, n))
	if from >= to {
		return "", true
	}
	a, ok1 := byteOffset(s, from)
	b, ok2 := byteOffset(s, to)
	return s[a:b], ok1 && ok2
}

// inject inserts ins into s at UTF-16 offset pos.
func inject(s string, pos int, ins string) (string, bool) {
	b, ok := byteOffset(s, pos)
	if !ok {
		return "", false
	}
	return s[:b] + ins + s[b:], true
}

func textApplyOne(s string, t TextComponent) (string, error) {
	if !t.isDelete() {
		out, ok := inject(s, t.P, t.I)
		if !ok {
			return "", fail(ErrOutOfRange, "insert at %d in a string of length %d (UTF-16)", t.P, u16len(s))
		}
		return out, nil
	}
	a, ok1 := byteOffset(s, t.P)
	b, ok2 := byteOffset(s, t.P+u16len(t.D))
	if !ok1 || !ok2 {
		return "", fail(ErrOutOfRange, "delete of %d at %d in a string of length %d (UTF-16)", u16len(t.D), t.P, u16len(s))
	}
	if s[a:b] != t.D {
		return "", fail(ErrMismatch, "deleted text %q does not match %q", t.D, s[a:b])
	}
	return s[:a] + s[b:], nil
}

func textApply(s string, op TextOp) (string, error) {
	for _, t := range op {
		var err error
		if s, err = textApplyOne(s, t); err != nil {
			return "", err
		}
	}
	return s, nil
}

// textAppend adds t to op, merging it into the last component when both
// insert (or both delete) contiguous text. Empty components are dropped.
func textAppend(op TextOp, t TextComponent) TextOp {
	if t.I == "" && t.D == "" {
		return op
	}
	if len(op) == 0 {
		return append(op, t)
	}
	last := op[len(op)-1]
	switch {
	case !last.isDelete() && !t.isDelete() && last.P <= t.P && t.P <= last.P+u16len(last.I):
		if s, ok := inject(last.I, t.P-last.P, t.I); ok {
			op[len(op)-1] = TextComponent{P: last.P, I: s}
			return op
		}
	case last.isDelete() && t.isDelete() && t.P <= last.P && last.P <= t.P+u16len(t.D):
		if s, ok := inject(t.D, last.P-t.P, last.D); ok {
			op[len(op)-1] = TextComponent{P: t.P, D: s}
			return op
		}
	}
	return append(op, t)
}

func textCompose(a, b TextOp) TextOp {
	out := append(TextOp(nil), a...)
	for _, t := range b {
		out = textAppend(out, t)
	}
	return out
}

func textInvert(op TextOp) TextOp {
	out := make(TextOp, len(op))
	for i, t := range op {
		out[len(op)-1-i] = TextComponent{P: t.P, I: t.D, D: t.I}
	}
	return out
}

// textShift moves position pos over the component t. insertAfter puts pos
// after text inserted exactly at pos.
func textShift(pos int, t TextComponent, insertAfter bool) int {
	if !t.isDelete() {
		if t.P < pos || (t.P == pos && insertAfter) {
			return pos + u16len(t.I)
		}
		return pos
	}
	switch {
	case pos <= t.P:
		return pos
	case pos <= t.P+u16len(t.D):
		return t.P
	}
	return pos - u16len(t.D)
}

// textTransformComponent appends to dest the component c transformed so
// that it applies after other.
func textTransformComponent(dest TextOp, c, other TextComponent, side Side) (TextOp, error) {
	if !c.isDelete() {
		return textAppend(dest, TextComponent{P: textShift(c.P, other, side == Right), I: c.I}), nil
	}
	if !other.isDelete() {
		// Our delete around their insert: keep their text, delete ours on both sides of it.
		s := c.D
		if c.P < other.P {
			head, ok := u16slice(s, 0, other.P-c.P)
			tail, ok2 := u16slice(s, other.P-c.P, u16len(s))
			if !ok || !ok2 {
				return nil, fail(ErrOutOfRange, "text0 offset splits a surrogate pair")
			}
			dest = textAppend(dest, TextComponent{P: c.P, D: head})
			s = tail
		}
		if s != "" {
			dest = textAppend(dest, TextComponent{P: c.P + u16len(other.I), D: s})
		}
		return dest, nil
	}
	cl, ol := u16len(c.D), u16len(other.D)
	switch {
	case c.P >= other.P+ol:
		return textAppend(dest, TextComponent{P: c.P - ol, D: c.D}), nil
	case c.P+cl <= other.P:
		return textAppend(dest, c), nil
	}
	// Overlapping deletes: delete what they did not.
	var d string
	if c.P < other.P {
		head, _ := u16slice(c.D, 0, other.P-c.P)
		d = head
	}
	if c.P+cl > other.P+ol {
		tail, _ := u16slice(c.D, other.P+ol-c.P, cl)
		d += tail
	}
	lo, hi := max(c.P, other.P), min(c.P+cl, other.P+ol)
	mine, ok1 := u16slice(c.D, lo-c.P, hi-c.P)
	theirs, ok2 := u16slice(other.D, lo-other.P, hi-other.P)
	if !ok1 || !ok2 || mine != theirs {
		return nil, fail(ErrMismatch, "concurrent text deletes disagree on the deleted text")
	}
	if d != "" {
		dest = textAppend(dest, TextComponent{P: textShift(c.P, other, false), D: d})
	}
	return dest, nil
}

func textTransform(op, other TextOp, side Side) (TextOp, error) {
	if len(other) == 0 {
		return op, nil
	}
	if side == Left {
		l, _, err := transformX(op, other, textTransformComponent, textAppend)
		return l, err
	}
	_, r, err := transformX(other, op, textTransformComponent, textAppend)
	return r, err
}
