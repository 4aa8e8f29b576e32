package hub

import (
	"context"
	"reflect"
	"testing"
)

func TestTopChannels(t *testing.T) {
	h := newTestHub(t, nil)
	a, _ := h.conn(t, "a")
	b, _ := h.conn(t, "b")
	c, _ := h.conn(t, "c")
	h.sub(t, a, "news", "", nil)
	h.sub(t, b, "news", "", nil)
	h.sub(t, c, "news", "", nil)
	h.sub(t, a, "rows", "r1", nil)
	h.sub(t, b, "rows", "r1", nil)
	h.sub(t, a, "rows", "", nil)
	h.sub(t, c, "alpha", "", nil)

	want := []ChannelCount{{"news", 3}, {"rows.r1", 2}, {"alpha", 1}, {"rows", 1}}
	if got := h.TopChannels(10); !reflect.DeepEqual(got, want) {
		t.Errorf("TopChannels(10) = %v, want %v", got, want)
	}
	if got := h.TopChannels(2); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("TopChannels(2) = %v, want %v", got, want[:2])
	}
	if got := h.TopChannels(0); got != nil {
		t.Errorf("TopChannels(0) = %v, want nil", got)
	}
	h.Unsubscribe(context.Background(), c, "news", "")
	h.Unsubscribe(context.Background(), c, "alpha", "")
	want = []ChannelCount{{"news", 2}, {"rows.r1", 2}, {"rows", 1}}
	if got := h.TopChannels(10); !reflect.DeepEqual(got, want) {
		t.Errorf("after unsubscribing: %v, want %v", got, want)
	}
}
