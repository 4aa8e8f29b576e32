package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenBytes bounds the work an attacker can ask of Verify. Tokens this
// large would not pass most proxies' header limits anyway.
const maxTokenBytes = 16 << 10

// VerifierConfig configures a Verifier. At least one of Secret,
// PublicKeyPEM and JWKSURL must be set, and not both PublicKeyPEM and
// JWKSURL; zero values of the other fields mean "not checked" (Issuer,
// Audience), time.Now (Now), and no leeway (Leeway).
type VerifierConfig struct {
	// Secret enables HS256, HS384 and HS512.
	Secret []byte
	// PublicKeyPEM enables the algorithms of its key: RS256/384/512 for RSA
	// (at least 2048 bits), ES256, ES384 or ES512 for ECDSA P-256, P-384 or
	// P-521 respectively, EdDSA for Ed25519. It holds a PKIX PUBLIC KEY, a
	// PKCS #1 RSA PUBLIC KEY, or a CERTIFICATE.
	PublicKeyPEM []byte
	// JWKSURL enables RS256/384/512, PS256/384/512, ES256/384/512 and
	// EdDSA with the keys of the JWK Set at that URL, each key verifying
	// only the algorithms of its type (see JWKSConfig for the cache). It
	// may be set alongside Secret: an HS* token is then checked with the
	// secret, any other with the set.
	JWKSURL string
	// JWKS tunes the JWK Set cache.
	JWKS JWKSConfig
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed for exp, nbf and iat. Must not be
	// negative.
	Leeway time.Duration
}

// Verifier checks tokens. It is safe for concurrent use. With a JWK Set it
// owns a goroutine that keeps the set fresh: Close stops it.
type Verifier struct {
	secret    []byte
	publicKey any
	asymAlgs  []string
	jwks      *jwks
	parser    *jwt.Parser
}

// NewVerifier checks cfg, parses the public key once, and returns a
// Verifier. With a JWKS URL it starts fetching the set (without waiting for
// it); the caller must Close the Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Secret) == 0 && len(cfg.PublicKeyPEM) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: no JWT secret, public key or JWKS URL is configured")
	}
	if len(cfg.PublicKeyPEM) > 0 && cfg.JWKSURL != "" {
		return nil, errors.New("auth: a public key and a JWKS URL are both configured; use one")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: JWT leeway %v is negative", cfg.Leeway)
	}
	v := &Verifier{}
	var methods []string
	if len(cfg.Secret) > 0 {
		v.secret = slices.Clone(cfg.Secret)
		methods = append(methods, hmacAlgs...)
	}
	if len(cfg.PublicKeyPEM) > 0 {
		key, algs, err := parsePublicKeyPEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: JWT public key: %w", err)
		}
		v.publicKey, v.asymAlgs = key, algs
		methods = append(methods, algs...)
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("auth: the JWKS URL must be an http:// or https:// URL")
		}
		methods = append(methods, jwksAlgs...)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	if cfg.JWKSURL != "" {
		// Last, so that the goroutine it starts has an owner (Close).
		k, err := newJWKS(cfg.JWKSURL, cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS: %w", err)
		}
		v.jwks = k
	}
	return v, nil
}

// Close stops the JWK Set's refresh goroutine, if any, and waits for it.
// Tokens checked after Close use the keys already fetched.
func (v *Verifier) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// Verify is VerifyContext without a deadline of the caller's (a fetch of
// the JWK Set it waits for is still bounded).
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// VerifyContext checks token's signature and claims and returns the
// claims. Every error matches ErrTokenInvalid or ErrTokenExpired (see
// their docs) and wraps the cause, without the token text; one that also
// matches ErrKeysUnavailable could not be checked for want of the JWK Set.
// A token whose kid the JWK Set lacks may wait for the set to be fetched
// again (bounded by JWKSConfig.FetchTimeout and ctx).
func (v *Verifier) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token is longer than %d bytes", ErrTokenInvalid, maxTokenBytes)
	}
	// The compact form is base64url segments and dots only. Checking it here
	// also refuses line breaks, which the base64 decoder would skip, so that
	// a token has exactly one accepted spelling.
	for i := 0; i < len(token); i++ {
		if !isTokenByte(token[i]) {
			return nil, fmt.Errorf("%w: token contains a character outside base64url", ErrTokenInvalid)
		}
	}
	tc := &tokenClaims{}
	keyFor := func(t *jwt.Token) (any, error) { return v.key(ctx, t) }
	if _, err := v.parser.ParseWithClaims(token, tc, keyFor); err != nil {
		return nil, classify(err)
	}
	c := &Claims{Subject: tc.sub, Name: tc.name, Channels: tc.channels}
	if tc.exp != nil {
		c.ExpiresAt = tc.exp.Time
	}
	return c, nil
}

// key is the jwt.Keyfunc. The parser has already refused algorithms outside
// WithValidMethods; key also pairs each algorithm family with its own key, so
// an HMAC token is never checked against public key bytes.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 section 4.1.11: extensions we do not understand.
		return nil, errors.New("crit header is not supported")
	}
	alg := t.Method.Alg()
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok && v.secret != nil && slices.Contains(hmacAlgs, alg) {
		return v.secret, nil
	}
	if v.publicKey != nil && slices.Contains(v.asymAlgs, alg) {
		return v.publicKey, nil
	}
	if v.jwks != nil && slices.Contains(jwksAlgs, alg) {
		return v.jwks.key(ctx, t)
	}
	return nil, errors.New("no key for this algorithm")
}

// classify maps a golang-jwt error to ErrTokenExpired when expiry is the
// only thing wrong with an otherwise verified token, else to ErrTokenInvalid.
func classify(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, errClaim) {
		others := []error{
			jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
			jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
			jwt.ErrTokenInvalidSubject, jwt.ErrTokenRequiredClaimMissing,
			jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
			jwt.ErrTokenMalformed,
		}
		if !slices.ContainsFunc(others, func(e error) bool { return errors.Is(err, e) }) {
			return fmt.Errorf("%w: %w", ErrTokenExpired, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrTokenInvalid, err)
}

func isTokenByte(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' ||
		b == '-' || b == '_' || b == '.'
}
