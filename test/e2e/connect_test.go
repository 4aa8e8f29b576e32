package e2e

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/pkg/client"
)

var connIDRE = regexp.MustCompile(`^c_[A-Za-z0-9_-]+$`)

// TestConnectTokenPlaces: the token in each place the protocol allows.
func TestConnectTokenPlaces(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tests := []struct {
		name    string
		opts    func(tok string) rawOpts
		connect bool // send the token in a connect message
	}{
		{"query token", func(tok string) rawOpts { return rawOpts{query: url.Values{"token": {tok}}} }, false},
		{"query jwt_token", func(tok string) rawOpts { return rawOpts{query: url.Values{"jwt_token": {tok}}} }, false},
		{"authorization header", func(tok string) rawOpts {
			return rawOpts{header: http.Header{"Authorization": {"Bearer " + tok}}}
		}, false},
		{"authorization header, lower-case scheme", func(tok string) rawOpts {
			return rawOpts{header: http.Header{"Authorization": {"bearer " + tok}}}
		}, false},
		{"connect message", func(string) rawOpts { return rawOpts{} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := tokenFor(t, "u-"+strings.ReplaceAll(tc.name, " ", "-"))
			rc := tn.mustRawDial(t, tc.opts(tok))
			if tc.connect {
				rc.sendJSON(map[string]any{"type": "connect", "data": map[string]any{"token": tok}})
			}
			d := rc.expectConnected()
			if !connIDRE.MatchString(d.ConnectionID) {
				t.Errorf("connection_id %q does not look like c_...", d.ConnectionID)
			}
			if want := "u-" + strings.ReplaceAll(tc.name, " ", "-"); d.UserID != want {
				t.Errorf("user_id %q; want %q", d.UserID, want)
			}
			if d.SessionID != d.ConnectionID {
				t.Errorf("default session_id %q; want the connection id %q", d.SessionID, d.ConnectionID)
			}
			if d.HeartbeatInterval == nil || *d.HeartbeatInterval != 30 {
				t.Errorf("heartbeat_interval %v; want 30 (the default, in seconds)", d.HeartbeatInterval)
			}
			if d.MaxMessageSize == nil || *d.MaxMessageSize != 65536 {
				t.Errorf("max_message_size %v; want 65536", d.MaxMessageSize)
			}
			rc.ping()
		})
	}
}

// TestConnectClientModes: pkg/client's three ways of presenting a token.
func TestConnectClientModes(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--heartbeat-interval", "5s", "--connection-timeout", "20s", "--max-message-size", "4096"))
	for _, mode := range []client.TokenMode{client.TokenInQuery, client.TokenInHeader, client.TokenInConnect} {
		c := tn.dialClient(t, client.Config{Token: tokenFor(t, "alice"), TokenMode: mode, SessionID: "tab-1"})
		info := c.Info()
		if info.UserID != "alice" || info.SessionID != "tab-1" || info.HeartbeatInterval != 5 || info.MaxMessageSize != 4096 {
			t.Errorf("mode %d: connected %+v; want alice, tab-1, 5, 4096", mode, info)
		}
		if _, err := c.Ping(ctxFor(t, waitTimeout)); err != nil {
			t.Errorf("mode %d: ping: %v", mode, err)
		}
	}
}

func TestConnectSessionID(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tok := tokenFor(t, "alice")

	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {tok}, "session_id": {"Tab_1-a"}}})
	if d := rc.expectConnected(); d.SessionID != "Tab_1-a" {
		t.Errorf("session_id %q; want Tab_1-a", d.SessionID)
	}

	rc = tn.mustRawDial(t, rawOpts{})
	rc.sendJSON(map[string]any{"type": "connect", "data": map[string]any{"token": tok, "session_id": "from-connect"}})
	if d := rc.expectConnected(); d.SessionID != "from-connect" {
		t.Errorf("session_id %q; want from-connect", d.SessionID)
	}

	for _, bad := range []string{"has space", "colon:s", strings.Repeat("s", 65), "ü"} {
		_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}, "session_id": {bad}}})
		if ref == nil || ref.Status != http.StatusBadRequest || ref.Code == "" {
			t.Errorf("session_id %q: refusal %+v; want 400 with a JSON error", bad, ref)
		}
	}
	rc = tn.mustRawDial(t, rawOpts{})
	m := rc.request(map[string]any{"type": "connect", "id": "c1", "data": map[string]any{"token": tok, "session_id": "bad id"}})
	expectError(t, m, 400, "c1")
}

func TestConnectUserID(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tok := tokenFor(t, "alice")

	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {tok}, "user_id": {"alice"}}})
	if d := rc.expectConnected(); d.UserID != "alice" {
		t.Errorf("user_id %q; want alice", d.UserID)
	}

	_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}, "user_id": {"mallory"}}})
	expectRefusal(t, ref, http.StatusForbidden)

	// Outside dev mode a user_id alone is refused.
	_, ref = tn.rawDial(t, rawOpts{query: url.Values{"user_id": {"alice"}}})
	expectRefusal(t, ref, http.StatusUnauthorized)
}

