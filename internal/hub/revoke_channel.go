package hub

import "context"

// SessionCloser is an optional ability of a Session: Closed is called once,
// after the hub has forgotten the connection (its subscriptions are gone),
// whoever closed it. A dialect that keeps its own account of what its
// connections hold releases it there.
type SessionCloser interface {
	Closed()
}

// RevokeChannel ends every local subscription to a channel, whatever its
// user, and tells each connection through its dialect (Session.RevokedFrame).
// With document "" it ends the collection's subscriptions and those of every
// document of it. Used when a channel stops being visible to anyone who
// holds it: a public view made private or deleted. It returns how many
// subscriptions it ended.
func (h *Hub) RevokeChannel(collectionName, document string) int {
	sh := h.shardFor(collectionName)
	var gone []*subscription
	sh.mu.RLock()
	if col := sh.collections[collectionName]; col != nil {
		if document == "" {
			for _, sub := range col.subs {
				gone = append(gone, sub)
			}
			for _, set := range col.docs {
				for _, sub := range set {
					gone = append(gone, sub)
				}
			}
		} else {
			for _, sub := range col.docs[document] {
				gone = append(gone, sub)
			}
		}
	}
	sh.mu.RUnlock()
	n := 0
	for _, sub := range gone {
		c := sub.conn
		c.smu.Lock()
		mine := false
		if i := c.findSubLocked(sub.collection, sub.document); i >= 0 && c.subs[i] == sub {
			c.takeSubLocked(sub.collection, sub.document)
			mine = true
		}
		c.smu.Unlock()
		if !mine {
			continue // unsubscribed meanwhile
		}
		h.dropSubscription(sub)
		h.leavePresence(context.Background(), c, sub.collection, sub.document)
		c.Send(c.session.RevokedFrame(sub.collection, sub.document))
		n++
	}
	return n
}
