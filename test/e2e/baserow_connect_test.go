package e2e

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestBaserowAuthentication: the first message says whether the token was
// accepted and gives the socket's web_socket_id (the client's when it sent
// a UUID); a refused token is answered with success false, then close 4001.
func TestBaserowAuthentication(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	const clientID = "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"
	expired := mint(t, auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(-2 * time.Minute)})
	wrongKey := mintWith(t, "another secret", auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(time.Hour)})
	tests := []struct {
		name   string
		query  url.Values
		ok     bool
		wantID string // "" : a new UUID
	}{
		{"valid token", url.Values{"jwt_token": {tokenFor(t, "alice")}}, true, ""},
		{"valid token, client's web_socket_id", url.Values{"jwt_token": {tokenFor(t, "alice")}, "web_socket_id": {clientID}}, true, clientID},
		{"web_socket_id not a UUID", url.Values{"jwt_token": {tokenFor(t, "alice")}, "web_socket_id": {"mine"}}, true, ""},
		{"anonymous", url.Values{"jwt_token": {"anonymous"}}, true, ""},
		{"expired token", url.Values{"jwt_token": {expired}}, false, ""},
		{"token signed with another key", url.Values{"jwt_token": {wrongKey}}, false, ""},
		{"not a JWT", url.Values{"jwt_token": {"not.a.jwt"}}, false, ""},
		{"no jwt_token", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, status := tn.brDialRaw(t, tt.query, nil)
			if status != 0 {
				t.Fatalf("upgrade refused with %d; want the upgrade", status)
			}
			if !tt.ok {
				code, before := c.expectClose()
				if code != 4001 {
					t.Errorf("close code %d; want 4001", code)
				}
				if len(before) != 1 || before[0].Type != "authentication" ||
					string(before[0].M["success"]) != "false" || string(before[0].M["web_socket_id"]) != "null" {
					t.Fatalf("before close: %v; want authentication success false, web_socket_id null", before)
				}
				return
			}
			m := c.expect("authentication")
			var id string
			m.decodeInto(t, "web_socket_id", &id)
			if string(m.M["success"]) != "true" {
				t.Fatalf("%s; want success true", m)
			}
			if tt.wantID != "" && id != tt.wantID {
				t.Errorf("web_socket_id %q; want the client's %q", id, tt.wantID)
			}
			if tt.wantID == "" && !uuidRE.MatchString(id) {
				t.Errorf("web_socket_id %q is not a new UUID", id)
			}
			c.sync()
		})
	}
}

// TestBaserowWebSocketIDTaken: a web_socket_id already used by a live
// socket is not given to a second one.
func TestBaserowWebSocketIDTaken(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	const id = "11111111-2222-4333-8444-555555555555"
	first := tn.brDial(t, tokenFor(t, "alice"), "web_socket_id", id)
	second := tn.brDial(t, tokenFor(t, "mallory"), "web_socket_id", id)
	if first.wsID != id || second.wsID == id || !uuidRE.MatchString(second.wsID) {
		t.Fatalf("web_socket_ids %q and %q; want %q and a new one", first.wsID, second.wsID, id)
	}
}

// TestBaserowTokenExpiresWhileConnected: at exp (plus the 5 s leeway the
// verifier allows) the socket is closed with 4001 and nothing before:
// force_disconnect would log Baserow's front end out, a close makes it
// reconnect with the token it has renewed by then.
func TestBaserowTokenExpiresWhileConnected(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	const leeway = 5 * time.Second // TABLECAST_JWT_LEEWAY's default
	exp := time.Now().Add(2*time.Second - leeway)
	c := tn.brDial(t, mint(t, auth.Claims{Subject: "alice", ExpiresAt: exp}))
	code, before := c.expectClose()
	if code != 4001 {
		t.Errorf("close code %d; want 4001", code)
	}
	if len(before) != 0 {
		t.Fatalf("before close: %v; want nothing (no force_disconnect)", before)
	}
	if time.Now().Before(exp.Add(leeway).Truncate(time.Second)) {
		t.Errorf("closed before the token's exp plus leeway %v", exp.Add(leeway))
	}
}

// TestBaserowRefusedBeforeUpgrade: what stops any socket (origin, limits)
// is an HTTP answer, as on the native endpoint.
func TestBaserowRefusedBeforeUpgrade(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--allowed-origins", "https://app.example"))
	_, status := tn.brDialRaw(t, url.Values{"jwt_token": {"anonymous"}}, map[string][]string{"Origin": {"https://evil.example"}})
	if status != 403 {
		t.Fatalf("foreign origin: status %d; want 403", status)
	}
	c, status := tn.brDialRaw(t, url.Values{"jwt_token": {"anonymous"}}, map[string][]string{"Origin": {"https://app.example"}})
	if status != 0 {
		t.Fatalf("allowed origin: status %d", status)
	}
	c.expect("authentication")
}
