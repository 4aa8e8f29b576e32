package stream

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

var benchPayload = []byte(`{"type":"message","collection":"chat","data":{"text":"hello"}}`)

func BenchmarkMemoryHistoryAppend(b *testing.B) {
	b.Run("one_stream", func(b *testing.B) {
		h := NewMemoryHistory(MemoryHistoryConfig{})
		defer h.Close()
		ctx := context.Background()
		for range defaultHistorySize { // fill the ring: from here on Append must not allocate
			_, _ = h.Append(ctx, "chat", benchPayload)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.Append(ctx, "chat", benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	b.Run("many_streams", func(b *testing.B) {
		const streams = 4096
		h := NewMemoryHistory(MemoryHistoryConfig{})
		defer h.Close()
		ctx := context.Background()
		names := make([]string, streams)
		for i := range names {
			names[i] = "chat_" + strconv.Itoa(i)
			for range defaultHistorySize {
				_, _ = h.Append(ctx, names[i], benchPayload)
			}
		}
		var worker atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * 997 // start each goroutine elsewhere
			for pb.Next() {
				if _, err := h.Append(ctx, names[i%streams], benchPayload); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkMemoryHistorySince(b *testing.B) {
	h := NewMemoryHistory(MemoryHistoryConfig{Size: 100})
	defer h.Close()
	ctx := context.Background()
	var pos Position
	for range 100 {
		pos, _ = h.Append(ctx, "chat", benchPayload)
	}
	since := Position{Offset: pos.Offset - 100, Epoch: pos.Epoch}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		entries, _, err := h.Since(ctx, "chat", since, 1000)
		if err != nil || len(entries) != 100 {
			b.Fatalf("Since = %d entries, %v", len(entries), err)
		}
	}
}
