package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// minRSABits is the smallest RSA modulus accepted for verification.
const minRSABits = 2048

// hmacAlgs are the algorithms accepted when a shared secret is configured.
var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// parsePublicKeyPEM reads the one public key in data and returns it with the
// JWT algorithms it may verify. data holds a PKIX "PUBLIC KEY", a PKCS #1
// "RSA PUBLIC KEY", or a "CERTIFICATE" (optionally followed by the rest of its
// chain, which is ignored; the certificate's dates are not checked, it only
// carries the key).
func parsePublicKeyPEM(data []byte) (any, []string, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, errors.New("no PEM block found (want -----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----)")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return nil, nil, fmt.Errorf("PEM block is a private key (%s); configure the public key instead", block.Type)
		}
		return nil, nil, fmt.Errorf("unsupported PEM block type %q (want PUBLIC KEY or CERTIFICATE)", block.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	for {
		var next *pem.Block
		if next, rest = pem.Decode(rest); next == nil {
			break
		}
		if block.Type != "CERTIFICATE" || next.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("PEM holds more than one key (found %s after %s); only one is supported", next.Type, block.Type)
		}
	}
	algs, err := algorithmsFor(key)
	if err != nil {
		return nil, nil, err
	}
	return key, algs, nil
}

// algorithmsFor returns the JWT algorithms that key may verify. ECDSA keys
// get only the algorithm of their curve (RFC 7518 section 3.4).
func algorithmsFor(key any) ([]string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits, want at least %d", bits, minRSABits)
		}
		return []string{"RS256", "RS384", "RS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T (want RSA, ECDSA or Ed25519)", key)
}
