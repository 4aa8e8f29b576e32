package baserow

import (
	"encoding/json"
	"fmt"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// webhookPaused renders webhook_paused for the table pages: a frame of
// tablecast's own (Baserow has no such message; its front end ignores a
// type it does not know), with the event's offset as _event_id.
func webhookPaused(p *hub.Publication, tableID int64, pages *tablePages) ([]hub.Output, error) {
	if pages.table == 0 {
		return nil, nil
	}
	var ev event.WebhookPaused
	if err := json.Unmarshal(p.Data, &ev); err != nil {
		return nil, fmt.Errorf("baserow: decode %s: %w", p.Event, err)
	}
	var w buf
	w.open(event.EventWebhookPaused)
	w.key("table_id")
	w.int(tableID)
	w.key("webhook_id")
	w.int(ev.WebhookID)
	w.key("reason")
	w.str(ev.Reason)
	w.key("offset")
	w.uint(ev.Offset)
	w.eventID(p.Offset)
	return []hub.Output{{Collection: tableCollection(tableID), Frame: w.frame()}}, nil
}
