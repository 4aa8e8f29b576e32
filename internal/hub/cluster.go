package hub

import (
	"context"
	"time"
)

// Cluster is what a broker spanning several nodes adds to Broker: the
// presence in channels, the sessions of users and the nodes' statistics,
// kept where every node reads them and dropped for a node that dies. The
// hub uses it when its broker has it (the Redis broker); with one node the
// hub's own maps are the whole truth.
type Cluster interface {
	// PutPresence records a connection's presence in a channel of the
	// collection; a nil or null State removes it.
	PutPresence(ctx context.Context, collection string, info PresenceInfo) error
	// ClusterPresence lists the presence in a channel on every node (a
	// collection's includes its documents').
	ClusterPresence(ctx context.Context, collection, document string) ([]PresenceInfo, error)
	// PutSession records (online) or removes a user's connection.
	PutSession(ctx context.Context, userID string, s SessionInfo, online bool) error
	// ClusterOnline lists a user's connections on every node.
	ClusterOnline(ctx context.Context, userID string) ([]SessionInfo, error)
	// NodeStats returns the last statistics each live node reported.
	NodeStats(ctx context.Context) ([]Stats, error)
}

// clusterTimeout bounds the cluster calls made on a connection's path
// (authentication, presence, disconnection).
const clusterTimeout = 2 * time.Second

// Clustered reports whether the hub's broker spans nodes.
func (h *Hub) Clustered() bool { return h.cluster() != nil }

func (h *Hub) cluster() Cluster {
	c, _ := h.cfg.Broker.(Cluster)
	return c
}

// putPresence mirrors a local presence change into the cluster.
func (h *Hub) putPresence(c *Conn, collectionName, document string, state []byte) {
	cl := h.cluster()
	if cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	info := PresenceInfo{Document: document, UserID: c.userID, SessionID: c.sessionID, ConnectionID: c.id, State: state, Node: h.cfg.NodeID}
	if err := cl.PutPresence(ctx, collectionName, info); err != nil {
		h.log.Warn("cluster presence not recorded", "collection", collectionName, "err", err)
	}
}

// putSession mirrors a connection's authentication or end into the
// cluster, off the connection's path (runSessions writes it).
func (h *Hub) putSession(c *Conn, online bool) {
	if h.sessions == nil {
		return
	}
	h.sessions.put(sessionRecord{userID: c.userID, online: online,
		info: SessionInfo{ConnectionID: c.id, SessionID: c.sessionID, Remote: c.remote, Node: h.cfg.NodeID}})
}

// PresenceAll lists who is present in a channel on every node (this
// node's only, without a cluster or when it cannot be reached).
func (h *Hub) PresenceAll(ctx context.Context, collectionName, document string) []PresenceInfo {
	if cl := h.cluster(); cl != nil {
		if list, err := cl.ClusterPresence(ctx, collectionName, document); err == nil {
			return list
		} else {
			h.log.Warn("cluster presence unavailable; answering with this node's", "err", err)
		}
	}
	return h.Presence(collectionName, document)
}

// OnlineAll returns a user's sessions on every node (see PresenceAll).
func (h *Hub) OnlineAll(ctx context.Context, userID string) []SessionInfo {
	if cl := h.cluster(); cl != nil {
		if list, err := cl.ClusterOnline(ctx, userID); err == nil {
			return list
		} else {
			h.log.Warn("cluster sessions unavailable; answering with this node's", "err", err)
		}
	}
	return h.Online(userID)
}

// NodesStats returns every live node's statistics, this node's first
// (this node's alone without a cluster).
func (h *Hub) NodesStats(ctx context.Context) ([]Stats, error) {
	self := h.Stats()
	cl := h.cluster()
	if cl == nil {
		return []Stats{self}, nil
	}
	nodes, err := cl.NodeStats(ctx)
	if err != nil {
		return []Stats{self}, err
	}
	out := []Stats{self}
	for _, s := range nodes {
		if s.NodeID != self.NodeID {
			out = append(out, s)
		}
	}
	return out, nil
}
