package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tablecast/tablecast/internal/store"
)

// batch is the events of one call (Payloads, maybe none) and how far the
// cursor moves once it is delivered (To: past the events not asked for).
type batch struct {
	payloads []Payload
	parts    []*rendered // the payloads' shared encodings
	to       uint64
	used     int
}

// eventFilter is a webhook's event names decoded, kept while they stay
// the same.
type eventFilter struct {
	raw   json.RawMessage
	all   bool
	names map[string]bool
	set   bool
}

// collect takes from evs (consecutive, from the cursor on) the next call's
// payloads: up to the webhook's batch of the events it asks for.
func collect(h store.Webhook, evs []rendered) (batch, error) {
	var f eventFilter
	return f.collect(h, evs)
}

// collect is collect with the webhook's event names decoded once.
func (f *eventFilter) collect(h store.Webhook, evs []rendered) (batch, error) {
	if !f.set || !bytes.Equal(f.raw, h.Events) {
		f.all, f.names = events(h.Events)
		f.raw, f.set = bytes.Clone(h.Events), true
	}
	all, names := f.all, f.names
	size := max(h.Batch, 1)
	var b batch
	for i := range evs {
		r := &evs[i]
		if len(b.payloads) == size {
			break
		}
		if r.err != nil {
			return b, r.err
		}
		b.used++
		b.to = r.offset
		if r.ok && (all || names[r.p.EventType]) {
			p := r.p
			p.WebhookID = h.ID
			b.payloads = append(b.payloads, p)
			b.parts = append(b.parts, r)
		}
	}
	return b, nil
}

// one is the body of the batch's i-th payload alone (a dead letter).
func (b batch) one(h store.Webhook, i int) []byte {
	return b.parts[i].appendBody(nil, h.ID)
}

// body is the request body of a batch, and its message id: the shared
// encodings of its events behind the webhook's id, the bytes json.Marshal
// of its Payloads would give.
func (b batch) body(h store.Webhook) (id string, body []byte, err error) {
	first := b.payloads[0]
	if h.Batch <= 1 {
		return first.EventID, b.one(h, 0), nil
	}
	last := b.payloads[len(b.payloads)-1]
	id = first.EventID
	if last.Offset != first.Offset {
		id = fmt.Sprintf("%s-%d", first.EventID, last.Offset)
	}
	n := 2
	for _, r := range b.parts {
		n += len(r.tail) + 40
	}
	body = append(make([]byte, 0, n), '[')
	for i, r := range b.parts {
		if i > 0 {
			body = append(body, ',')
		}
		body = r.appendBody(body, h.ID)
	}
	return id, append(body, ']'), nil
}
