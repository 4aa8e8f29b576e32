package redisbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/hub"
)

var _ hub.Cluster = (*Broker)(nil)

// The cluster state in Redis:
//
//	<prefix>p:{<collection>}  hash: connection id -> hub.PresenceInfo (its node included)
//	<prefix>np:<node>         set: the collections a node has presence in
//	<prefix>u:{<user>}        hash: connection id -> hub.SessionInfo
//	<prefix>nu:<node>         set: the users a node has sessions of
//	<prefix>node:<node>       the node's last hub.Stats, expiring after nodeTTL
//	<prefix>nodes             set: the nodes seen
//
// Each node refreshes its node key every heartbeat. A node whose key has
// expired is dead: the first live node to see it takes a short lock,
// removes its presence (publishing the leaves, so every node tells its
// subscribers) and its sessions, and forgets it.

const (
	heartbeatEvery = time.Second
	nodeTTL        = 4 * time.Second
)

func (b *Broker) presenceKey(collection string) string {
	return b.prefix + "p:{" + collection + "}"
}
func (b *Broker) sessionsKey(user string) string { return b.prefix + "u:{" + user + "}" }
func (b *Broker) nodeKey(node string) string     { return b.prefix + "node:" + node }
func (b *Broker) nodesKey() string               { return b.prefix + "nodes" }

// SetStats gives the broker what it reports as this node's statistics.
func (b *Broker) SetStats(f func() hub.Stats) {
	b.mu.Lock()
	b.stats = f
	b.mu.Unlock()
}

// PutPresence implements Cluster.
func (b *Broker) PutPresence(ctx context.Context, collection string, info hub.PresenceInfo) error {
	key := b.presenceKey(collection)
	if len(info.State) == 0 || string(info.State) == "null" {
		return b.rdb.HDel(ctx, key, info.ConnectionID).Err()
	}
	return b.putIndexed(ctx, key, info.ConnectionID, info, b.prefix+"np:"+info.Node, collection)
}

// ClusterPresence implements Cluster.
func (b *Broker) ClusterPresence(ctx context.Context, collection, document string) ([]hub.PresenceInfo, error) {
	all, err := hashValues[hub.PresenceInfo](ctx, b.rdb, b.presenceKey(collection))
	if err != nil || document == "" {
		return all, err
	}
	return slices.DeleteFunc(all, func(info hub.PresenceInfo) bool { return info.Document != document }), nil
}

// PutSession implements Cluster.
func (b *Broker) PutSession(ctx context.Context, userID string, s hub.SessionInfo, online bool) error {
	key := b.sessionsKey(userID)
	if !online {
		return b.rdb.HDel(ctx, key, s.ConnectionID).Err()
	}
	return b.putIndexed(ctx, key, s.ConnectionID, s, b.prefix+"nu:"+s.Node, userID)
}

// ClusterOnline implements Cluster.
func (b *Broker) ClusterOnline(ctx context.Context, userID string) ([]hub.SessionInfo, error) {
	return hashValues[hub.SessionInfo](ctx, b.rdb, b.sessionsKey(userID))
}

// putIndexed sets field of the hash key to v as JSON and adds member to the
// node's index set, in one transaction.
func (b *Broker) putIndexed(ctx context.Context, key, field string, v any, index, member string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, field, data)
		p.SAdd(ctx, index, member)
		return nil
	})
	return err
}

