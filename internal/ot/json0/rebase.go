package json0

// Rebase transforms one op past a sequence of others, each made against the
// document as the ones before it left it: after r := NewRebase(op, side),
// r.Past(a) and r.Past(b), r.Op() is Transform(Transform(op, a, side), b,
// side). It copies less than those calls: a string insert or delete
// (stringPastString's case) is copied once, on the first Past, and then
// moved in place, where Transform makes a new op and path each time.
type Rebase struct {
	op   Op
	side Side
	// own: op and its one component's path were made here, and nothing
	// else holds them.
	own bool
}

// NewRebase starts transforming op; op itself is never changed.
func NewRebase(op Op, side Side) Rebase { return Rebase{op: op, side: side} }

// Past transforms the op past other. After an error the Rebase must not be
// used.
func (r *Rebase) Past(other Op) error {
	if len(r.op) == 1 && len(other) == 1 {
		if err := other.Validate(); err != nil {
			return err
		}
		if r.own {
			if pos, ok := stringOffsetPast(&r.op[0], &other[0], r.side); ok {
				if p := r.op[0].P; p[len(p)-1] != pos {
					p[len(p)-1] = pos
				}
				return nil
			}
		} else if err := r.op.Validate(); err != nil {
			return err
		} else if c, ok := stringPastString(r.op[0], other[0], r.side); ok {
			r.op, r.own = Op{c}, true // c.P is a copy
			return nil
		}
	}
	out, err := Transform(r.op, other, r.side)
	if err != nil {
		return err
	}
	r.op, r.own = out, false
	return nil
}

// Op returns the op as transformed so far. It is the caller's: the Rebase
// must not be used after.
func (r *Rebase) Op() Op { return r.op }
