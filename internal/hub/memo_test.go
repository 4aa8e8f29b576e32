package hub

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPublicationMemo: a derivation runs once per key, whatever the number
// of concurrent callers, and its error is shared too.
func TestPublicationMemo(t *testing.T) {
	p := &Publication{Kind: KindEvent}
	var runs atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, err := p.Memo("a", func() (any, error) { runs.Add(1); return 42, nil })
			if v != 42 || err != nil {
				t.Errorf("Memo = %v, %v", v, err)
			}
		})
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("derived %d times, want once", runs.Load())
	}
	boom := errors.New("boom")
	for range 2 {
		if _, err := p.Memo("b", func() (any, error) { runs.Add(1); return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("Memo error = %v", err)
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("derived %d times, want 2 (once per key)", runs.Load())
	}
}
