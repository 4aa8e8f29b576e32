package json0

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// source yields small random numbers; the generator below draws
// everything from it so that cases are reproducible from a seed or from
// fuzz bytes.
type source interface{ intn(n int) int }

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int { return s.r.IntN(n) }

// byteSource reads fuzz input; once exhausted it yields zeros.
type byteSource struct{ b []byte }

func (s *byteSource) intn(n int) int {
	if n <= 1 || len(s.b) == 0 {
		return 0
	}
	v := int(s.b[0])
	s.b = s.b[1:]
	if n > 256 && len(s.b) > 0 {
		v = v<<8 | int(s.b[0])
		s.b = s.b[1:]
	}
	return v % n
}

type gen struct {
	src source
	// textStyle: 0 si/sd, 1 t:text0; fixed per case so that both ops use the
	// same form (ot-json0 does not transform one form against the other).
	textStyle int
	// kinds restricts the component kinds generated (nil: all).
	kinds []kind
}

var pieces = []string{"a", "b", "c", "xy", "é", "中", "😀", " ", "z"}

func (g *gen) str(max int) string {
	var b strings.Builder
	for n := g.src.intn(max + 1); n > 0; n-- {
		b.WriteString(pieces[g.src.intn(len(pieces))])
	}
	return b.String()
}

func (g *gen) key() string { return string(rune('a' + g.src.intn(5))) }

func (g *gen) value(depth int) any {
	k := g.src.intn(8)
	if depth <= 0 && k >= 5 {
		k = g.src.intn(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return g.src.intn(2) == 1
	case 2, 3:
		return float64(g.src.intn(20) - 5)
	case 4:
		return g.str(4)
	case 5, 6:
		l := make([]any, g.src.intn(5))
		for i := range l {
			l[i] = g.value(depth - 1)
		}
		return l
	}
	m := map[string]any{}
	for n := g.src.intn(4); n > 0; n-- {
		m[g.key()] = g.value(depth - 1)
	}
	return m
}

// doc returns a random document: an object, so that the root always exists.
func (g *gen) doc() map[string]any {
	m := map[string]any{}
	for n := 1 + g.src.intn(4); n > 0; n-- {
		m[g.key()] = g.value(3)
	}
	return m
}

// node picks a random node of doc and returns its path and value.
func (g *gen) node(doc any) ([]any, any) {
	var path []any
	v := doc
	for g.src.intn(3) != 0 {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				return path, v
			}
			keys := sortedKeys(x)
			k := keys[g.src.intn(len(keys))]
			path, v = append(path, k), x[k]
		case []any:
			if len(x) == 0 {
				return path, v
			}
			i := g.src.intn(len(x))
			path, v = append(path, i), x[i]
		default:
			return path, v
		}
	}
	return path, v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// offsets returns the UTF-16 offsets of s that do not split a character.
func offsets(s string) []int {
	out := []int{0}
	u := 0
	for _, r := range s {
		u++
		if r >= 0x10000 {
			u++
		}
		out = append(out, u)
	}
	return out
}

func (g *gen) allowed(k kind) bool { return g.kinds == nil || slices.Contains(g.kinds, k) }

// component returns a random component valid against doc, or false.
func (g *gen) component(doc any) (Component, bool) {
	path, v := g.node(doc)
	p := func(e any) []any { return append(slices.Clone(path), e) }
	switch x := v.(type) {
	case map[string]any:
		if !g.allowed(kindObject) {
			return Component{}, false
		}
		k := g.key()
		old, exists := x[k]
		switch {
		case !exists:
			return ObjectInsert(p(k), g.value(2)), true
		case g.src.intn(2) == 0:
			return ObjectDelete(p(k), old), true
		default:
			return ObjectReplace(p(k), old, g.value(2)), true
		}
	case []any:
		n := len(x)
		switch r := g.src.intn(4); {
		case r == 0 && n > 0 && g.allowed(kindMove):
			return ListMove(p(g.src.intn(n)), g.src.intn(n)), true
		case r == 1 && n > 0 && g.allowed(kindList):
			i := g.src.intn(n)
			return ListDelete(p(i), x[i]), true
		case r == 2 && n > 0 && g.allowed(kindList):
			i := g.src.intn(n)
			return ListReplace(p(i), x[i], g.value(2)), true
		case g.allowed(kindList):
			return ListInsert(p(g.src.intn(n+1)), g.value(2)), true
		}
	case float64:
		if g.allowed(kindNumber) {
			return NumberAdd(path, float64(g.src.intn(11)-5)), true
		}
	case string:
		if g.textStyle == 0 && g.allowed(kindString) {
			offs := offsets(x)
			if g.src.intn(2) == 0 || len(offs) == 1 {
				s := g.str(2)
				if s == "" {
					s = "q"
				}
				return StringInsert(path, offs[g.src.intn(len(offs))], s), true
			}
			i := g.src.intn(len(offs) - 1)
			j := i + 1 + g.src.intn(len(offs)-1-i)
			d, _ := u16slice(x, offs[i], offs[j])
			return StringDelete(path, offs[i], d), true
		}
		if g.textStyle == 1 && g.allowed(kindSubtype) {
			var o TextOp
			s := x
			for n := 1 + g.src.intn(2); n > 0; n-- {
				offs := offsets(s)
				var t TextComponent
				if g.src.intn(2) == 0 || len(offs) == 1 {
					t = TextComponent{P: offs[g.src.intn(len(offs))], I: g.str(2) + "w"}
				} else {
					i := g.src.intn(len(offs) - 1)
					j := i + 1 + g.src.intn(len(offs)-1-i)
					d, _ := u16slice(s, offs[i], offs[j])
					t = TextComponent{P: offs[i], D: d}
				}
				s, _ = textApplyOne(s, t)
				o = append(o, t)
			}
			return Text(path, o), true
		}
	}
	return Component{}, false
}

// op returns a random op of 1 to max components, valid against doc.
func (g *gen) op(doc any, max int) Op {
	op := Op{}
	want := 1 + g.src.intn(max)
	for tries := 0; len(op) < want && tries < 20; tries++ {
		c, ok := g.component(doc)
		if !ok {
			continue
		}
		next, err := Apply(doc, Op{c})
		if err != nil {
			panic("generator made an invalid component: " + err.Error())
		}
		doc = next
		op = append(op, c)
	}
	return op
}
