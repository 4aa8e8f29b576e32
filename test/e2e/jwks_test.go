package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tablecast/tablecast/pkg/client"
)

// TestJWKSConnect: a node given TABLECAST_JWT_JWKS_URL accepts the tokens
// an identity provider signs with a key of its set, still accepts its own
// HS256 tokens (the secret alongside), and answers 503 keys_unavailable
// for a key it cannot fetch while the set's server is down.
func TestJWKSConnect(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "idp-1", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	set := jwkset.NewMemoryStorage()
	if err := set.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatal(err)
	}
	body, err := set.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(idp.Close)

	tn := startNode(t, withArgs("--jwt-jwks-url", idp.URL+"/jwks.json", "--jwt-issuer", "https://idp.example/"))
	sign := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"sub": "idp-user", "iss": "https://idp.example/", "channels": []string{"*"},
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c := tn.dialClient(t, client.Config{Token: sign("idp-1")})
	if got := c.Info().UserID; got != "idp-user" {
		t.Errorf("user %q; want idp-user", got)
	}
	subscribe(t, c, "jwks-room", "")

	down.Store(true)
	// A cached key keeps working with the set's server down.
	rc := tn.mustRawDial(t, rawOpts{query: url.Values{"token": {sign("idp-1")}}})
	rc.expectConnected()
	// An unknown kid cannot be looked up: 503, not 401.
	_, ref := tn.rawDial(t, rawOpts{query: url.Values{"token": {sign("idp-2")}}})
	if ref == nil || ref.Status != http.StatusServiceUnavailable || ref.Code != "keys_unavailable" {
		t.Errorf("unknown kid with the set's server down: %+v; want 503 keys_unavailable", ref)
	}
}
