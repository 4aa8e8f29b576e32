package hub

import (
	"errors"
	"testing"
)

// Dialects and event hooks register before Start; afterwards the hub
// refuses them, so what it renders and tells is fixed while it runs.
func TestRegistrationClosesAtStart(t *testing.T) {
	h := newTestHub(t, nil) // started
	if err := h.RegisterDialect(1, lineRenderer{}); !errors.Is(err, ErrStarted) {
		t.Fatalf("RegisterDialect after Start: %v, want ErrStarted", err)
	}
	if err := h.OnEvent(func(*Publication) {}); !errors.Is(err, ErrStarted) {
		t.Fatalf("OnEvent after Start: %v, want ErrStarted", err)
	}
}

func TestRegisterDialectBounds(t *testing.T) {
	h, err := New(Config{Broker: NewMemoryBroker(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterDialect(MaxDialects, lineRenderer{}); err == nil {
		t.Fatal("RegisterDialect(MaxDialects) succeeded")
	}
	if err := h.RegisterDialect(MaxDialects-1, lineRenderer{}); err != nil {
		t.Fatal(err)
	}
	if h.cfg.Renderers[MaxDialects-1] == nil {
		t.Fatal("renderer not installed")
	}
}
