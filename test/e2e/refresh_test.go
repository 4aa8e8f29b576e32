package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/pkg/client"
)

// shortToken is a token for sub whose exp is the next whole second at least
// ttl away (exp has whole seconds).
func shortToken(t *testing.T, sub string, ttl time.Duration) (string, time.Time) {
	t.Helper()
	exp := time.Now().Add(ttl).Truncate(time.Second).Add(time.Second)
	return mint(t, auth.Claims{Subject: sub, Channels: []string{"*"}, ExpiresAt: exp}), exp
}

// expiresIn reads data.expires_in of a connected or refresh message.
func expiresIn(t *testing.T, m wireMsg) (float64, bool) {
	t.Helper()
	var d struct {
		ExpiresIn *float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatalf("data of %s: %v", m, err)
	}
	if d.ExpiresIn == nil {
		return 0, false
	}
	return *d.ExpiresIn, true
}

// TestRefreshExtendsConnection: a connection whose token is renewed with
// refresh outlives its first token's exp. A twin connection on the same
// short token, not refreshed, is the signal that the first exp has been
// enforced: the sweep that closes it has looked at both.
func TestRefreshExtendsConnection(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--jwt-leeway", "0"))
	first, exp := shortToken(t, "alice", time.Second)

	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {first}}})
	m := rc.next()
	if m.Type != "connected" {
		t.Fatalf("first message %s; want connected", m)
	}
	if in, ok := expiresIn(t, m); !ok || in <= 0 || in > time.Until(exp).Seconds()+1 {
		t.Errorf("connected expires_in = %v (%v); want the seconds to exp, about %v", in, ok, time.Until(exp))
	}
	rc.ping()
	twin := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {first}}})
	twin.expectConnected()

	second := mint(t, auth.Claims{Subject: "alice", Channels: []string{"*"}, ExpiresAt: time.Now().Add(time.Hour)})
	reply := rc.request(map[string]any{"type": "refresh", "id": "r1", "data": map[string]any{"token": second}})
	if reply.Type != "refresh" || reply.ID != "r1" {
		t.Fatalf("refresh reply %s; want type refresh with id r1", reply)
	}
	if in, ok := expiresIn(t, reply); !ok || in < 3500 || in > 3600 {
		t.Errorf("refresh expires_in = %v (%v); want about 3600", in, ok)
	}

	twin.expectDisconnect(4001, true, time.Until(exp)+3*time.Second)
	if time.Now().Before(exp) {
		t.Errorf("the twin was closed before its token's exp %v", exp)
	}
	rc.ping() // still open, past the first token's exp
	rc.subscribe("after-refresh", "", nil)
}

// TestRefreshRefused: a refresh with another user's token, an invalid one
// or an expired one is answered 401, the connection stays open, and it
// still ends at its first token's exp.
func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--jwt-leeway", "0"))
	first, exp := shortToken(t, "alice", time.Second)
	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {first}}})
	rc.expectConnected()

	later := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name, token string
	}{
		{"another user", mint(t, auth.Claims{Subject: "mallory", ExpiresAt: later})},
		{"wrong key", mintWith(t, "not the secret", auth.Claims{Subject: "alice", ExpiresAt: later})},
		{"expired", mint(t, auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(-time.Minute)})},
	} {
		m := rc.request(map[string]any{"type": "refresh", "id": "x", "data": map[string]any{"token": tc.token}})
		if m.Type != "error" || m.Error == nil || m.Error.Code != http.StatusUnauthorized || m.ID != "x" {
			t.Errorf("%s: reply %s; want error 401 with id x", tc.name, m)
		}
	}
	m := rc.request(map[string]any{"type": "refresh", "id": "y", "data": map[string]any{}})
	expectError(t, m, http.StatusBadRequest, "y")
	rc.ping() // refusals do not close the connection

	rc.expectDisconnect(4001, true, time.Until(exp)+3*time.Second)
	if time.Now().Before(exp) {
		t.Errorf("closed before the first token's exp %v", exp)
	}
}

// TestRefreshBeforeConnect: refresh is for authenticated connections.
func TestRefreshBeforeConnect(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc := tn.mustRawDial(t, rawOpts{})
	m := rc.request(map[string]any{"type": "refresh", "id": "r", "data": map[string]any{"token": tokenFor(t, "alice")}})
	expectError(t, m, http.StatusUnauthorized, "r")
}

