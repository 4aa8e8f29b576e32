package admission

import (
	"strings"
	"testing"
)

func TestEndpointInit(t *testing.T) {
	var e Endpoint
	if err := e.Init("native"); err == nil || !strings.HasPrefix(err.Error(), "native: ") {
		t.Fatalf("Init without a hub, a poller and a verifier: %v", err)
	}
	if e.Logger != nil || e.RatePerSecond != 0 {
		t.Error("a refused Init changed the endpoint")
	}
}
