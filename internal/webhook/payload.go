package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// The event names a webhook can ask for: Baserow's, for the service's
// event types. Other events of a table's stream (table_updated,
// webhook_paused...) are not sent: the cursor passes them.
var eventNames = map[string]string{
	event.EventRowsCreated:  "rows.created",
	event.EventRowsUpdated:  "rows.updated",
	event.EventRowsDeleted:  "rows.deleted",
	event.EventFieldCreated: "field.created",
	event.EventFieldUpdated: "field.updated",
	event.EventFieldDeleted: "field.deleted",
	event.EventViewCreated:  "view.created",
	event.EventViewUpdated:  "view.updated",
	event.EventViewDeleted:  "view.deleted",
}

// EventNames lists the names a webhook's events may hold (besides "*").
func EventNames() []string {
	return []string{"rows.created", "rows.updated", "rows.deleted", "field.created", "field.updated",
		"field.deleted", "view.created", "view.updated", "view.deleted"}
}

// Payload is the body of one event (a call with batch > 1 sends a JSON
// array of them): its webhook's id, then the Event's fields.
type Payload struct {
	WebhookID int64 `json:"webhook_id"`
	Event
}

// Event is a Payload without its webhook_id: what every webhook of a
// table sends for an event is the same but for that first field, so it is
// encoded once and each body only prefixes its webhook's id.
type Event struct {
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	TableID   int64           `json:"table_id"`
	Offset    uint64          `json:"offset"`
	Timestamp time.Time       `json:"timestamp"`
	Items     json.RawMessage `json:"items"`
	OldItems  json.RawMessage `json:"old_items,omitempty"`
}

// rendered is an event of a table's stream as every webhook sends it: ok
// false for an event no webhook is sent, err for one that cannot be
// rendered. It is read-only once made: the webhooks of a table share it.
type rendered struct {
	offset uint64
	ok     bool
	p      Payload // WebhookID 0
	tail   []byte  // the JSON of p after its webhook_id: `"event_id":...}`
	err    error
}

// renderAll renders events for every webhook, once.
func renderAll(evs []store.Event) []rendered {
	out := make([]rendered, len(evs))
	for i, e := range evs {
		r := rendered{offset: e.Offset}
		r.p, r.ok, r.err = render(0, e)
		if r.ok && r.err == nil {
			var b []byte
			b, r.err = json.Marshal(r.p.Event)
			if r.err == nil {
				r.tail = b[1:] // after the '{'
			}
		}
		out[i] = r
	}
	return out
}

