package baserow

import (
	"context"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/stream"
)

// replay answers {"type":"replay_events","last_seen_id":N}, sent after the
// pages were added again on a new socket. Each page's subscription is made
// again from N: its events after N are sent in offset order (from memory
// or the outbox), then live ones, none missed and none twice from there
// on. replay_events_result follows the last page's replay, before its live
// events: force_refresh false and latest_event_id the table stream's
// offset it reached, or force_refresh true when the events cannot all be
// given (retention, TABLECAST_REPLAY_LIMIT, N ahead of the stream): the
// pages then continue from now and the client refetches.
//
// _event_id is the offset of one table's stream, so one last_seen_id only
// means something for pages of one table: a socket whose pages span
// several tables is told force_refresh true and its pages are left as they
// are. Events the socket received between re-adding a page and sending
// replay_events are sent again, in their place in the order. Projections
// of past events use the view's definitions of now.
//
// {"type":"realtime_subscribe","last_seen_id":N} (Baserow's newer
// spelling of the same request; last_event_id is read when last_seen_id is
// absent) is answered the same way by realtime_subscribe_result, with
// outdated for force_refresh and current_latest_id for latest_event_id.
func (s *session) replay(ctx context.Context, m message, key string, result func(force bool, latest int64) []byte) {
	n, ok := m.id(key)
	if !ok {
		if raw := m[key]; string(raw) == "0" {
			n, ok = 0, true
		}
	}
	s.mu.Lock()
	pages := append([]*page(nil), s.pages...)
	s.mu.Unlock()
	switch {
	case !ok:
		s.conn.Send(result(true, -1))
		return
	case len(pages) == 0:
		s.conn.Send(result(false, n))
		return
	}
	for _, p := range pages[1:] {
		if p.tableID != pages[0].tableID {
			s.conn.Send(result(true, -1))
			return
		}
	}
	since := stream.Position{Offset: uint64(n), Epoch: s.srv.cfg.EventEpoch}
	force, latest := false, uint64(0)
	answered := false
	for i, p := range pages {
		last := i == len(pages)-1
		req := hub.SubscribeRequest{Collection: p.collection, Document: p.document, Since: &since}
		if last {
			req.Reply = func(r hub.SubscribeResult) []byte {
				answered = true
				return result(force || !r.Recovered, int64(max(latest, r.Position.Offset)))
			}
		}
		s.srv.hub.Unsubscribe(ctx, s.conn, p.collection, p.document)
		res, err := s.srv.hub.Subscribe(ctx, s.conn, req)
		if err != nil {
			// The subscription is gone: so is the page.
			if s.take(p) {
				s.srv.render.release(p)
				name := p.typ.name()
				s.conn.Send(pageFrame(TypePageDiscard, &name, p.echo, ""))
			}
			force = true
			continue
		}
		force = force || !res.Recovered
		latest = max(latest, res.Position.Offset)
		s.recheck(ctx, p)
	}
	if !answered {
		s.conn.Send(result(true, int64(latest)))
	}
}
