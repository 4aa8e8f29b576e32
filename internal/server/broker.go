package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/hub/redisbroker"
	"github.com/tablecast/tablecast/internal/stream"
)

// nodeBroker is the broker a node runs: the memory broker (one node), or
// the Redis broker when TABLECAST_REDIS_URL is set.
type nodeBroker struct {
	hub.Broker
	// ready is the /readyz check of the broker.
	ready func(context.Context) error
	// close releases what the broker needs beyond Broker.Close (the Redis
	// client).
	close func()
	// reportStats gives a cluster broker the node's statistics, which it
	// reports to the other nodes; a node alone has no one to tell.
	reportStats func(func() hub.Stats)
}

func newBroker(cfg config.Config, history *stream.MemoryHistory, log *slog.Logger) (nodeBroker, error) {
	if cfg.RedisURL == "" {
		return nodeBroker{
			Broker:      hub.NewMemoryBroker(history),
			ready:       func(context.Context) error { return nil },
			close:       func() {},
			reportStats: func(func() hub.Stats) {},
		}, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nodeBroker{}, fmt.Errorf("TABLECAST_REDIS_URL: %w", err)
	}
	client := redis.NewClient(opts)
	rb, err := redisbroker.New(redisbroker.Config{
		Client:      client,
		Prefix:      cfg.RedisPrefix,
		NodeID:      cfg.NodeID,
		HistorySize: historySize(cfg),
		HistoryTTL:  cfg.HistoryTTL,
		Logger:      log,
	})
	if err != nil {
		_ = client.Close()
		return nodeBroker{}, err
	}
	return nodeBroker{Broker: rb, ready: rb.Ping, close: func() { _ = client.Close() }, reportStats: rb.SetStats}, nil
}

// historySize is the configured history size in the histories' terms:
// zero in the setting keeps nothing, which they spell negative (their zero
// is the default).
func historySize(cfg config.Config) int {
	if cfg.HistorySize == 0 {
		return -1
	}
	return cfg.HistorySize
}
