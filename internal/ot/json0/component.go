package json0

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Side breaks ties when two concurrent operations insert at the same place:
// the Left operation's insert goes first.
type Side int

const (
	// Left is the side whose concurrent insert wins ties (ShareDB: the op already in the log).
	Left Side = iota
	// Right is the other side (ShareDB: the op being submitted).
	Right
)

func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// Value is an optional JSON operand. The zero Value is absent; Some(nil) is
// JSON null, so that {"oi":null} and a missing "oi" stay distinct.
type Value struct {
	v   any
	set bool
}

// Some returns a present Value holding v, which must be a JSON value as
// decoded by encoding/json into any (nil, bool, float64, string, []any,
// map[string]any).
func Some(v any) Value { return Value{v: v, set: true} }

// Present reports whether the operand is there (possibly as JSON null).
func (x Value) Present() bool { return x.set }

// Get returns the operand's value (nil when absent or JSON null).
func (x Value) Get() any { return x.v }

// TextComponent is one text0 component: insert I, or delete D, at offset P.
// Offsets and lengths count UTF-16 code units, as JavaScript clients do.
// Exactly one of I and D may be non-empty; an empty component is a no-op.
type TextComponent struct {
	P int
	I string
	D string
}

func (t TextComponent) isDelete() bool { return t.D != "" }

// TextOp is a text0 operation: components applied in order.
type TextOp []TextComponent

// SubtypeText0 is the only subtype this package knows (the "t" field).
const SubtypeText0 = "text0"

// Component is one json0 operation component. P is its path: string keys
// into objects and int indexes into lists. Exactly one kind of operation is
// present: OI and/or OD (object insert/delete/replace), LI and/or LD (list
// insert/delete/replace), LM (list move to index), NA (number add), SI or SD
// (string insert/delete; the last element of P is the offset), or T+O (a
// subtype operation on the value at P; only "text0").
type Component struct {
	P      []any
	OI, OD Value
	LI, LD Value
	LM     *int
	NA     *float64
	SI, SD *string
	T      string
	O      TextOp
}

// Op is a json0 operation: components applied in order.
type Op []Component

// Constructors for the common components.

// ObjectInsert sets key (the last element of path) that must not exist.
func ObjectInsert(path []any, v any) Component { return Component{P: path, OI: Some(v)} }

// ObjectDelete removes key (the last element of path) whose value is old.
func ObjectDelete(path []any, old any) Component { return Component{P: path, OD: Some(old)} }

// ObjectReplace replaces old by v at the key that ends path.
func ObjectReplace(path []any, old, v any) Component {
	return Component{P: path, OD: Some(old), OI: Some(v)}
}

// ListInsert inserts v before the index that ends path.
func ListInsert(path []any, v any) Component { return Component{P: path, LI: Some(v)} }

// ListDelete removes the element old at the index that ends path.
func ListDelete(path []any, old any) Component { return Component{P: path, LD: Some(old)} }

// ListReplace replaces the element old by v at the index that ends path.
func ListReplace(path []any, old, v any) Component {
	return Component{P: path, LD: Some(old), LI: Some(v)}
}

// ListMove moves the element at the index that ends path to index to.
func ListMove(path []any, to int) Component { return Component{P: path, LM: &to} }

// NumberAdd adds n to the number at path.
func NumberAdd(path []any, n float64) Component { return Component{P: path, NA: &n} }

// StringInsert inserts s into the string at path, at UTF-16 offset off.
func StringInsert(path []any, off int, s string) Component {
	return Component{P: append(slices.Clip(path), off), SI: &s}
}

// StringDelete deletes s from the string at path, at UTF-16 offset off.
func StringDelete(path []any, off int, s string) Component {
	return Component{P: append(slices.Clip(path), off), SD: &s}
}

// Text applies the text0 operation o to the string at path.
func Text(path []any, o TextOp) Component { return Component{P: path, T: SubtypeText0, O: o} }

// Errors. Every error returned by this package wraps one of these; test with
// errors.Is.
var (
	ErrMalformed    = errors.New("malformed component")
	ErrPathNotFound = errors.New("path does not exist")
	ErrMismatch     = errors.New("value does not match the document")
	ErrWrongType    = errors.New("wrong type at path")
	ErrOutOfRange   = errors.New("index out of range")
)