// hashValues decodes the values of the hash key in the order of their
// fields (connection ids), leaving out those that do not decode.
func hashValues[T any](ctx context.Context, rdb redis.UniversalClient, key string) ([]T, error) {
	all, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(all))
	for _, field := range slices.Sorted(maps.Keys(all)) {
		var v T
		if json.Unmarshal([]byte(all[field]), &v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// NodeStats implements Cluster.
func (b *Broker) NodeStats(ctx context.Context) ([]hub.Stats, error) {
	nodes, err := b.rdb.SMembers(ctx, b.nodesKey()).Result()
	if err != nil || len(nodes) == 0 {
		return nil, err
	}
	sort.Strings(nodes)
	keys := make([]string, len(nodes))
	for i, n := range nodes {
		keys[i] = b.nodeKey(n)
	}
	vals, err := b.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []hub.Stats
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired: the node is gone
		}
		var st hub.Stats
		if json.Unmarshal([]byte(s), &st) == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// heartbeat refreshes this node's key and reaps dead nodes until ctx ends.
func (b *Broker) heartbeat(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		b.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Broker) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	defer cancel()
	b.mu.Lock()
	statsFn := b.stats
	b.mu.Unlock()
	st := hub.Stats{NodeID: b.node}
	if statsFn != nil {
		st = statsFn()
	}
	v, _ := json.Marshal(st)
	if _, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, b.nodeKey(b.node), v, nodeTTL)
		p.SAdd(ctx, b.nodesKey(), b.node)
		return nil
	}); err != nil {
		return // Redis is away: the receiving loop reports it
	}
	nodes, err := b.rdb.SMembers(ctx, b.nodesKey()).Result()
	if err != nil {
		return
	}
	for _, n := range nodes {
		if n == b.node {
			continue
		}
		alive, err := b.rdb.Exists(ctx, b.nodeKey(n)).Result()
		if err != nil || alive == 1 {
			continue
		}
		if err := b.reap(ctx, n); err != nil {
			b.log.Warn("redis broker: cleaning up after a dead node failed", "node", n, "err", err)
		}
	}
}

// reap removes a dead node's presence (telling every node) and sessions.
func (b *Broker) reap(ctx context.Context, node string) error {
	ok, err := b.rdb.SetNX(ctx, b.prefix+"reap:"+node, b.node, 10*time.Second).Result()
	if err != nil || !ok {
		return err // another node is on it
	}
	// A node that stopped cleanly left the list (and its state) itself
	// between our listing and its key's check.
	if known, err := b.rdb.SIsMember(ctx, b.nodesKey(), node).Result(); err != nil || !known {
		return err
	}
	b.log.Info("redis broker: a node stopped answering; removing its presence and sessions", "node", node)
	// Sessions first, presence second: when the leaves arrive, the rest
	// is clean.
	var errs []error
	users, err := b.rdb.SMembers(ctx, b.prefix+"nu:"+node).Result()
	if err != nil {
		errs = append(errs, err)
	}
	for _, u := range users {
		if err := ctx.Err(); err != nil {
			return err
		}
		list, err := b.ClusterOnline(ctx, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range list {
			if s.Node == node {
				errs = append(errs, b.rdb.HDel(ctx, b.sessionsKey(u), s.ConnectionID).Err())
			}
		}
	}
	cols, err := b.rdb.SMembers(ctx, b.prefix+"np:"+node).Result()
	if err != nil {
		errs = append(errs, err)
	}
	for _, col := range cols {
		if err := ctx.Err(); err != nil {
			return err
		}
		list, err := b.ClusterPresence(ctx, col, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, info := range list {
			if info.Node != node {
				continue
			}
			if err := b.rdb.HDel(ctx, b.presenceKey(col), info.ConnectionID).Err(); err != nil {
				errs = append(errs, err)
				continue
			}
			leave := &hub.Publication{Kind: hub.KindPresence, Collection: col, Document: info.Document, Data: json.RawMessage("null"),
				Author: hub.Author{UserID: info.UserID, SessionID: info.SessionID, ConnID: info.ConnectionID}, Time: time.Now()}
			if err := b.publishToAll(ctx, b.channel(col), leave); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d failures, the first: %w", len(errs), errs[0])
	}
	_, err = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, b.prefix+"np:"+node, b.prefix+"nu:"+node)
		p.SRem(ctx, b.nodesKey(), node)
		return nil
	})
	return err
}

// publishToAll publishes p on a channel for every node, this one included.
func (b *Broker) publishToAll(ctx context.Context, channel string, p *hub.Publication) error {
	env, err := encodeEnvelope("", p)
	if err != nil {
		return err
	}
	if err := b.rdb.Publish(ctx, channel, env).Err(); err != nil {
		return fmt.Errorf("redisbroker: publish: %w", err)
	}
	return nil
}

// leave removes this node from the cluster state on a clean stop (its
// connections' presence and sessions were removed as they closed).
func (b *Broker) leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SRem(ctx, b.nodesKey(), b.node)
		p.Del(ctx, b.nodeKey(b.node), b.prefix+"np:"+b.node, b.prefix+"nu:"+b.node)
		return nil
	})
}
