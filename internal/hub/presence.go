package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
)

type presenceState struct {
	userID    string
	sessionID string
	state     json.RawMessage
}

// PresenceInfo is one connection's presence in a channel.
type PresenceInfo struct {
	Document     string          `json:"document,omitempty"`
	UserID       string          `json:"user_id"`
	SessionID    string          `json:"session_id"`
	ConnectionID string          `json:"connection_id"`
	State        json.RawMessage `json:"state"`
	// Node is the node the connection is on (set in a cluster).
	Node string `json:"node_id,omitempty"`
}

// SetPresence sets (state != nil) or clears (state nil or JSON null) c's
// presence in a channel and tells the channel's other subscribers. Presence
// ends by itself when c unsubscribes from the channel or disconnects.
func (h *Hub) SetPresence(ctx context.Context, c *Conn, collectionName, document string, state json.RawMessage) error {
	if !c.authed.Load() {
		return ErrNotAuthenticated
	}
	if len(state) == 0 || string(state) == "null" {
		h.leavePresence(ctx, c, collectionName, document)
		return nil
	}
	key := channelKey(collectionName, document)
	sh := h.shardFor(collectionName)
	sh.mu.Lock()
	col := sh.collections[collectionName]
	if col == nil {
		col = h.newCollection(collectionName)
		sh.collections[collectionName] = col
	}
	if col.presence == nil {
		col.presence = make(map[string]map[*Conn]presenceState)
	}
	set := col.presence[document]
	if set == nil {
		set = make(map[*Conn]presenceState)
		col.presence[document] = set
	}
	set[c] = presenceState{userID: c.userID, sessionID: c.sessionID, state: state}
	sh.mu.Unlock()

	c.smu.Lock()
	if c.presence == nil {
		c.presence = new([]string)
	}
	if !slices.Contains(*c.presence, key) {
		*c.presence = append(*c.presence, key)
	}
	c.smu.Unlock()
	h.putPresence(c, collectionName, document, state)
	return h.publishPresence(ctx, c, collectionName, document, state)
}

func (h *Hub) publishPresence(ctx context.Context, c *Conn, collectionName, document string, state json.RawMessage) error {
	_, err := h.Publish(ctx, &Publication{
		Kind:       KindPresence,
		Collection: collectionName,
		Document:   document,
		Data:       state,
		Author:     Author{UserID: c.userID, SessionID: c.sessionID, ConnID: c.id},
		Exclude:    []string{c.id},
	})
	return err
}

func (h *Hub) leavePresence(ctx context.Context, c *Conn, collectionName, document string) {
	key := channelKey(collectionName, document)
	c.smu.Lock()
	had := false
	if c.presence != nil {
		if i := slices.Index(*c.presence, key); i >= 0 {
			had = true
			*c.presence = slices.Delete(*c.presence, i, i+1)
		}
	}
	c.smu.Unlock()
	if had {
		h.clearPresence(ctx, c, collectionName, document)
	}
}

// clearPresence removes c's presence in a channel and tells the subscribers.
func (h *Hub) clearPresence(ctx context.Context, c *Conn, collectionName, document string) {
	sh := h.shardFor(collectionName)
	sh.mu.Lock()
	removed := false
	if col := sh.collections[collectionName]; col != nil {
		if set := col.presence[document]; set != nil {
			if _, ok := set[c]; ok {
				delete(set, c)
				removed = true
			}
			if len(set) == 0 {
				delete(col.presence, document)
			}
		}
		if col.empty() {
			delete(sh.collections, collectionName)
		}
	}
	sh.mu.Unlock()
	if removed {
		h.putPresence(c, collectionName, document, nil)
	}
	if removed && !h.draining.Load() {
		_ = h.publishPresence(ctx, c, collectionName, document, rawNull)
	}
}

// Presence lists who is present in a channel on this node. A collection's
// presence includes its documents'.
func (h *Hub) Presence(collectionName, document string) []PresenceInfo {
	sh := h.shardFor(collectionName)
	sh.mu.RLock()
	var out []PresenceInfo
	if col := sh.collections[collectionName]; col != nil {
		for doc, set := range col.presence {
			if document != "" && doc != document {
				continue
			}
			for c, st := range set {
				out = append(out, PresenceInfo{Document: doc, UserID: st.userID, SessionID: st.sessionID, ConnectionID: c.id, State: st.state})
			}
		}
	}
	sh.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectionID < out[j].ConnectionID })
	return out
}

// queuePresence sends a new subscriber who is already present in the channel,
// and returns what it sent.
func (h *Hub) queuePresence(c *Conn, collectionName, document string) presenceSnapshot {
	var list []PresenceInfo
	if h.cluster() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		list = h.PresenceAll(ctx, collectionName, document)
		cancel()
	} else {
		list = h.Presence(collectionName, document)
	}
	for _, info := range list {
		if info.ConnectionID == c.id {
			continue
		}
		h.sendOne(c, &Publication{
			Kind: KindPresence, Collection: collectionName, Document: info.Document,
			Data: info.State, Author: Author{UserID: info.UserID, SessionID: info.SessionID, ConnID: info.ConnectionID},
			Time: h.now(),
		})
	}
	return presenceSnapshot(list)
}

// presenceSnapshot is the presence a new subscriber was sent.
type presenceSnapshot []PresenceInfo

// has reports whether presence change p is already reflected in the snapshot
// (the same state of the same connection, or a leave of one not in it), so
// that a change held while subscribing is not delivered twice.
func (s presenceSnapshot) has(p *Publication) bool {
	for _, info := range s {
		if info.ConnectionID == p.Author.ConnID && info.Document == p.Document {
			return bytes.Equal(info.State, p.Data)
		}
	}
	return len(p.Data) == 0 || string(p.Data) == "null"
}

// Session is one connection of an online user.
type SessionInfo struct {
	ConnectionID string `json:"connection_id"`
	SessionID    string `json:"session_id"`
	Remote       string `json:"remote_addr,omitempty"`
	Node         string `json:"node_id"`
}

// Online returns a user's local sessions.
func (h *Hub) Online(userID string) []SessionInfo {
	conns := h.UserConns(userID)
	out := make([]SessionInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, SessionInfo{ConnectionID: c.id, SessionID: c.sessionID, Remote: c.remote, Node: h.cfg.NodeID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectionID < out[j].ConnectionID })
	return out
}
