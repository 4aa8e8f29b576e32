package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
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
// array of them).
type Payload struct {
	WebhookID int64           `json:"webhook_id"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	TableID   int64           `json:"table_id"`
	Offset    uint64          `json:"offset"`
	Timestamp time.Time       `json:"timestamp"`
	Items     json.RawMessage `json:"items"`
	OldItems  json.RawMessage `json:"old_items,omitempty"`
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
	p = Payload{WebhookID: webhookID, EventID: EventID(e.Stream.ID, e.Offset), EventType: name,
		TableID: e.Stream.ID, Offset: e.Offset, Timestamp: e.CreatedAt.UTC()}
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