func TestConnectDevMode(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withDev())
	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"user_id": {"alice"}}})
	d := rc.expectConnected()
	if d.UserID != "alice" {
		t.Errorf("user_id %q; want alice", d.UserID)
	}
	// The seed's form may use any app channel.
	r := rc.subscribe("any-channel", "", nil)
	if r.Type != "subscribe" {
		t.Errorf("subscribe in dev mode: %s", r)
	}
	// Tokens still work, and still must match user_id.
	c := tn.dialUser(t, "bob")
	if c.Info().UserID != "bob" {
		t.Errorf("user_id %q; want bob", c.Info().UserID)
	}
	_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tokenFor(t, "bob")}, "user_id": {"alice"}}})
	expectRefusal(t, ref, http.StatusForbidden)
}

// TestConnectRefusedTokens: tokens that are refused before the upgrade.
func TestConnectRefusedTokens(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	expired := mint(t, auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(-2 * time.Minute)})
	tests := []struct {
		name  string
		token string
	}{
		{"expired", expired},
		{"alg none", unsignedToken(`{"sub":"alice","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`)},
		{"another secret", mintWith(t, "not-the-secret", auth.Claims{Subject: "alice"})},
		{"garbage", "not.a.jwt"},
		{"signature stripped", stripSignature(tokenFor(t, "alice"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, o := range []rawOpts{
				{query: url.Values{"token": {tc.token}}},
				{query: url.Values{"jwt_token": {tc.token}}},
				{header: http.Header{"Authorization": {"Bearer " + tc.token}}},
			} {
				_, ref := tn.rawDial(t, o)
				expectRefusal(t, ref, http.StatusUnauthorized)
			}
		})
	}
	_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {expired}}})
	if ref != nil && ref.Code != "token_expired" {
		t.Errorf("expired token: code %q; want token_expired", ref.Code)
	}
	// A client presenting such a token gets a *HandshakeError.
	_, err := client.Dial(ctxFor(t, waitTimeout), client.Config{URL: tn.wsURL, Token: expired})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("client.Dial with an expired token: %v; want HandshakeError 401", err)
	}
}

func TestConnectOrigin(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--allowed-origins", "https://app.example.com, http://localhost:8080"))
	tok := tokenFor(t, "alice")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"https://app.example.com", true},
		{"https://APP.example.com", true},
		{"http://localhost:8080", true},
		{"https://evil.example.com", false},
		{"http://app.example.com", false},
		{"null", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		rc, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}}, header: h})
		if tc.ok {
			if ref != nil {
				t.Errorf("origin %q refused: %d %s", tc.origin, ref.Status, ref.Body)
				continue
			}
			rc.expectConnected()
			continue
		}
		t.Run("refused "+tc.origin, func(t *testing.T) { expectRefusal(t, ref, http.StatusForbidden) })
	}
}

func TestConnectLimit(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-connections", "2"))
	a := tn.dialUser(t, "a")
	tn.dialUser(t, "b")
	_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tokenFor(t, "c")}}})
	expectRefusal(t, ref, http.StatusServiceUnavailable)
	_ = a.Close()
	waitUntil(t, waitTimeout, "the connection count to drop", func() bool { return tn.stats(t).Connections == 1 })
	tn.dialUser(t, "c")
}

// TestConnectAttemptRate: more connection attempts from one address than
// TABLECAST_CONNECT_RATE allows get 429; the burst is honoured.
func TestConnectAttemptRate(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--connect-rate", "1/s,3"))
	tok := tokenFor(t, "alice")
	for i := 0; i < 3; i++ {
		rc, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}}})
		if ref != nil {
			t.Fatalf("attempt %d of a burst of 3 refused: %d %s", i+1, ref.Status, ref.Body)
		}
		rc.expectConnected()
	}
	for i := 0; i < 5; i++ {
		rc, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tok}}})
		if ref == nil {
			rc.expectConnected()
			continue
		}
		expectRefusal(t, ref, http.StatusTooManyRequests)
		if ref.Code != "too_many_attempts" {
			t.Errorf("code %q; want too_many_attempts", ref.Code)
		}
		return
	}
	t.Fatal("8 attempts within a second with --connect-rate 1/s,3 were all accepted")
}

