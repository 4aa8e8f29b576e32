package client

import (
	"errors"
	"fmt"

	"github.com/tablecast/tablecast/internal/ot/json0"
)

// OTDoc is a client's copy of one versioned document, kept the way ShareDB
// clients keep theirs: local ops apply at once and wait in a queue; one of
// them at a time is in flight to the server; ops from others are
// transformed against the queue, and the queue against them, so that every
// copy converges to the server's document. OTDoc does no I/O: feed it what
// the server says and send what it returns. It is not safe for concurrent
// use.
type OTDoc struct {
	data any
	v    int64

	inflight    json0.Op // the op in flight (may be empty)
	hasInflight bool
	pending     json0.Op // local ops not sent yet, composed
	hasPend     bool
	// ackedAt is the version an acknowledged in-flight op applied to,
	// when the acknowledgement arrived before the ops below that version.
	ackedAt int64
	acked   bool
	fixup   json0.Op // the acknowledgement's fixup, applied when it settles
	// early counts in-flight ops known to be applied before their
	// acknowledgement arrived (see Remote): those acknowledgements are
	// expected and ignored.
	early int
}

// ErrVersionGap is returned by Remote for an op of a version past the
// document's: an op between them was missed (refetch the document).
var ErrVersionGap = errors.New("tablecast: op of a version past the document's")

// NewOTDoc is a copy of a document holding data at version v. data is a
// JSON value as encoding/json decodes into any.
func NewOTDoc(data any, v int64) *OTDoc { return &OTDoc{data: data, v: v} }

// Data is the document as this client sees it (local ops included). Treat
// it as read-only.
func (d *OTDoc) Data() any { return d.data }

// Version is the server version the copy is based on.
func (d *OTDoc) Version() int64 { return d.v }

// Pending reports whether local ops are in flight or queued.
func (d *OTDoc) Pending() bool { return d.hasInflight || d.hasPend || d.early > 0 }

// Apply applies a local op to the copy and queues it for the server.
func (d *OTDoc) Apply(op json0.Op) error {
	data, err := json0.Apply(d.data, op)
	if err != nil {
		return err
	}
	d.data = data
	if d.hasPend {
		d.pending = json0.Compose(d.pending, op)
	} else {
		d.pending, d.hasPend = op, true
	}
	return nil
}

// Flush returns the op to submit now and the version to submit it
// against, or ok false when an op is in flight already or nothing is
// queued. Call Acked when the server acknowledges it.
func (d *OTDoc) Flush() (op json0.Op, v int64, ok bool) {
	if d.hasInflight || !d.hasPend {
		return nil, 0, false
	}
	d.inflight, d.hasInflight, d.pending, d.hasPend = d.pending, true, nil, false
	if d.inflight == nil {
		d.inflight = json0.Op{}
	}
	return d.inflight, d.v, true
}

// Acked records the server's acknowledgement of the in-flight op, which
// it applied to version appliedAt (a native submit reply's v minus 1).
// When ops of versions below appliedAt have not arrived yet, the
// acknowledgement waits for them.
func (d *OTDoc) Acked(appliedAt int64) error { return d.AckedFixup(appliedAt, nil) }

// AckedFixup is Acked for an acknowledgement with a fixup (a native submit
// reply's data.fixup): what the server changed in the op as it stored it
// (a number rounded to its field's decimals, a select option named by its
// value), relative to the document after the in-flight op. It is applied
// to the copy, the queued local ops transformed by it, when the
// acknowledgement settles, so that the copy equals the stored document.
//
// The server sends a reply after the ops below its version. A fixup whose
// reply arrives after an op above its version (an older server) cannot be
// placed: AckedFixup returns an error, and the document must be fetched
// again.
func (d *OTDoc) AckedFixup(appliedAt int64, fixup json0.Op) error {
	if d.early > 0 && appliedAt < d.v {
		d.early--
		if len(fixup) > 0 {
			return fmt.Errorf("tablecast: a fixup for version %d arrived after the copy reached %d: fetch the document again", appliedAt, d.v)
		}
		return nil
	}
	if !d.hasInflight {
		return errors.New("tablecast: acknowledgement with no op in flight")
	}
	if appliedAt < d.v {
		return fmt.Errorf("tablecast: op acknowledged at version %d, the copy is at %d", appliedAt, d.v)
	}
	d.ackedAt, d.acked, d.fixup = appliedAt, true, fixup
	return d.settle()
}

func (d *OTDoc) settle() error {
	if !d.acked || d.ackedAt != d.v {
		return nil
	}
	fix := d.fixup
	d.inflight, d.hasInflight, d.acked, d.fixup = nil, false, false, nil
	d.v++
	if len(fix) == 0 {
		return nil
	}
	// The fixup follows the in-flight op in the server's history: the
	// queued ops, made after it, are transformed past it.
	var err error
	if d.hasPend {
		p := d.pending
		if d.pending, err = json0.Transform(p, fix, json0.Left); err != nil {
			return err
		}
		if fix, err = json0.Transform(fix, p, json0.Right); err != nil {
			return err
		}
	}
	data, err := json0.Apply(d.data, fix)
	if err != nil {
		return fmt.Errorf("tablecast: applying the server's fixup: %w", err)
	}
	d.data = data
	return nil
}

// Remote applies an op from someone else, made against version v. An op
// of a version the copy has passed (its own op, replayed after a
// reconnect, or one seen twice) is ignored; one past it is ErrVersionGap.
//
// A submitter does not receive its own op, and its acknowledgement can be
// overtaken by the ops that followed it. So an op for the version after
// the copy's while an op is in flight means the in-flight op was applied
// at the copy's version (any other op there would have come first): it
// counts as acknowledged, and its acknowledgement is ignored when it
// comes.
func (d *OTDoc) Remote(v int64, op json0.Op) error {
	if v < d.v {
		return nil
	}
	if v == d.v+1 && d.hasInflight && !d.acked {
		d.inflight, d.hasInflight = nil, false
		d.early++
		d.v++
	}
	if v > d.v {
		return fmt.Errorf("%w: op for version %d, the copy is at %d", ErrVersionGap, v, d.v)
	}
	var err error
	if d.hasInflight {
		in := d.inflight
		if d.inflight, err = json0.Transform(in, op, json0.Left); err != nil {
			return err
		}
		if op, err = json0.Transform(op, in, json0.Right); err != nil {
			return err
		}
	}
	if d.hasPend {
		p := d.pending
		if d.pending, err = json0.Transform(p, op, json0.Left); err != nil {
			return err
		}
		if op, err = json0.Transform(op, p, json0.Right); err != nil {
			return err
		}
	}
	data, err := json0.Apply(d.data, op)
	if err != nil {
		return err
	}
	d.data = data
	d.v++
	return d.settle()
}
