package hub_test

import (
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/hub/brokertest"
	"github.com/tablecast/tablecast/internal/stream"
)

// TestMemoryBrokerContract runs the brokers' contract (brokertest) on the
// memory broker; the Redis broker runs it in its package.
func TestMemoryBrokerContract(t *testing.T) {
	brokertest.Contract(t, func(t *testing.T) hub.Broker {
		h := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: 100, TTL: time.Hour})
		t.Cleanup(h.Close)
		return hub.NewMemoryBroker(h)
	})
}
