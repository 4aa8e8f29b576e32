package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

// jwksServer is an identity provider's jwks_uri inside the test: it serves
// the public keys it is given, counts the requests, and can be taken down.
type jwksServer struct {
	t    *testing.T
	srv  *httptest.Server
	hits atomic.Int64
	down atomic.Bool

	mu   sync.Mutex
	keys []testJWK
}

// testJWK is a public key as the set publishes it.
type testJWK struct {
	kid string
	pub crypto.PublicKey
	alg jwkset.ALG // "" leaves alg out
	use jwkset.USE // "" leaves use out
}

func newJWKSServer(t *testing.T, keys ...testJWK) *jwksServer {
	t.Helper()
	s := &jwksServer{t: t, keys: keys}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, _ *http.Request) {
	s.hits.Add(1)
	if s.down.Load() {
		http.Error(w, "identity provider down", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	keys := append([]testJWK(nil), s.keys...)
	s.mu.Unlock()
	set := jwkset.NewMemoryStorage()
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: k.use},
		})
		if err != nil {
			s.t.Errorf("JWK %s: %v", k.kid, err)
			return
		}
		if err := set.KeyWrite(context.Background(), j); err != nil {
			s.t.Errorf("JWK %s: %v", k.kid, err)
			return
		}
	}
	b, err := set.JSONPublic(context.Background())
	if err != nil {
		s.t.Errorf("JWK Set: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *jwksServer) set(keys ...testJWK) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// jwksVerifier is a Verifier on s's set, closed (and its goroutine checked
// gone) when the test ends.
func jwksVerifier(t *testing.T, s *jwksServer, cfg VerifierConfig) *Verifier {
	t.Helper()
	cfg.JWKSURL = s.srv.URL + "/.well-known/jwks.json"
	if cfg.JWKS.FetchTimeout == 0 {
		cfg.JWKS.FetchTimeout = 5 * time.Second
	}
	before := goleak.IgnoreCurrent() // the goroutines from before the Verifier
	v := mustVerifier(t, cfg)
	t.Cleanup(func() {
		v.Close()
		goleak.VerifyNone(t, before)
	})
	return v
}

// signKID signs claims with key under alg and, when kid is not empty, a kid.
func signKID(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func TestJWKSVerifiesRSAAndEC(t *testing.T) {
	rsaKey, _ := rsaKeys()
	p256, p384 := newECDSA(t, elliptic.P256()), newECDSA(t, elliptic.P384())
	ed := newEd25519(t)
	s := newJWKSServer(t,
		testJWK{kid: "rsa", pub: &rsaKey.PublicKey},
		testJWK{kid: "p256", pub: &p256.PublicKey, alg: jwkset.AlgES256, use: jwkset.UseSig},
		testJWK{kid: "p384", pub: &p384.PublicKey},
		testJWK{kid: "ed", pub: ed.Public()},
	)
	v := jwksVerifier(t, s, VerifierConfig{Issuer: "https://idp.example/", Audience: "tablecast"})
	good := claims("iss", "https://idp.example/", "aud", "tablecast")
	tests := []struct {
		name string
		m    jwt.SigningMethod
		key  any
		kid  string
	}{
		{"RS256", jwt.SigningMethodRS256, rsaKey, "rsa"},
		{"RS512", jwt.SigningMethodRS512, rsaKey, "rsa"},
		{"PS256", jwt.SigningMethodPS256, rsaKey, "rsa"},
		{"ES256", jwt.SigningMethodES256, p256, "p256"},
		{"ES384", jwt.SigningMethodES384, p384, "p384"},
		{"EdDSA", jwt.SigningMethodEdDSA, ed, "ed"},
		{"no kid, RSA", jwt.SigningMethodRS256, rsaKey, ""},
		{"no kid, EC", jwt.SigningMethodES384, p384, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signKID(t, tt.m, tt.key, tt.kid, good)
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "u1" || !c.ExpiresAt.Equal(testNow.Add(time.Hour)) {
				t.Errorf("claims %+v", c)
			}
		})
	}
	// iss and aud are checked as with the other keys.
	for name, c := range map[string]jwt.MapClaims{
		"wrong issuer":   claims("iss", "https://evil.example/", "aud", "tablecast"),
		"wrong audience": claims("iss", "https://idp.example/", "aud", "another"),
		"no issuer":      claims("aud", "tablecast"),
	} {
		tok := signKID(t, jwt.SigningMethodRS256, rsaKey, "rsa", c)
		_, err := v.Verify(tok)
		if !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("%s: %v; want ErrTokenInvalid", name, err)
		}
		checkVerifyError(t, tok, err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("the set was fetched %d times; want once", n)
	}
}

// TestJWKSRotation: a key published after the set was fetched is found by
// fetching the set again for the token that names it; a key removed from
// the set stops working once the set is fetched again.
func TestJWKSRotation(t *testing.T) {
	oldKey, newKey := newECDSA(t, elliptic.P256()), newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "2026-01", pub: &oldKey.PublicKey})
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{MinRefetch: time.Millisecond}})
	oldTok := signKID(t, jwt.SigningMethodES256, oldKey, "2026-01", claims())
	newTok := signKID(t, jwt.SigningMethodES256, newKey, "2026-02", claims())
	if _, err := v.Verify(oldTok); err != nil {
		t.Fatalf("old key: %v", err)
	}

	s.set(testJWK{kid: "2026-01", pub: &oldKey.PublicKey}, testJWK{kid: "2026-02", pub: &newKey.PublicKey})
	if _, err := v.Verify(newTok); err != nil {
		t.Fatalf("a key added to the set: %v", err)
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("%d fetches; want 2 (start, then for the new kid)", n)
	}
	if _, err := v.Verify(oldTok); err != nil {
		t.Errorf("old key, still published: %v", err)
	}

	// The old key is withdrawn. The next fetch (here, for a kid nobody
	// has) drops it.
	s.set(testJWK{kid: "2026-02", pub: &newKey.PublicKey})
	time.Sleep(2 * time.Millisecond) // MinRefetch
	stray := signKID(t, jwt.SigningMethodES256, newKey, "unknown", claims())
	if _, err := v.Verify(stray); !errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("unknown kid: %v; want ErrTokenInvalid, not ErrKeysUnavailable", err)
	}
	_, err := v.Verify(oldTok)
	if !errors.Is(err, ErrTokenInvalid) || !strings.Contains(err.Error(), `"2026-01"`) {
		t.Errorf("a key removed from the set: %v; want ErrTokenInvalid naming its kid", err)
	}
	checkVerifyError(t, oldTok, err)
	if _, err := v.Verify(newTok); err != nil {
		t.Errorf("new key: %v", err)
	}
}

