package hub

import "time"

// sweep is the one goroutine that watches every connection's clock: it sends
// WebSocket pings every HeartbeatInterval, closes connections silent for
// ConnectionTimeout (4005), whose token expired (4001), or that did not
// authenticate within AuthTimeout. A ticker per connection would cost a timer
// and a goroutine each; one pass a second over 10,000 connections costs well
// under a millisecond.
func (h *Hub) sweep() {
	defer h.wg.Done()
	period := time.Second
	if hb := h.cfg.HeartbeatInterval / 2; hb < period {
		period = max(hb, 10*time.Millisecond)
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.sweepOnce()
		}
	}
}

func (h *Hub) sweepOnce() {
	now := h.now().UnixNano()
	timeout := h.cfg.ConnectionTimeout.Nanoseconds()
	heartbeat := h.cfg.HeartbeatInterval.Nanoseconds()
	authTimeout := h.cfg.AuthTimeout.Nanoseconds()
	var closing []func()
	for i := range h.conns {
		s := &h.conns[i]
		s.mu.RLock()
		for _, c := range s.byID {
			switch {
			case !c.authed.Load() && now-c.created > authTimeout:
				closing = append(closing, func() { c.Disconnect(DisconnectAuthExpiry) })
			case now-c.lastSeen.Load() > timeout:
				closing = append(closing, func() { c.Disconnect(DisconnectTimeout) })
			case c.expiresAt.Load() != 0 && now >= c.expiresAt.Load():
				closing = append(closing, func() { c.Disconnect(DisconnectExpired) })
			case len(h.cfg.PingFrame) > 0 && now-c.lastPing >= heartbeat:
				c.lastPing = now
				c.Send(h.cfg.PingFrame)
			}
		}
		s.mu.RUnlock()
	}
	for _, f := range closing {
		f()
	}
}
