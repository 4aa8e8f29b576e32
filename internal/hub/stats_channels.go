package hub

import (
	"cmp"
	"slices"
)

// ChannelCount is one channel of this node and how many subscriptions it
// has here.
type ChannelCount struct {
	Channel     string `json:"channel"` // collection, or collection.document
	Subscribers int    `json:"subscribers"`
}

// TopChannels returns at most limit of this node's channels with the most
// subscribers, most first (ties by name). A collection and each of its
// documents count as separate channels. It visits every channel under each
// shard's read lock in turn, so it is for the admin API, not hot paths.
func (h *Hub) TopChannels(limit int) []ChannelCount {
	if limit <= 0 {
		return nil
	}
	var all []ChannelCount
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for name, col := range sh.collections {
			if n := len(col.subs); n > 0 {
				all = append(all, ChannelCount{Channel: name, Subscribers: n})
			}
			for doc, set := range col.docs {
				if n := len(set); n > 0 {
					all = append(all, ChannelCount{Channel: channelKey(name, doc), Subscribers: n})
				}
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(all, func(a, b ChannelCount) int {
		return cmp.Or(cmp.Compare(b.Subscribers, a.Subscribers), cmp.Compare(a.Channel, b.Channel))
	})
	if len(all) > limit {
		all = all[:limit:limit]
	}
	return all
}