// TestJWKSRefreshDropsRemovedKey: the periodic refresh alone also drops a
// removed key.
func TestJWKSRefreshDropsRemovedKey(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "a", pub: &key.PublicKey})
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{Refresh: 10 * time.Millisecond, MinRefetch: time.Hour}})
	tok := signKID(t, jwt.SigningMethodES256, key, "a", claims())
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	s.set()
	// Fetches are made one after another: once a second request has come
	// in after the change, the first one after it has been applied.
	from := s.hits.Load()
	deadline := time.Now().Add(5 * time.Second)
	for s.hits.Load() < from+2 {
		if time.Now().After(deadline) {
			t.Fatal("no refresh within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := v.Verify(tok); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("after the key left the set: %v; want ErrTokenInvalid", err)
	}
}

// TestJWKSServerDown: with the set's server down, tokens of keys already
// fetched keep working; others fail with ErrKeysUnavailable and a message
// that says the set could not be fetched.
func TestJWKSServerDown(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "a", pub: &key.PublicKey})
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{MinRefetch: time.Millisecond}})
	known := signKID(t, jwt.SigningMethodES256, key, "a", claims())
	if _, err := v.Verify(known); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	s.down.Store(true)
	if _, err := v.Verify(known); err != nil {
		t.Errorf("a cached key with the server down: %v", err)
	}
	unknown := signKID(t, jwt.SigningMethodES256, key, "b", claims())
	_, err := v.Verify(unknown)
	if !errors.Is(err, ErrTokenInvalid) || !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Errorf("an unknown kid with the server down: %v; want ErrTokenInvalid and ErrKeysUnavailable, with the status", err)
	}
	checkVerifyError(t, unknown, err)
	if _, err := v.Verify(known); err != nil {
		t.Errorf("a cached key after a failed fetch: %v", err)
	}
}

// TestJWKSDownFromStart: no set fetched yet: every token is refused with
// ErrKeysUnavailable, at once, until the set can be fetched.
func TestJWKSDownFromStart(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "a", pub: &key.PublicKey})
	s.down.Store(true)
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{MinRefetch: 20 * time.Millisecond}})
	tok := signKID(t, jwt.SigningMethodES256, key, "a", claims())
	_, err := v.Verify(tok)
	if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("server down from the start: %v; want ErrKeysUnavailable", err)
	}
	s.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err = v.Verify(tok); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the set was not fetched again after the server came back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJWKSUnknownKIDRateLimit: tokens naming kids the set lacks cause at
// most one fetch per MinRefetch.
func TestJWKSUnknownKIDRateLimit(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "a", pub: &key.PublicKey})
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{MinRefetch: time.Hour}})
	if _, err := v.Verify(signKID(t, jwt.SigningMethodES256, key, "a", claims())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for i := range 50 {
		tok := signKID(t, jwt.SigningMethodES256, key, fmt.Sprintf("made-up-%d", i), claims())
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("%d fetches for 50 unknown kids; want 2 (the start's, then one)", n)
	}
}

