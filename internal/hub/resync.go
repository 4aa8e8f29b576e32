package hub

import (
	"context"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
)

// When a node's link to the cluster breaks and comes back, publications
// sent meanwhile may never have reached it. The broker then asks the hub to
// make up for them (KindResync, KindReset); nothing is skipped silently.

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
		h.log.Warn("catching up a stream after the broker reconnected failed", "stream", streamName, "err", err)
		return
	}
	if top.Offset < next {
		return
	}
	pubs, err := h.cfg.Streams.Fill(ctx, streamName, next, top.Offset)
	if err != nil {
		h.log.Warn("catching up a stream after the broker reconnected failed", "stream", streamName, "err", err)
		return
	}
	for _, p := range pubs {
		h.seq.Push(streamName, stream.Item{Offset: p.Offset, Value: p})
	}
}

// resetChannel closes the connections subscribed to an app channel that
// lost publications: they reconnect, resume with since, and are told
// recovered:false when the history cannot give them what they missed.
func (h *Hub) resetChannel(collectionName string) {
	sh := h.shardFor(collectionName)
	sh.mu.RLock()
	var conns []*Conn
	if col := sh.collections[collectionName]; col != nil {
		for c := range col.subs {
			conns = append(conns, c)
		}
		for _, set := range col.docs {
			for c := range set {
				conns = append(conns, c)
			}
		}
	}
	sh.mu.RUnlock()
	if len(conns) > 0 {
		h.log.Warn("an app channel lost messages while the broker was away; its subscribers resume", "collection", collectionName, "connections", len(conns))
	}
	for _, c := range conns {
		c.Disconnect(Disconnect{Code: 4002, Reason: "messages were lost on the way: resume with since", Reconnect: true})
	}
}
