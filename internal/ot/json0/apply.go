package json0

import (
	"slices"
)

// Apply applies op to doc and returns the new document.
//
// doc is a JSON document as decoded by encoding/json into any: numbers are
// float64 (json.Number is not supported; decode without UseNumber).
// Apply never mutates doc or op: it copies the objects and lists on the path
// of each component (copy-on-write) and shares everything else, so the
// result shares unchanged subtrees with doc and inserted values with op.
// Treat documents as immutable values.
//
// Apply is stricter than the reference ot-json0, which trusts its input:
// od, ld and sd must equal the current value, list and string offsets must
// be in range. As in the reference, an oi without od on a key that exists
// replaces its value (ApplyFilled also returns the op with that value as
// its od). On error the document is unchanged and the error (an *Error)
// names the failing component.
func Apply(doc any, op Op) (any, error) {
	out, _, err := apply(doc, op, false)
	return out, err
}

// ApplyFilled is Apply, and returns the op as it applied: each oi without
// od that replaced a value gets that value as its od. The filled op is
// what to keep and send on, since inverting and transforming an oi that
// replaced a value need the value it replaced. The op is returned as given
// (not copied) when nothing was filled.
func ApplyFilled(doc any, op Op) (any, Op, error) {
	return apply(doc, op, true)
}

func apply(doc any, op Op, fill bool) (any, Op, error) {
	if err := op.Validate(); err != nil {
		return doc, op, err
	}
	out, filled := doc, op
	for i := range op {
		c := &op[i]
		if fill && c.OI.set && !c.OD.set {
			if cur, ok := valueAt(out, c.P); ok {
				if &filled[0] == &op[0] {
					filled = append(Op(nil), op...)
				}
				filled[i].OD = Some(cur)
				c = &filled[i]
			}
		}
		var err error
		if out, err = applyComponent(out, c); err != nil {
			return doc, op, wrapAt(err, i, op[i].P)
		}
	}
	return out, filled, nil
}

// valueAt returns the value at path p of doc, if there is one.
func valueAt(doc any, p []any) (any, bool) {
	cur := doc
	for _, k := range p {
		switch n := cur.(type) {
		case map[string]any:
			key, ok := k.(string)
			if !ok {
				return nil, false
			}
			if cur, ok = n[key]; !ok {
				return nil, false
			}
		case []any:
			i, ok := k.(int)
			if !ok || i < 0 || i >= len(n) {
				return nil, false
			}
			cur = n[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// applyComponent applies a validated component.
func applyComponent(doc any, c *Component) (any, error) {
	k, _ := c.kind()
	n := len(c.P)
	switch k {
	case kindNumber:
		return update(doc, c.P, func(v any) (any, error) {
			f, ok := v.(float64)
			if !ok {
				return nil, fail(ErrWrongType, "na on %s, not a number", typeName(v))
			}
			return f + *c.NA, nil
		})
	case kindSubtype:
		return update(doc, c.P, func(v any) (any, error) {
			s, ok := v.(string)
			if !ok {
				return nil, fail(ErrWrongType, "text0 on %s, not a string", typeName(v))
			}
			return textApply(s, c.O)
		})
	case kindString:
		off := c.P[n-1].(int)
		t := TextComponent{P: off}
		if c.SI != nil {
			t.I = *c.SI
		} else {
			t.D = *c.SD
		}
		return update(doc, c.P[:n-1], func(v any) (any, error) {
			s, ok := v.(string)
			if !ok {
				return nil, fail(ErrWrongType, "si/sd on %s, not a string", typeName(v))
			}
			return textApplyOne(s, t)
		})
	case kindObject:
		key := c.P[n-1].(string)
		return update(doc, c.P[:n-1], func(v any) (any, error) {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fail(ErrWrongType, "oi/od on %s, not an object", typeName(v))
			}
			cur, exists := m[key]
			switch {
			case c.OD.set && !exists:
				return nil, fail(ErrPathNotFound, "od of missing key %q", key)
			case c.OD.set && !Equal(cur, c.OD.v):
				return nil, fail(ErrMismatch, "od does not match the value at key %q", key)
			}
			// an oi without od on an existing key replaces it, as in ot-json0
			out := make(map[string]any, len(m)+1)
			for k, v := range m {
				out[k] = v
			}
			if c.OI.set {
				out[key] = c.OI.v
			} else {
				delete(out, key)
			}
			return out, nil
		})
	case kindList:
		idx := c.P[n-1].(int)
		return update(doc, c.P[:n-1], func(v any) (any, error) {
			l, ok := v.([]any)
			if !ok {
				return nil, fail(ErrWrongType, "li/ld on %s, not a list", typeName(v))
			}
			if c.LD.set {
				if idx >= len(l) {
					return nil, fail(ErrOutOfRange, "ld at %d in a list of %d", idx, len(l))
				}
				if !Equal(l[idx], c.LD.v) {
					return nil, fail(ErrMismatch, "ld does not match the element at %d", idx)
				}
				if c.LI.set {
					out := slices.Clone(l)
					out[idx] = c.LI.v
					return out, nil
				}
				return append(append(make([]any, 0, len(l)-1), l[:idx]...), l[idx+1:]...), nil
			}
			if idx > len(l) {
				return nil, fail(ErrOutOfRange, "li at %d in a list of %d", idx, len(l))
			}
			return slices.Concat(l[:idx], []any{c.LI.v}, l[idx:]), nil
		})
	case kindMove:
		from, to := c.P[n-1].(int), *c.LM
		return update(doc, c.P[:n-1], func(v any) (any, error) {
			l, ok := v.([]any)
			if !ok {
				return nil, fail(ErrWrongType, "lm on %s, not a list", typeName(v))
			}
			if from >= len(l) || to >= len(l) {
				return nil, fail(ErrOutOfRange, "lm from %d to %d in a list of %d", from, to, len(l))
			}
			if from == to {
				return l, nil
			}
			e := l[from]
			out := append(append(make([]any, 0, len(l)), l[:from]...), l[from+1:]...)
			return slices.Insert(out, to, e), nil
		})
	}
	return nil, fail(ErrMalformed, "no operation")
}

// update returns a copy of node in which the value at path is replaced by
// fn(value); only the containers on the path are copied.
func update(node any, path []any, fn func(any) (any, error)) (any, error) {
	if len(path) == 0 {
		return fn(node)
	}
	switch k := path[0].(type) {
	case string:
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fail(ErrPathNotFound, "key %q into %s", k, typeName(node))
		}
		child, ok := m[k]
		if !ok {
			return nil, fail(ErrPathNotFound, "no key %q", k)
		}
		nv, err := update(child, path[1:], fn)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		out[k] = nv
		return out, nil
	case int:
		l, ok := node.([]any)
		if !ok {
			return nil, fail(ErrPathNotFound, "index %d into %s", k, typeName(node))
		}
		if k >= len(l) {
			return nil, fail(ErrPathNotFound, "index %d in a list of %d", k, len(l))
		}
		nv, err := update(l[k], path[1:], fn)
		if err != nil {
			return nil, err
		}
		out := slices.Clone(l)
		out[k] = nv
		return out, nil
	}
	return nil, fail(ErrMalformed, "path element %v", path[0])
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "a non-JSON value"
}

// Equal reports whether two JSON values (as decoded by encoding/json) are equal.
func Equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case float64:
		b, ok := b.(float64)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !Equal(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}