// TestJWKSAlgorithmPinned: a key verifies only the algorithms of its type
// (and of its alg and use, when the set gives them); HS* never uses a
// public key, the classic confusion.
func TestJWKSAlgorithmPinned(t *testing.T) {
	rsaKey, _ := rsaKeys()
	p256 := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t,
		testJWK{kid: "rsa", pub: &rsaKey.PublicKey},
		testJWK{kid: "rsa-rs256", pub: &rsaKey.PublicKey, alg: jwkset.AlgRS256},
		testJWK{kid: "p256", pub: &p256.PublicKey},
		testJWK{kid: "enc", pub: &p256.PublicKey, use: jwkset.UseEnc},
	)
	for _, withSecret := range []bool{false, true} {
		cfg := VerifierConfig{JWKS: JWKSConfig{MinRefetch: time.Hour}}
		if withSecret {
			cfg.Secret = testSecret
		}
		v := jwksVerifier(t, s, cfg)
		rsaPEM := pemPublic(t, &rsaKey.PublicKey)
		rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		tests := []struct {
			name string
			tok  string
		}{
			{"HS256 keyed with the RSA public key PEM", signKID(t, jwt.SigningMethodHS256, rsaPEM, "rsa", claims())},
			{"HS256 keyed with the RSA public key DER", signKID(t, jwt.SigningMethodHS256, rsaDER, "rsa", claims())},
			{"ES256 under an RSA kid", signKID(t, jwt.SigningMethodES256, p256, "rsa", claims())},
			{"RS256 under an EC kid", signKID(t, jwt.SigningMethodRS256, rsaKey, "p256", claims())},
			{"ES384 with a P-256 key", craftES(t, "ES384", p256, "p256")},
			{"PS256 where the JWK says RS256", signKID(t, jwt.SigningMethodPS256, rsaKey, "rsa-rs256", claims())},
			{"a key for encryption", signKID(t, jwt.SigningMethodES256, p256, "enc", claims())},
			{"alg none", signKID(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa", claims())},
		}
		for _, tt := range tests {
			_, err := v.Verify(tt.tok)
			if !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("secret %v, %s: %v; want ErrTokenInvalid", withSecret, tt.name, err)
			}
			checkVerifyError(t, tt.tok, err)
		}
		// Alongside the JWK Set, the secret still verifies HS256.
		_, err := v.Verify(hsPayload(fmt.Sprintf(`{"sub":"u1","exp":%d}`, testNow.Add(time.Hour).Unix())))
		if withSecret != (err == nil) {
			t.Errorf("secret %v: HS256 with the secret: %v", withSecret, err)
		}
	}
}

// craftES signs an ES token with alg named as given, whatever the curve
// (the library refuses to do that).
func craftES(t *testing.T, alg string, key *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	payload, _ := json.Marshal(claims())
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sig, err := jwt.SigningMethodES256.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func TestJWKSConfigErrors(t *testing.T) {
	rsaKey, _ := rsaKeys()
	for name, cfg := range map[string]VerifierConfig{
		"public key and JWKS": {PublicKeyPEM: pemPublic(t, &rsaKey.PublicKey), JWKSURL: "https://idp.example/jwks"},
		"not http":            {JWKSURL: "file:///etc/jwks.json"},
		"no host":             {JWKSURL: "https:///jwks"},
	} {
		if v, err := NewVerifier(cfg); err == nil {
			v.Close()
			t.Errorf("%s: no error", name)
		}
	}
}

// TestJWKSClose: Close stops the refresh goroutine (goleak, in
// jwksVerifier's cleanup); afterwards known keys still verify, and a token
// with an unknown kid is refused at once instead of waiting for a fetch
// that will not come.
func TestJWKSClose(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	s := newJWKSServer(t, testJWK{kid: "a", pub: &key.PublicKey})
	before := goleak.IgnoreCurrent()
	v := jwksVerifier(t, s, VerifierConfig{JWKS: JWKSConfig{FetchTimeout: time.Minute, MinRefetch: time.Millisecond}})
	known := signKID(t, jwt.SigningMethodES256, key, "a", claims())
	if _, err := v.Verify(known); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	v.Close()
	goleak.VerifyNone(t, before)
	if _, err := v.Verify(known); err != nil {
		t.Errorf("a fetched key after Close: %v", err)
	}
	start := time.Now()
	_, err := v.Verify(signKID(t, jwt.SigningMethodES256, key, "b", claims()))
	if !errors.Is(err, ErrKeysUnavailable) || time.Since(start) > 5*time.Second {
		t.Errorf("unknown kid after Close: %v after %v; want ErrKeysUnavailable at once", err, time.Since(start))
	}
}
