package bench

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisCommands returns the commands Redis has processed since it
// started (INFO stats), to count what a run costs it; NaN without
// --nodes.
func redisCommands(ctx context.Context, o Options) float64 {
	if o.Nodes <= 1 || o.RedisURL == "" {
		return math.NaN()
	}
	opts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return math.NaN()
	}
	c := redis.NewClient(opts)
	defer c.Close()
	info, err := c.Info(ctx, "stats").Result()
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return n
			}
		}
	}
	return math.NaN()
}

// commandsPer is the Redis commands per unit of work, or NaN.
func commandsPer(before, after float64, n int) float64 {
	if n == 0 || math.IsNaN(before) || math.IsNaN(after) {
		return math.NaN()
	}
	return (after - before) / float64(n)
}
