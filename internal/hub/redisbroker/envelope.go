package redisbroker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tablecast/tablecast/internal/hub"
)

// The wire format. What travels on a Redis channel, and what an app
// channel's history keeps, is an envelope:
//
//	{"o": offset, "e": epoch, "n": node, "p": publication}
//
// The offset and epoch are those the append script gave a streamed
// publication (KindMessage, KindOp): the publication is encoded before they
// are known, and the script writes the envelope around it (appendScript
// spells the same keys). The node is the publisher's, on what it delivered
// to itself before publishing it for the others. The publication's keys are
// wirePublication's; an event (KindEvent) carries its own offset and epoch
// there.
//
// The format is the one the Redis broker had inside the hub package, so
// nodes of either version can share a Redis during a rolling upgrade.

// envelope is a message on a Redis channel, decoded in one pass.
type envelope struct {
	Offset uint64          `json:"o,omitempty"`
	Epoch  string          `json:"e,omitempty"`
	Node   string          `json:"n,omitempty"`
	Pub    wirePublication `json:"p"`
}

// wirePublication is what of a hub.Publication travels: everything but
// what a node learns while delivering it. UserID, SessionID and ConnID
// ("u", "s", "i") carry the publication's Target when its kind is targeted
// (KindUser, KindDisconnect), its Author otherwise.
type wirePublication struct {
	Kind         hub.Kind        `json:"k"`
	Stream       string          `json:"st,omitempty"`
	Collection   string          `json:"c,omitempty"`
	Document     string          `json:"d,omitempty"`
	Offset       uint64          `json:"o,omitempty"`
	Epoch        string          `json:"e,omitempty"`
	Data         json.RawMessage `json:"p,omitempty"`
	Event        string          `json:"ev,omitempty"`
	UserID       string          `json:"u,omitempty"`
	SessionID    string          `json:"s,omitempty"`
	ConnID       string          `json:"i,omitempty"`
	Exclude      []string        `json:"x,omitempty"`
	ExcludeUsers []string        `json:"xu,omitempty"`
	Reconnect    bool            `json:"r,omitempty"`
	Time         time.Time       `json:"t"`
}

func toWire(p *hub.Publication) wirePublication {
	w := wirePublication{Kind: p.Kind, Stream: p.Stream, Collection: p.Collection, Document: p.Document,
		Offset: p.Offset, Epoch: p.Epoch, Data: p.Data, Event: p.Event, Exclude: p.Exclude,
		ExcludeUsers: p.ExcludeUsers, Reconnect: p.Reconnect, Time: p.Time}
	if p.Kind.Targeted() {
		w.UserID, w.ConnID = p.Target.UserID, p.Target.ConnID
	} else {
		w.UserID, w.SessionID, w.ConnID = p.Author.UserID, p.Author.SessionID, p.Author.ConnID
	}
	return w
}

func (w *wirePublication) publication() *hub.Publication {
	p := &hub.Publication{Kind: w.Kind, Stream: w.Stream, Collection: w.Collection, Document: w.Document,
		Offset: w.Offset, Epoch: w.Epoch, Data: w.Data, Event: w.Event, Exclude: w.Exclude,
		ExcludeUsers: w.ExcludeUsers, Reconnect: w.Reconnect, Time: w.Time}
	if w.Kind.Targeted() {
		p.Target = hub.Target{UserID: w.UserID, ConnID: w.ConnID}
	} else {
		p.Author = hub.Author{UserID: w.UserID, SessionID: w.SessionID, ConnID: w.ConnID}
	}
	return p
}

// encodePublication encodes p alone, for the append script to wrap.
func encodePublication(p *hub.Publication) ([]byte, error) {
	b, err := json.Marshal(toWire(p))
	if err != nil {
		return nil, fmt.Errorf("redisbroker: encode publication: %w", err)
	}
	return b, nil
}

// decodePublication decodes what encodePublication produced.
func decodePublication(b []byte) (*hub.Publication, error) {
	var w wirePublication
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("redisbroker: decode publication: %w", err)
	}
	return w.publication(), nil
}

// encodeEnvelope encodes p in an envelope from node ("" for every node,
// this one included), in one pass.
func encodeEnvelope(node string, p *hub.Publication) ([]byte, error) {
	b, err := json.Marshal(envelope{Node: node, Pub: toWire(p)})
	if err != nil {
		return nil, fmt.Errorf("redisbroker: encode envelope: %w", err)
	}
	return b, nil
}

// decodeEnvelope decodes a message of a Redis channel.
func decodeEnvelope(b []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return envelope{}, fmt.Errorf("redisbroker: decode envelope: %w", err)
	}
	return env, nil
}

// publication is the envelope's publication, with the offset and epoch
// the append script gave it, if it did.
func (env *envelope) publication() *hub.Publication {
	p := env.Pub.publication()
	if env.Offset != 0 {
		p.Offset, p.Epoch = env.Offset, env.Epoch
	}
	return p
}
