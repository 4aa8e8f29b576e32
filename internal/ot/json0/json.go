package json0

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/tablecast/tablecast/internal/jsonscan"
)

// MarshalJSON writes the component in json0's wire shape, e.g.
// {"p":["a",0],"li":1}. Absent operands are omitted; present nulls are
// written as null.
func (c Component) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	p, err := jsonMarshalPath(c.P)
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"p":`)
	b.Write(p)
	field := func(name string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("json0: %s: %w", name, err)
		}
		b.WriteString(`,"` + name + `":`)
		b.Write(raw)
		return nil
	}
	type opt struct {
		name string
		v    Value
	}
	for _, o := range []opt{{"oi", c.OI}, {"od", c.OD}, {"li", c.LI}, {"ld", c.LD}} {
		if o.v.set {
			if err := field(o.name, o.v.v); err != nil {
				return nil, err
			}
		}
	}
	var err2 error
	if c.LM != nil {
		err2 = field("lm", *c.LM)
	}
	if c.NA != nil && err2 == nil {
		n := *c.NA
		if n == 0 {
			n = 0 // no "-0" on the wire
		}
		err2 = field("na", n)
	}
	if c.SI != nil && err2 == nil {
		err2 = field("si", *c.SI)
	}
	if c.SD != nil && err2 == nil {
		err2 = field("sd", *c.SD)
	}
	if c.T != "" && err2 == nil {
		err2 = field("t", c.T)
	}
	if (c.T != "" || c.O != nil) && err2 == nil {
		o := c.O
		if o == nil {
			o = TextOp{}
		}
		err2 = field("o", o)
	}
	if err2 != nil {
		return nil, err2
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a component in json0's wire shape. Unknown fields are
// ignored. Shape errors (a path that is not an array, an lm that is not an
// integer, an si that is not a string) are errors wrapping ErrMalformed;
// the combination of fields is checked by Validate.
func (c *Component) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return &Error{Component: -1, Err: ErrMalformed, Detail: "component is not a JSON object"}
	}
	*c = Component{}
	bad := func(format string, args ...any) error {
		return &Error{Component: -1, Path: c.P, Err: ErrMalformed, Detail: fmt.Sprintf(format, args...)}
	}
	raw, ok := m["p"]
	if !ok {
		return bad("missing path p")
	}
	var p []any
	if err := json.Unmarshal(raw, &p); err != nil || p == nil {
		return bad("p is not an array")
	}
	c.P = make([]any, len(p))
	for i, e := range p {
		switch e := e.(type) {
		case string:
			c.P[i] = e
		case float64:
			n, ok := toInt(e)
			if !ok {
				return bad("path element %v is not an integer index", e)
			}
			c.P[i] = n
		default:
			return bad("path element %v is neither a key nor an index", e)
		}
	}
	for _, f := range []struct {
		name string
		dst  *Value
	}{{"oi", &c.OI}, {"od", &c.OD}, {"li", &c.LI}, {"ld", &c.LD}} {
		if raw, ok := m[f.name]; ok {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return bad("%s: %v", f.name, err)
			}
			*f.dst = Some(v)
		}
	}
	if raw, ok := m["lm"]; ok {
		var f float64
		n, ok := 0, json.Unmarshal(raw, &f) == nil
		if ok {
			n, ok = toInt(f)
		}
		if !ok {
			return bad("lm is not an integer index")
		}
		c.LM = &n
	}
	if raw, ok := m["na"]; ok {
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return bad("na is not a number")
		}
		c.NA = &f
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"si", &c.SI}, {"sd", &c.SD}} {
		if raw, ok := m[f.name]; ok {
			var s *string
			if err := json.Unmarshal(raw, &s); err != nil || s == nil {
				return bad("%s is not a string", f.name)
			}
			*f.dst = s
		}
	}
	if raw, ok := m["t"]; ok {
		if err := json.Unmarshal(raw, &c.T); err != nil || c.T == "" {
			return bad("t is not a subtype name")
		}
	}
	if raw, ok := m["o"]; ok {
		if c.T != SubtypeText0 {
			return bad("o without t:%q", SubtypeText0)
		}
		if err := json.Unmarshal(raw, &c.O); err != nil {
			return bad("o: %v", err)
		}
		if c.O == nil {
			c.O = TextOp{}
		}
	}
	return nil
}

// MarshalJSON writes {"p":n,"i":"..."} or {"p":n,"d":"..."}.
func (t TextComponent) MarshalJSON() ([]byte, error) {
	if t.D != "" {
		return json.Marshal(struct {
			P int    `json:"p"`
			D string `json:"d"`
		}{t.P, t.D})
	}
	return json.Marshal(struct {
		P int    `json:"p"`
		I string `json:"i"`
	}{t.P, t.I})
}

// UnmarshalJSON reads a text0 component; it needs p and exactly one of i, d.
func (t *TextComponent) UnmarshalJSON(data []byte) error {
	var w struct {
		P *float64
		I *string
		D *string
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: text0 component: %v", ErrMalformed, err)
	}
	if w.P == nil {
		return fmt.Errorf("%w: text0 component without p", ErrMalformed)
	}
	n, ok := toInt(*w.P)
	if !ok || n < 0 {
		return fmt.Errorf("%w: text0 offset %v", ErrMalformed, *w.P)
	}
	if (w.I == nil) == (w.D == nil) {
		return fmt.Errorf("%w: text0 component needs exactly one of i and d", ErrMalformed)
	}
	*t = TextComponent{P: n}
	if w.I != nil {
		t.I = *w.I
	} else {
		t.D = *w.D
	}
	return nil
}

func toInt(f float64) (int, bool) {
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func jsonMarshalPath(p []any) ([]byte, error) {
	if p == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(p)
}

// AppendJSON appends the op's JSON, byte for byte json.Marshal's: string
// inserts and deletes on paths of plain keys are written directly (the
// common op, a character typed or erased), any other component through
// json.Marshal.
func (op Op) AppendJSON(b []byte) ([]byte, error) {
	if op == nil {
		return append(b, "[]"...), nil
	}
	b = append(b, '[')
	for i := range op {
		if i > 0 {
			b = append(b, ',')
		}
		if out, ok := appendStringComponent(b, &op[i]); ok {
			b = out
			continue
		}
		raw, err := json.Marshal(op[i])
		if err != nil {
			return nil, err
		}
		b = append(b, raw...)
	}
	return append(b, ']'), nil
}

// appendStringComponent appends an si or sd component whose path and
// text json.Marshal writes as they are; ok is false for any other.
func appendStringComponent(b []byte, c *Component) ([]byte, bool) {
	text, name := c.SI, `,"si":`
	if c.SD != nil {
		text, name = c.SD, `,"sd":`
	}
	if (c.SI == nil) == (c.SD == nil) || c.OI.set || c.OD.set || c.LI.set || c.LD.set || c.LM != nil || c.NA != nil ||
		c.T != "" || c.O != nil || c.P == nil || !jsonscan.Verbatim(*text) {
		return b, false
	}
	start := len(b)
	b = append(b, `{"p":[`...)
	for i, e := range c.P {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := e.(type) {
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case string:
			if !jsonscan.Verbatim(v) {
				return b[:start], false
			}
			b = append(append(append(b, '"'), v...), '"')
		default:
			return b[:start], false
		}
	}
	b = append(append(b, ']'), name...)
	return append(append(append(b, '"'), *text...), `"}`...), true
}

// MarshalJSON writes the op as a JSON array; a nil Op is [] (never null).
func (op Op) MarshalJSON() ([]byte, error) {
	if op == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Component(op))
}