// appendBody appends the JSON of r's payload for webhook id: the same
// bytes as json.Marshal of the Payload.
func (r *rendered) appendBody(b []byte, id int64) []byte {
	b = append(b, `{"webhook_id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ',')
	return append(b, r.tail...)
}

// EventID names an event of a table's stream: "<table>:<offset>".
func EventID(tableID int64, offset uint64) string {
	return strconv.FormatInt(tableID, 10) + ":" + strconv.FormatUint(offset, 10)
}

// render turns an event of the table's stream into the payload of the
// webhook; ok is false for an event no webhook is sent.
func render(webhookID int64, e store.Event) (p Payload, ok bool, err error) {
	name, ok := eventNames[e.Type]
	if !ok {
		return Payload{}, false, nil
	}
	p = Payload{WebhookID: webhookID, Event: Event{EventID: EventID(e.Stream.ID, e.Offset), EventType: name,
		TableID: e.Stream.ID, Offset: e.Offset, Timestamp: e.CreatedAt.UTC()}}
	var items, old any
	switch e.Type {
	case event.EventRowsCreated:
		var ev event.RowsCreated
		err = json.Unmarshal(e.Payload, &ev)
		items = ev.Rows
	case event.EventRowsUpdated:
		var ev event.RowsUpdated
		err = json.Unmarshal(e.Payload, &ev)
		items, old = ev.Rows, ev.RowsBefore
	case event.EventRowsDeleted:
		var ev event.RowsDeleted
		err = json.Unmarshal(e.Payload, &ev)
		items = ev.Rows
	default: // fields and views: their REST shapes, as the event holds them
		var ev struct {
			Field       json.RawMessage `json:"field"`
			FieldBefore json.RawMessage `json:"field_before"`
			View        json.RawMessage `json:"view"`
			ViewBefore  json.RawMessage `json:"view_before"`
		}
		err = json.Unmarshal(e.Payload, &ev)
		switch e.Type {
		case event.EventFieldCreated, event.EventFieldDeleted:
			items = []json.RawMessage{ev.Field}
		case event.EventFieldUpdated:
			items, old = []json.RawMessage{ev.Field}, []json.RawMessage{ev.FieldBefore}
		case event.EventViewCreated, event.EventViewDeleted:
			items = []json.RawMessage{ev.View}
		case event.EventViewUpdated:
			items, old = []json.RawMessage{ev.View}, []json.RawMessage{ev.ViewBefore}
		}
	}
	if err != nil {
		return Payload{}, false, fmt.Errorf("webhook: event %s: %w", p.EventID, err)
	}
	// Rows are encoded as the REST API encodes them (event.Row through
	// encoding/json), whatever shape that gives their cells.
	if p.Items, err = json.Marshal(items); err != nil {
		return Payload{}, false, fmt.Errorf("webhook: event %s: %w", p.EventID, err)
	}
	if old != nil {
		if p.OldItems, err = json.Marshal(old); err != nil {
			return Payload{}, false, fmt.Errorf("webhook: event %s: %w", p.EventID, err)
		}
	}
	return p, true, nil
}

// renderSpan is how many of a table's latest events stay rendered: the
// webhooks of a table a few batches apart render each event once.
const renderSpan = 4 * readBatch

// renderRing holds a table's events as rendered, by offset modulo its
// size. A stream's offset names one event forever, so a rendering is
// good for as long as it is kept.
type renderRing struct {
	mu    sync.Mutex
	slots [renderSpan]*rendered
}

// render renders a table's events, each once while it stays in the
// table's ring: the webhooks of a table read the same events at
// different times, apart by a few calls.
func (d *Dispatcher) render(table int64, evs []store.Event) []rendered {
	d.readsMu.Lock()
	ring := d.renders[table]
	if ring == nil {
		ring = &renderRing{}
		d.renders[table] = ring
	}
	d.readsMu.Unlock()
	out := make([]rendered, len(evs))
	ring.mu.Lock()
	defer ring.mu.Unlock()
	for i, e := range evs {
		slot := &ring.slots[e.Offset%renderSpan]
		if r := *slot; r != nil && r.offset == e.Offset {
			out[i] = *r
			continue
		}
		out[i] = renderAll(evs[i : i+1])[0]
		r := out[i]
		*slot = &r
	}
	return out
}

// kept returns the events after an offset that the table's ring holds,
// consecutive, up to limit: events another webhook of the table read
// lately, taken again without reading the outbox.
func (d *Dispatcher) kept(table int64, after uint64, limit int) []rendered {
	d.readsMu.Lock()
	ring := d.renders[table]
	d.readsMu.Unlock()
	if ring == nil {
		return nil
	}
	ring.mu.Lock()
	defer ring.mu.Unlock()
	var out []rendered
	for off := after + 1; len(out) < limit; off++ {
		r := ring.slots[off%renderSpan]
		if r == nil || r.offset != off {
			break
		}
		if out == nil {
			out = make([]rendered, 0, limit)
		}
		out = append(out, *r)
	}
	return out
}

// forget drops the rings of the tables no worker delivers.
func (d *Dispatcher) forget() {
	d.mu.RLock()
	tables := map[int64]bool{}
	for _, w := range d.workers {
		tables[w.tableID] = true
	}
	d.mu.RUnlock()
	d.readsMu.Lock()
	for t := range d.renders {
		if !tables[t] {
			delete(d.renders, t)
		}
	}
	d.readsMu.Unlock()
}
