package stream_test

import (
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/stream/streamtest"
)

func TestMemoryHistoryContract(t *testing.T) {
	streamtest.HistoryContract(t, func(t *testing.T) stream.History {
		h := stream.NewMemoryHistory(stream.MemoryHistoryConfig{Size: streamtest.ContractSize, TTL: time.Hour})
		t.Cleanup(h.Close)
		return h
	})
}
