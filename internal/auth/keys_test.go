package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAsymmetric(t *testing.T) {
	rsaKey, otherRSA := rsaKeys()
	p256, p384 := newECDSA(t, elliptic.P256()), newECDSA(t, elliptic.P384())
	ed, otherEd := newEd25519(t), newEd25519(t)

	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	p256PEM := pemPublic(t, &p256.PublicKey)
	edPEM := pemPublic(t, ed.Public())

	tests := []struct {
		name  string
		pem   []byte
		token string
		want  outcome
	}{
		{"RS256", rsaPEM, signWith(t, jwt.SigningMethodRS256, rsaKey, claims()), ok},
		{"RS512", rsaPEM, signWith(t, jwt.SigningMethodRS512, rsaKey, claims()), ok},
		{"RS256 other key", rsaPEM, signWith(t, jwt.SigningMethodRS256, otherRSA, claims()), invalid},
		{"RS256 expired", rsaPEM, signWith(t, jwt.SigningMethodRS256, rsaKey, claims("exp", testNow.Add(-time.Hour).Unix())), expired},
		{"PS256 not accepted", rsaPEM, signWith(t, jwt.SigningMethodPS256, rsaKey, claims()), invalid},
		{"ES256", p256PEM, signWith(t, jwt.SigningMethodES256, p256, claims()), ok},
		{"ES256 other key", p256PEM, signWith(t, jwt.SigningMethodES256, newECDSA(t, elliptic.P256()), claims()), invalid},
		{"ES384", pemPublic(t, &p384.PublicKey), signWith(t, jwt.SigningMethodES384, p384, claims()), ok},
		{"ES384 on P-256 key", p256PEM, signWith(t, jwt.SigningMethodES384, p384, claims()), invalid},
		{"EdDSA", edPEM, signWith(t, jwt.SigningMethodEdDSA, ed, claims()), ok},
		{"EdDSA other key", edPEM, signWith(t, jwt.SigningMethodEdDSA, otherEd, claims()), invalid},
		{"RS256 on EdDSA key", edPEM, signWith(t, jwt.SigningMethodRS256, rsaKey, claims()), invalid},
		{"ES256 on RSA key", rsaPEM, signWith(t, jwt.SigningMethodES256, p256, claims()), invalid},
		{"alg none on RSA key", rsaPEM, craft(`{"alg":"none"}`, `{"sub":"admin"}`, nil), invalid},
		// Key confusion: the attacker knows the public key and uses its PEM
		// bytes (or its DER) as an HMAC secret.
		{"HS256 keyed with RSA PEM", rsaPEM, craftHS256(rsaPEM, `{"alg":"HS256"}`, `{"sub":"admin"}`), invalid},
		{"HS256 keyed with RSA DER", rsaPEM, craftHS256(mustDER(t, rsaPEM), `{"alg":"HS256"}`, `{"sub":"admin"}`), invalid},
		{"HS256 keyed with EC PEM", p256PEM, craftHS256(p256PEM, `{"alg":"HS256"}`, `{"sub":"admin"}`), invalid},
		{"HS512 keyed with Ed25519 PEM", edPEM, signWith(t, jwt.SigningMethodHS512, edPEM, claims()), invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustVerifier(t, VerifierConfig{PublicKeyPEM: tt.pem})
			c, err := v.Verify(tt.token)
			tt.want.check(t, tt.token, err)
			if err == nil && c.Subject != "u1" {
				t.Fatalf("Subject = %q", c.Subject)
			}
		})
	}
}

func mustDER(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	return b.Bytes
}

func TestVerifySecretAndPublicKey(t *testing.T) {
	rsaKey, _ := rsaKeys()
	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	v := mustVerifier(t, VerifierConfig{Secret: testSecret, PublicKeyPEM: rsaPEM})
	for _, tc := range []struct {
		name  string
		token string
		want  outcome
	}{
		{"HS256 with secret", signWith(t, jwt.SigningMethodHS256, testSecret, claims()), ok},
		{"RS256 with key", signWith(t, jwt.SigningMethodRS256, rsaKey, claims()), ok},
		{"HS256 keyed with PEM", signWith(t, jwt.SigningMethodHS256, rsaPEM, claims()), invalid},
		{"alg none", craft(`{"alg":"none"}`, `{"sub":"u1"}`, nil), invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			tc.want.check(t, tc.token, err)
		})
	}
}

func TestPublicKeyForms(t *testing.T) {
	rsaKey, _ := rsaKeys()
	ec := newECDSA(t, elliptic.P256())
	certDER := selfSignedCert(t, ec)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})

	for _, tc := range []struct {
		name  string
		pem   []byte
		token string
	}{
		{"certificate", certPEM, signWith(t, jwt.SigningMethodES256, ec, claims())},
		{"certificate chain", append(append(certPEM, '\n'), certPEM...), signWith(t, jwt.SigningMethodES256, ec, claims())},
		{"text around the block", append([]byte("issuer key:\n"), append(certPEM, "\ntrailing\n"...)...), signWith(t, jwt.SigningMethodES256, ec, claims())},
		{"PKCS #1 RSA", pkcs1, signWith(t, jwt.SigningMethodRS256, rsaKey, claims())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, VerifierConfig{PublicKeyPEM: tc.pem})
			if _, err := v.Verify(tc.token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func selfSignedCert(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tablecast test issuer"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestNewVerifierErrors(t *testing.T) {
	rsaKey, _ := rsaKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec := newECDSA(t, elliptic.P256())
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pub := pemPublic(t, &rsaKey.PublicKey)
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

	for _, tc := range []struct {
		name    string
		cfg     VerifierConfig
		wantMsg string
	}{
		{"nothing configured", VerifierConfig{}, "no JWT secret"},
		{"empty secret and PEM", VerifierConfig{Secret: []byte{}, PublicKeyPEM: []byte{}}, "no JWT secret"},
		{"negative leeway", VerifierConfig{Secret: testSecret, Leeway: -time.Second}, "negative"},
		{"not PEM", VerifierConfig{PublicKeyPEM: []byte("ssh-ed25519 AAAAC3Nza...")}, "no PEM block"},
		{"junk in block", VerifierConfig{PublicKeyPEM: block("PUBLIC KEY", []byte("junk"))}, "parse PUBLIC KEY"},
		{"junk certificate", VerifierConfig{PublicKeyPEM: block("CERTIFICATE", []byte("junk"))}, "parse CERTIFICATE"},
		{"private key", VerifierConfig{PublicKeyPEM: block("EC PRIVATE KEY", ecDER)}, "private key"},
		{"unknown block", VerifierConfig{PublicKeyPEM: block("OPENSSH KEY", []byte("x"))}, "unsupported PEM block"},
		{"two keys", VerifierConfig{PublicKeyPEM: append(pub, pub...)}, "more than one key"},
		{"small RSA", VerifierConfig{PublicKeyPEM: pemPublic(t, &small.PublicKey)}, "at least 2048"},
		{"bad PEM with good secret", VerifierConfig{Secret: testSecret, PublicKeyPEM: []byte("junk")}, "no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if err == nil {
				t.Fatalf("NewVerifier: no error, got %v", v)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}
