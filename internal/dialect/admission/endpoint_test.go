package admission

import (
	"net/http"
	"net/http/httptest"
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

func TestRequestToken(t *testing.T) {
	for _, tc := range []struct {
		url, header, want string
	}{
		{url: "/ws?token=a", want: "a"},
		{url: "/ws?jwt_token=b", want: "b"},
		{url: "/ws?token=a&jwt_token=b", want: "a"},
		{url: "/ws", header: "Bearer c", want: "c"},
		{url: "/ws", header: "bearer   c ", want: "c"},
		{url: "/ws?token=a", header: "Bearer c", want: "a"},
		{url: "/ws", header: "Basic c"},
		{url: "/ws", header: "Bearer"},
		{url: "/ws?token="},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := RequestToken(r); got != tc.want {
			t.Errorf("RequestToken(%s, %q) = %q, want %q", tc.url, tc.header, got, tc.want)
		}
	}
}