// TestLeewayAtConnect: TABLECAST_JWT_LEEWAY is the skew allowed past exp
// when a token is checked, on the upgrade and in a connect message.
func TestLeewayAtConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		leeway  string
		expAgo  time.Duration
		accepts bool
	}{
		{"10s", 4 * time.Second, true},
		{"10s", 20 * time.Second, false},
		{"0", 2 * time.Second, false},
		{"5s", 2 * time.Second, true}, // the default's size
	}
	for _, tt := range tests {
		tn := startNode(t, withArgs("--jwt-leeway", tt.leeway))
		tok := mint(t, auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(-tt.expAgo)})
		rc, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}}})
		switch {
		case tt.accepts && ref != nil:
			t.Errorf("leeway %s, exp %v ago: refused %+v; want accepted", tt.leeway, tt.expAgo, ref)
		case tt.accepts:
			rc.expectConnected()
		case ref == nil:
			t.Errorf("leeway %s, exp %v ago: accepted; want 401 token_expired", tt.leeway, tt.expAgo)
		case ref.Code != "token_expired":
			t.Errorf("leeway %s, exp %v ago: refused with %q; want token_expired", tt.leeway, tt.expAgo, ref.Code)
		}
		// The same through a connect message.
		rc = tn.mustRawDial(t, rawOpts{})
		rc.sendJSON(map[string]any{"type": "connect", "id": "c", "data": map[string]any{"token": tok}})
		m := rc.next()
		if got := m.Type == "connected"; got != tt.accepts {
			t.Errorf("leeway %s, exp %v ago, connect message: %s; accepted want %v", tt.leeway, tt.expAgo, m, tt.accepts)
		}
	}
}

// TestLeewayAtEnforcement: an open connection ends at exp plus the
// leeway, not before and not long after.
func TestLeewayAtEnforcement(t *testing.T) {
	t.Parallel()
	const leeway = 2 * time.Second
	tn := startNode(t, withArgs("--jwt-leeway", leeway.String()))
	tok, exp := shortToken(t, "alice", 0)
	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {tok}}})
	rc.expectConnected()
	rc.expectDisconnect(4001, true, time.Until(exp)+leeway+3*time.Second)
	closed := time.Now()
	if closed.Before(exp.Add(leeway)) {
		t.Errorf("closed at %v, before exp %v plus the leeway %v", closed, exp, leeway)
	}
	if closed.After(exp.Add(leeway + 2*time.Second)) {
		t.Errorf("closed at %v, more than the sweep's second after exp plus leeway %v", closed, exp.Add(leeway))
	}
}

// TestClientRenewsToken: pkg/client with a TokenFunc renews its short
// token on the open connection ahead of exp (refresh), so the connection
// outlives the first token; a twin connection on a fixed token of the
// same lifetime is closed (4001), the sign that the first exp was
// enforced. (That it is asked again on a reconnect is TestTokenFuncOnReconnect's.)
func TestClientRenewsToken(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--jwt-leeway", "0"))
	var calls atomic.Int64
	var mu sync.Mutex
	var events []client.Event
	c := tn.dialClient(t, client.Config{
		Reconnect: true,
		TokenFunc: func(context.Context) (string, error) {
			calls.Add(1)
			tok, _ := shortToken(t, "alice", time.Second)
			return tok, nil
		},
		OnEvent: func(e client.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		},
	})
	if in := c.Info().ExpiresIn; in <= 0 || in > 2 {
		t.Errorf("Connected.ExpiresIn = %v; want the 1-2 s to exp", in)
	}
	first, exp := shortToken(t, "alice", time.Second)
	twin := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {first}}})
	twin.expectConnected()
	twin.expectDisconnect(4001, true, time.Until(exp)+3*time.Second)

	if _, err := c.Ping(ctxFor(t, waitTimeout)); err != nil {
		t.Fatalf("ping past the first token's exp: %v", err)
	}
	mu.Lock()
	var refreshed int
	for _, e := range events {
		switch e.Type {
		case client.EventTokenRefreshed:
			refreshed++
			if e.ExpiresIn <= 0 || e.ExpiresIn > 2*time.Second {
				t.Errorf("EventTokenRefreshed.ExpiresIn = %v", e.ExpiresIn)
			}
		case client.EventDisconnected, client.EventTokenRefreshFailed:
			t.Errorf("event %v (%v)", e.Type, e.Err)
		}
	}
	mu.Unlock()
	if refreshed == 0 || calls.Load() < 2 {
		t.Errorf("%d refreshes, %d TokenFunc calls; want the token renewed", refreshed, calls.Load())
	}

	// Refresh by hand: another user's token is a 401 ServerError.
	other, _ := shortToken(t, "bob", time.Hour)
	var se *client.ServerError
	if _, err := c.Refresh(ctxFor(t, waitTimeout), other); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("Refresh with bob's token: %v; want ServerError 401", err)
	}
}
