package hub

import (
	"context"
	"sync"
	"time"
)

// sessionLog records connections' sessions in the cluster off the
// connection's path: a greeting is never held up by Redis. Records are kept
// by connection, so a connection that ends before its session was written
// is never written at all, and what Redis could not take is tried again
// once a second until it can.
type sessionLog struct {
	mu      sync.Mutex
	pending map[string]sessionRecord // by connection id
	wake    chan struct{}
}

type sessionRecord struct {
	userID string
	info   SessionInfo
	online bool
}

func newSessionLog() *sessionLog {
	return &sessionLog{pending: map[string]sessionRecord{}, wake: make(chan struct{}, 1)}
}

// put queues a record. An end that follows a start not yet written
// cancels both.
func (l *sessionLog) put(r sessionRecord) {
	l.mu.Lock()
	if prev, ok := l.pending[r.info.ConnectionID]; ok && prev.online && !r.online {
		delete(l.pending, r.info.ConnectionID)
	} else {
		l.pending[r.info.ConnectionID] = r
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// take returns the queued records and empties the queue.
func (l *sessionLog) take() map[string]sessionRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	out := l.pending
	l.pending = map[string]sessionRecord{}
	return out
}

// giveBack queues again the records that failed, unless a newer record of
// the same connection came meanwhile.
func (l *sessionLog) giveBack(recs []sessionRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		if _, newer := l.pending[r.info.ConnectionID]; !newer {
			l.pending[r.info.ConnectionID] = r
		}
	}
}

// runSessions writes the session records until the hub stops, then once
// more (the ends of the connections the shutdown closed).
func (h *Hub) runSessions(cl Cluster) {
	defer h.wg.Done()
	for {
		select {
		case <-h.sessions.wake:
		case <-h.stop:
			h.writeSessions(cl)
			return
		}
		if !h.writeSessions(cl) {
			select { // Redis is away: try again in a second
			case <-time.After(time.Second):
			case <-h.stop:
				h.writeSessions(cl)
				return
			}
			select {
			case h.sessions.wake <- struct{}{}:
			default:
			}
		}
	}
}

// writeSessions writes what is queued; it reports false when the cluster
// could not be reached (what was not written is queued again).
func (h *Hub) writeSessions(cl Cluster) bool {
	recs := h.sessions.take()
	if len(recs) == 0 {
		return true
	}
	var failed []sessionRecord
	var lastErr error
	for _, r := range recs {
		if lastErr != nil {
			failed = append(failed, r)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		if err := cl.PutSession(ctx, r.userID, r.info, r.online); err != nil {
			lastErr = err
			failed = append(failed, r)
		}
		cancel()
	}
	if lastErr == nil {
		return true
	}
	h.sessions.giveBack(failed)
	h.log.Warn("cluster sessions not recorded yet; trying again", "pending", len(failed), "err", lastErr)
	return false
}
