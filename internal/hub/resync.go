package hub

import (
	"context"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

// When a node's link to the cluster breaks and comes back, publications
// sent meanwhile may never have reached it. The broker then asks the hub to
// make up for them (BrokerEventHandler's HandleResync and HandleReset);
// nothing is skipped silently.

// resyncTimeout bounds the store read of a catch-up.
const resyncTimeout = 10 * time.Second

// catchUp reads back from the store the events of an external stream that
// this node has not delivered, up to the stream's top, and hands them to
// the sequencer (which drops what arrives twice). A stream this node does
// not deliver is left alone.
func (h *Hub) catchUp(streamName string) {
	if h.seq == nil || h.cfg.Streams == nil {
		return
	}
	next := h.seq.Next(streamName)
	if next == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
	defer cancel()
	top, err := h.cfg.Streams.Top(ctx, streamName)
	if err != nil {
		h.resetStream(streamName, err)
		return
	}
	if top.Offset < next {
		return
	}
	pubs, err := h.cfg.Streams.Fill(ctx, streamName, next, top.Offset)
	if err != nil {
		h.resetStream(streamName, err)
		return
	}
	for _, p := range pubs {
		h.seq.Push(streamName, stream.Item{Offset: p.Offset, Value: p})
	}
}

// DisconnectLost closes a connection whose subscription lost publications
// on the way: it reconnects and resumes with since.
var DisconnectLost = Disconnect{Code: 4002, Reason: "messages were lost on the way: resume with since", Reconnect: true}

// resetChannel closes the connections subscribed to an app channel that
// lost publications: they reconnect, resume with since, and are told
// recovered:false when the history cannot give them what they missed.
func (h *Hub) resetChannel(collectionName string) {
	conns := h.subscribers(collectionName, func(col *collection) bool { return col != nil })
	if len(conns) > 0 {
		h.log.Warn("an app channel lost messages while the broker was away; its subscribers resume", "collection", collectionName, "connections", len(conns))
	}
	for _, c := range conns {
		c.Disconnect(DisconnectLost)
	}
}

// resetStream closes the connections subscribed to a table stream whose
// catch-up could not be read: they resume with since, from the store,
// rather than wait for events this node may never deliver.
func (h *Hub) resetStream(streamName string, cause error) {
	sh := h.shardForStream(streamName)
	sh.mu.RLock()
	var names []string
	for name, col := range sh.collections {
		if col.stream == streamName {
			names = append(names, name)
		}
	}
	sh.mu.RUnlock()
	var conns []*Conn
	for _, name := range names {
		conns = append(conns, h.subscribers(name, func(col *collection) bool { return col != nil && col.stream == streamName })...)
	}
	h.log.Warn("catching up a stream after the broker reconnected failed; its subscribers resume",
		"stream", streamName, "connections", len(conns), "err", cause)
	for _, c := range conns {
		c.Disconnect(DisconnectLost)
	}
}

// subscribers lists the connections subscribed to a collection or one of
// its documents, when ok accepts the collection.
func (h *Hub) subscribers(collectionName string, ok func(*collection) bool) []*Conn {
	sh := h.shardFor(collectionName)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	col := sh.collections[collectionName]
	if !ok(col) {
		return nil
	}
	var conns []*Conn
	for c := range col.subs {
		conns = append(conns, c)
	}
	for _, set := range col.docs {
		for c := range set {
			conns = append(conns, c)
		}
	}
	return conns
}
