package native

import (
	"encoding/json"
	"fmt"

	"github.com/tablecast/tablecast/internal/hub"
)

// renderer renders hub publications as native frames; pv, when set, also
// renders the public views' projections (publicview.go).
type renderer struct{ pv *PublicViews }

var _ hub.Renderer = renderer{}

type presenceData struct {
	UserID       string          `json:"user_id"`
	SessionID    string          `json:"session_id"`
	ConnectionID string          `json:"connection_id"`
	State        json.RawMessage `json:"state"`
}

// Render implements hub.Renderer.
func (renderer) Render(p *hub.Publication) ([]byte, error) {
	m := outbound{Collection: p.Collection, Document: p.Document, Timestamp: timestamp(p.Time)}
	data := p.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	switch p.Kind {
	case hub.KindMessage:
		m.Type, m.Offset, m.Data = TypeMessage, &p.Offset, data
	case hub.KindOp:
		m.Type, m.Offset, m.Data = TypeOp, &p.Offset, data
	case hub.KindUser:
		m.Type, m.Collection, m.Document, m.Data = TypeMessage, "", "", data
	case hub.KindPresence:
		m.Type = TypePresence
		m.Data = presenceData{UserID: p.Author.UserID, SessionID: p.Author.SessionID, ConnectionID: p.Author.ConnID, State: data}
	default:
		return nil, fmt.Errorf("native: cannot render publication kind %d", p.Kind)
	}
	return encode(&m), nil
}
