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

// Past the entries kept in place, more keys are kept too, each derived once,
// and the first two take no allocation.
func TestPublicationMemoManyKeys(t *testing.T) {
	p := &Publication{Kind: KindEvent}
	runs := map[string]int{}
	get := func(k string) any {
		v, _ := p.Memo(k, func() (any, error) { runs[k]++; return k + "!", nil })
		return v
	}
	type key1 struct{}
	type key2 struct{}
	fresh := make([]Publication, 11)
	i := 0
	derive := func() (any, error) { return 1, nil }
	if n := testing.AllocsPerRun(10, func() {
		q := &fresh[i]
		i++
		v1, _ := q.Memo(key1{}, derive)
		v2, _ := q.Memo(key2{}, derive)
		if v1 != 1 || v2 != 1 {
			t.Fatalf("Memo = %v, %v", v1, v2)
		}
	}); n != 0 {
		t.Fatalf("%v allocations for two memos kept in place", n)
	}
	for range 3 {
		for _, k := range []string{"a", "b", "c", "d"} {
			if v := get(k); v != k+"!" {
				t.Fatalf("Memo(%q) = %v", k, v)
			}
		}
	}
	for k, n := range runs {
		if n != 1 {
			t.Fatalf("%q derived %d times", k, n)
		}
	}
	p.forgetMemo()
	get("a")
	if runs["a"] != 2 {
		t.Fatal("forgetMemo kept a derivation")
	}
}
