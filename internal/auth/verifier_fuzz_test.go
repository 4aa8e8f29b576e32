package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to two verifiers, one with the test
// secret and one with a fixed Ed25519 public key. Neither may panic, every
// error must keep the error contract, and an accepted token must really be
// signed: its signature segment must be the canonical encoding of a valid
// signature over its first two segments, under the configured key.
func FuzzVerify(f *testing.F) {
	// A fixed key, so that every fuzz worker process has the same one.
	edKey := ed25519.NewKeyFromSeed([]byte("tablecast-fuzz-seed-0123456789ab"))
	edPub := edKey.Public().(ed25519.PublicKey)
	edPEM := pemPublic(f, edPub)
	hv := mustVerifier(f, VerifierConfig{Secret: testSecret, Issuer: "", Leeway: time.Second})
	pv := mustVerifier(f, VerifierConfig{PublicKeyPEM: edPEM})

	good, err := Sign(testSecret, Claims{Subject: "u1", Name: "Ann", Channels: []string{"a*"}, ExpiresAt: testNow.Add(time.Hour)}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good,
		signWith(f, jwt.SigningMethodHS512, testSecret, claims("sub", 9001)),
		signWith(f, jwt.SigningMethodEdDSA, edKey, claims("channels", "a,b")),
		hsPayload(`{"sub":"u1","channels":["x",1]}`),
		hsPayload(`null`),
		craft(`{"alg":"none"}`, `{"sub":"admin"}`, nil),
		craftHS256(edPEM, `{"alg":"HS256"}`, `{"sub":"admin"}`),
		good[:len(good)-1],
		good + "=",
		good[:len(good)-4] + "\r\n" + good[len(good)-4:],
		"", ".", "..", "a.b.c", "eyJ.eyJ.", strings.Repeat(".", 10),
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, token string) {
		c, err := hv.Verify(token)
		checkVerifyError(t, token, err)
		if err == nil {
			assertSigned(t, token, c, func(alg, input string, sig []byte) bool {
				var h func() hash.Hash
				switch alg {
				case "HS256":
					h = sha256.New
				case "HS384":
					h = sha512.New384
				case "HS512":
					h = sha512.New
				default:
					return false
				}
				mac := hmac.New(h, testSecret)
				mac.Write([]byte(input))
				return hmac.Equal(mac.Sum(nil), sig)
			})
		}
		c, err = pv.Verify(token)
		checkVerifyError(t, token, err)
		if err == nil {
			assertSigned(t, token, c, func(alg, input string, sig []byte) bool {
				return alg == "EdDSA" && ed25519.Verify(edPub, []byte(input), sig)
			})
		}
	})
}

// assertSigned fails unless token's signature, verified independently of the
// package under test, is valid and canonically encoded.
func assertSigned(t *testing.T, token string, c *Claims, valid func(alg, input string, sig []byte) bool) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token with %d segments", len(parts))
	}
	var header struct {
		Alg string `json:"alg"`
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil {
		t.Fatalf("accepted a token whose header does not decode")
	}
	sig, err := b64.Strict().DecodeString(parts[2])
	if err != nil || b64.EncodeToString(sig) != parts[2] {
		t.Fatalf("accepted a non-canonical signature segment")
	}
	if !valid(header.Alg, parts[0]+"."+parts[1], sig) {
		t.Fatalf("accepted a token (alg %q) that is not signed with the configured key", header.Alg)
	}
	if c == nil || c.Subject == "" {
		t.Fatalf("accepted a token without a subject: %+v", c)
	}
}