// TestConnectAuthTimeout: a connection that never sends connect is closed
// with 4001.
func TestConnectAuthTimeout(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withAuthTimeout(200*time.Millisecond))
	rc := tn.mustRawDial(t, rawOpts{})
	start := time.Now()
	code, before := rc.expectClose(3 * time.Second)
	if code != 4001 {
		t.Errorf("close code %d; want 4001", code)
	}
	if len(before) != 1 || before[0].Type != "disconnect" || !jsonEqual(t, dataField(t, before[0].Data, "code"), 4001) {
		t.Errorf("messages before close: %v; want one disconnect 4001", before)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("closed after %v, before the auth timeout", el)
	}
}

// TestConnectBeforeConnected: before connected every other message is
// error 401 and the connection waits for connect.
func TestConnectBeforeConnected(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	rc := tn.mustRawDial(t, rawOpts{})
	for _, m := range []map[string]any{
		{"type": "ping", "id": "p1"},
		{"type": "subscribe", "id": "s1", "collection": "news"},
		{"type": "presence", "id": "pr1", "collection": "news", "data": map[string]any{}},
		{"type": "unsubscribe", "id": "u1", "collection": "news"},
	} {
		expectError(t, rc.request(m), 401, m["id"].(string))
	}
	rc.sendJSON(map[string]any{"type": "connect", "data": map[string]any{"token": tokenFor(t, "alice")}})
	if d := rc.expectConnected(); d.UserID != "alice" {
		t.Errorf("user_id %q; want alice", d.UserID)
	}
	rc.ping()
	// A second connect is refused, the connection stays.
	expectError(t, rc.request(map[string]any{"type": "connect", "id": "again", "data": map[string]any{"token": tokenFor(t, "bob")}}), 400, "again")
	rc.ping()
}

// TestConnectBadTokenInConnect: error 401, then disconnect and close 4001.
func TestConnectBadTokenInConnect(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	for name, data := range map[string]any{
		"bad token":     map[string]any{"token": "not.a.jwt"},
		"expired token": map[string]any{"token": mint(t, auth.Claims{Subject: "a", ExpiresAt: time.Now().Add(-time.Hour)})},
		"no token":      map[string]any{},
		"data a string": "token",
	} {
		t.Run(name, func(t *testing.T) {
			rc := tn.mustRawDial(t, rawOpts{})
			expectError(t, rc.request(map[string]any{"type": "connect", "id": "c1", "data": data}), 401, "c1")
			rc.expectDisconnect(4001, true, waitTimeout)
		})
	}
	_, err := client.Dial(ctxFor(t, waitTimeout), client.Config{URL: tn.wsURL, Token: "not.a.jwt", TokenMode: client.TokenInConnect})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("client.Dial with a bad token in connect: %v; want ServerError 401", err)
	}
}

// expectRefusal checks an HTTP refusal of the upgrade and its JSON body.
func expectRefusal(t *testing.T, ref *refusal, status int) {
	t.Helper()
	if ref == nil {
		t.Fatalf("upgrade accepted; want HTTP %d", status)
	}
	if ref.Status != status {
		t.Errorf("refusal status %d (%s); want %d", ref.Status, ref.Body, status)
	}
	if !strings.HasPrefix(ref.ContentType, "application/json") {
		t.Errorf("refusal Content-Type %q; want application/json", ref.ContentType)
	}
	if ref.Code == "" || ref.Message == "" {
		t.Errorf("refusal body %s; want {\"error\":{\"code\",\"message\"}}", ref.Body)
	}
}

// unsignedToken crafts a token with alg none and no signature.
func unsignedToken(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + "."
}

func stripSignature(tok string) string { return tok[:strings.LastIndexByte(tok, '.')+1] }

// TestConnectClaimShapes: what the protocol doc says about claims: sub may
// be a non-negative integer, channels a comma-separated string, HS384/512
// are accepted; no sub, nbf in the future, a fractional sub are refused.
func TestConnectClaimShapes(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	sign := func(method jwt.SigningMethod, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name    string
		token   string
		user    string // "" : refused with 401
		channel string // an app channel the token allows
	}{
		{"integer sub", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": 9001, "exp": exp}), "9001", ""},
		{"channels as a string", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "channels": "a, news*"}), "u", "news-x"},
		{"HS512", sign(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "u512"}), "u512", ""},
		{"no sub", sign(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp}), "", ""},
		{"negative sub", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": -1}), "", ""},
		{"fractional sub", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": 1.5}), "", ""},
		{"not valid yet", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "nbf": time.Now().Add(time.Hour).Unix()}), "", ""},
		{"channels a number", sign(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "channels": 5}), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {tc.token}}})
			if tc.user == "" {
				expectRefusal(t, ref, http.StatusUnauthorized)
				return
			}
			if ref != nil {
				t.Fatalf("refused: %d %s", ref.Status, ref.Body)
			}
			if d := rc.expectConnected(); d.UserID != tc.user {
				t.Errorf("user_id %q; want %q", d.UserID, tc.user)
			}
			if tc.channel != "" {
				rc.subscribe(tc.channel, "", nil)
			}
		})
	}
}
