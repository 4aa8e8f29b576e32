// Package docevents gives the dialects that speak documents (native,
// ShareDB) the document changes of a table event, derived once per event
// on a node whatever the number of dialects rendering it.
package docevents

import (
	"encoding/json"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
)

type key struct{}

type submitKey struct{}

// Changes returns service.EventDocChanges of the event p carries. The
// result is shared: callers must not modify it.
func Changes(p *hub.Publication) ([]service.DocChange, error) {
	v, err := p.Memo(key{}, func() (any, error) { return service.EventDocChanges(p.Event, p.Data) })
	changes, _ := v.([]service.DocChange)
	return changes, err
}

// WebhookPaused reports whether p is a webhook_paused event, with the
// table it concerns.
func WebhookPaused(p *hub.Publication) (tableID int64, ok bool) {
	if p.Event != service.EventWebhookPaused {
		return 0, false
	}
	var meta service.TableMeta
	if json.Unmarshal(p.Data, &meta) != nil || meta.TableID <= 0 {
		return 0, false
	}
	return meta.TableID, true
}

// Submit returns the submit that made the event, read from the head of its
// payload (service.EventSubmit): zero for a REST write.
func Submit(p *hub.Publication) service.EventSubmitMeta {
	v, _ := p.Memo(submitKey{}, func() (any, error) { return service.EventSubmit(p.Data), nil })
	m, _ := v.(service.EventSubmitMeta)
	return m
}