// Error describes a failed component.
type Error struct {
	Component int   // index of the component in its op, -1 if unknown
	Path      []any // the component's path
	Err       error // one of the Err* sentinels
	Detail    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("json0: component %d at %s: %v: %s", e.Component, pathString(e.Path), e.Err, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// failure is an error without its component position; wrapAt adds it.
type failure struct {
	kind   error
	detail string
}

func (f *failure) Error() string { return f.kind.Error() + ": " + f.detail }
func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, format string, args ...any) error {
	return &failure{kind: kind, detail: fmt.Sprintf(format, args...)}
}

func wrapAt(err error, i int, p []any) error {
	var f *failure
	if errors.As(err, &f) {
		return &Error{Component: i, Path: p, Err: f.kind, Detail: f.detail}
	}
	return err
}

func pathString(p []any) string {
	b, err := jsonMarshalPath(p)
	if err != nil {
		return fmt.Sprint(p)
	}
	return string(b)
}

type kind int

const (
	kindNone kind = iota
	kindObject
	kindList
	kindMove
	kindNumber
	kindString
	kindSubtype
)

// kind classifies c; it returns kindNone and a reason when c mixes kinds or has none.
func (c *Component) kind() (kind, string) {
	k, n := kindNone, 0
	add := func(present bool, kk kind) {
		if present {
			k = kk
			n++
		}
	}
	add(c.OI.set || c.OD.set, kindObject)
	add(c.LI.set || c.LD.set, kindList)
	add(c.LM != nil, kindMove)
	add(c.NA != nil, kindNumber)
	add(c.SI != nil || c.SD != nil, kindString)
	add(c.T != "" || c.O != nil, kindSubtype)
	switch n {
	case 0:
		return kindNone, "no operation (oi, od, li, ld, lm, na, si, sd or t+o)"
	case 1:
		return k, ""
	}
	return kindNone, "more than one kind of operation in one component"
}

// Validate checks every component's shape (not the document): the path
// elements, that exactly one kind of operation is present, that operands
// are JSON values of the right type.
func (op Op) Validate() error {
	for i := range op {
		if err := op[i].validate(); err != nil {
			return wrapAt(err, i, op[i].P)
		}
	}
	return nil
}

// Validate checks the component's shape; see Op.Validate.
func (c Component) Validate() error { return wrapAt(c.validate(), 0, c.P) }

func (c *Component) validate() error {
	for _, e := range c.P {
		switch e := e.(type) {
		case string:
		case int:
			if e < 0 {
				return fail(ErrMalformed, "negative index %d in path", e)
			}
		default:
			return fail(ErrMalformed, "path element %v (%T) is neither a string key nor an int index", e, e)
		}
	}
	k, why := c.kind()
	if k == kindNone {
		return fail(ErrMalformed, "%s", why)
	}
	last := func() any {
		if len(c.P) == 0 {
			return nil
		}
		return c.P[len(c.P)-1]
	}
	switch k {
	case kindObject:
		if _, ok := last().(string); !ok {
			return fail(ErrMalformed, "oi/od path must end in an object key")
		}
		for _, v := range []Value{c.OI, c.OD} {
			if err := checkJSON(v); err != nil {
				return err
			}
		}
	case kindList, kindMove:
		if _, ok := last().(int); !ok {
			return fail(ErrMalformed, "li/ld/lm path must end in a list index")
		}
		if c.LM != nil && *c.LM < 0 {
			return fail(ErrMalformed, "negative lm %d", *c.LM)
		}
		for _, v := range []Value{c.LI, c.LD} {
			if err := checkJSON(v); err != nil {
				return err
			}
		}
	case kindNumber:
		if math.IsNaN(*c.NA) || math.IsInf(*c.NA, 0) {
			return fail(ErrMalformed, "na is not a finite number")
		}
	case kindString:
		if c.SI != nil && c.SD != nil {
			return fail(ErrMalformed, "si and sd in one component")
		}
		if _, ok := last().(int); !ok {
			return fail(ErrMalformed, "si/sd path must end in a string offset")
		}
	case kindSubtype:
		if c.T != SubtypeText0 {
			return fail(ErrMalformed, "unknown subtype %q (only %q)", c.T, SubtypeText0)
		}
		for _, t := range c.O {
			if t.P < 0 {
				return fail(ErrMalformed, "negative text0 offset %d", t.P)
			}
			if t.I != "" && t.D != "" {
				return fail(ErrMalformed, "text0 component with both i and d")
			}
		}
	}
	return nil
}

func checkJSON(v Value) error {
	if !v.set {
		return nil
	}
	if !isJSON(v.v, 0) {
		return fail(ErrMalformed, "operand is not a JSON value (nil, bool, float64, string, []any, map[string]any)")
	}
	return nil
}

func isJSON(v any, depth int) bool {
	if depth > 1000 {
		return false
	}
	switch v := v.(type) {
	case nil, bool, string:
		return true
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case []any:
		for _, e := range v {
			if !isJSON(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !isJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// clone copies c's path and text op so that they can be changed in place.
func (c Component) clone() Component {
	c.P = slices.Clone(c.P)
	c.O = slices.Clone(c.O)
	return c
}

func (c *Component) isString() bool { return c.SI != nil || c.SD != nil }

// plainString reports whether c is an si or an sd and nothing else.
func (c *Component) plainString() bool {
	return (c.SI == nil) != (c.SD == nil) && !c.OI.set && !c.OD.set && !c.LI.set && !c.LD.set &&
		c.LM == nil && c.NA == nil && c.T == "" && c.O == nil
}

// adjLen is the path length counting the implicit last element of na and
// subtype components (which name the value itself rather than its parent).
func (c *Component) adjLen() int {
	if c.NA != nil || c.T != "" {
		return len(c.P) + 1
	}
	return len(c.P)
}
