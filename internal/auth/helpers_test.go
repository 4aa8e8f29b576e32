package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("test-secret-0123456789abcdef0123")
	testNow    = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
)

func fixedNow() time.Time { return testNow }

var b64 = base64.RawURLEncoding

// craft builds a compact token from raw header and payload JSON and a raw
// signature, with no help from the JWT library.
func craft(header, payload string, sig []byte) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sig)
}

// craftHS256 builds an HS256 token from raw JSON, signed by hand.
func craftHS256(secret []byte, header, payload string) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64.EncodeToString(mac.Sum(nil))
}

// hsPayload signs payload JSON with the test secret and a standard header.
func hsPayload(payload string) string {
	return craftHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`, payload)
}

// signWith signs MapClaims with any library method and key.
func signWith(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func pemPublic(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// RSA keys are slow to generate; share two across tests.
var rsaKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return a, b
})

func newECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// checkVerifyError asserts the contract every Verify error keeps: it matches
// exactly one sentinel, and quotes neither the token nor a long part of it.
func checkVerifyError(t testing.TB, token string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	inv, exp := errors.Is(err, ErrTokenInvalid), errors.Is(err, ErrTokenExpired)
	if inv == exp {
		t.Fatalf("error matches ErrTokenInvalid=%v ErrTokenExpired=%v, want exactly one: %v", inv, exp, err)
	}
	msg := err.Error()
	for _, part := range append(strings.Split(token, "."), token) {
		if len(part) >= 16 && strings.Contains(msg, part) {
			t.Fatalf("error quotes the token: %v", err)
		}
	}
}

// claims returns base claims valid at testNow, with overrides.
func claims(kv ...any) jwt.MapClaims {
	m := jwt.MapClaims{"sub": "u1", "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
