package admission

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/transport"
)

func testEndpoint(now *time.Time) *Endpoint {
	return &Endpoint{Limits: Limits{RatePerSecond: 1, RateBurst: 2, AbuseFactor: 2, AbuseWindow: time.Second},
		Now: func() time.Time { return *now }}
}

func TestBaseAdmit(t *testing.T) {
	now := time.Unix(1000, 0)
	b := testEndpoint(&now).NewBase()
	tests := []struct {
		name    string
		m       transport.Message
		want    Verdict
		wantErr error
		sent    bool
	}{
		{"text", transport.Message{Op: ws.OpText, Payload: []byte("{}")}, Pass, nil, false},
		{"binary", transport.Message{Op: ws.OpBinary, Payload: []byte{1}}, Binary, nil, false},
		{"ping answered", transport.Message{Op: ws.OpPing, Payload: []byte("p")}, Handled, nil, true},
		{"pong ignored", transport.Message{Op: ws.OpPong}, Handled, nil, false},
		{"close", transport.Message{Op: ws.OpClose}, Handled, transport.ErrClientClose, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := false
			v, err := b.Admit(tt.m, func([]byte) bool { sent = true; return true })
			if v != tt.want || !errors.Is(err, tt.wantErr) || sent != tt.sent {
				t.Errorf("Admit = %v, %v, sent %v; want %v, %v, sent %v", v, err, sent, tt.want, tt.wantErr, tt.sent)
			}
		})
	}
	b.Drop()
	if v, err := b.Admit(transport.Message{Op: ws.OpText}, nil); v != Handled || err != nil || !b.Dropping() {
		t.Errorf("after Drop: Admit = %v, %v; want a dropped frame", v, err)
	}
}

func TestBaseAllowAbuse(t *testing.T) {
	now := time.Unix(1000, 0)
	b := testEndpoint(&now).NewBase()
	for i, want := range []bool{true, true, false, false, false} { // burst 2
		if ok, err := b.Allow(); ok != want || err != nil {
			t.Fatalf("message %d: Allow = %v, %v; want %v, nil", i, ok, err, want)
		}
	}
	// Five messages in that second is over the abuse threshold (2/s) for
	// the whole abuse window: the next is refused as abuse, and the frames
	// after it are dropped.
	now = now.Add(time.Second)
	if ok, err := b.Allow(); ok || !errors.Is(err, ErrAbuse) {
		t.Fatalf("after the abuse window: Allow = %v, %v; want false, ErrAbuse", ok, err)
	}
	if v, _ := b.Admit(transport.Message{Op: ws.OpText}, nil); v != Handled {
		t.Errorf("a frame after abuse: %v, want Handled (dropped)", v)
	}
}

func TestBaseContexts(t *testing.T) {
	now := time.Unix(1000, 0)
	e := testEndpoint(&now)
	e.StoreTimeout = time.Minute
	b := e.NewBase()
	ctx, cancel := b.StoreContext()
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Errorf("store context deadline %v, %v; want within a minute", d, ok)
	}
	other := testEndpoint(&now).NewBase()
	if _, ok := other.Context().Deadline(); ok {
		t.Error("the socket's context has a deadline")
	}
	b.End()
	if !errors.Is(b.Context().Err(), context.Canceled) || !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after End: socket %v, store call %v; want both cancelled", b.Context().Err(), ctx.Err())
	}
	if late, cancelLate := b.StoreContext(); late.Err() == nil {
		t.Error("a Store call after End is not cancelled")
	} else {
		cancelLate()
	}
	d := testEndpoint(&now).NewBase()
	ctx2, cancel2 := d.StoreContext()
	defer cancel2()
	// Ending one call of two leaves the other in flight.
	ctx3, cancel3 := d.StoreContext()
	cancel3()
	if ctx3.Err() == nil || len(d.calls) != 1 {
		t.Errorf("after one of two calls ended: err %v, %d calls in flight; want cancelled, 1", ctx3.Err(), len(d.calls))
	}
	idle := testEndpoint(&now).NewBase()
	for range 3 { // one call after another reuses one slot
		_, c := idle.StoreContext()
		c()
	}
	if len(idle.calls) != 0 || cap(idle.calls) > 1 || idle.ctx != nil {
		t.Errorf("an idle socket keeps calls %v (capacity %d), context %v", idle.calls, cap(idle.calls), idle.ctx)
	}
	if dl, ok := ctx2.Deadline(); !ok || time.Until(dl) > DefaultStoreTimeout || time.Until(dl) < DefaultStoreTimeout-time.Minute {
		t.Errorf("default store deadline %v, %v; want DefaultStoreTimeout", dl, ok)
	}
}
