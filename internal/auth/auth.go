// Package auth verifies the JWTs that clients connect with, signs development
// tokens, and checks the admin API key.
//
// Tokens are parsed and verified by github.com/golang-jwt/jwt/v5; this package
// decides which algorithms and keys are acceptable and what the claims mean:
//
//   - sub (required): the user id. A JSON string, or a non-negative JSON
//     integer such as 9001 (Baserow user ids are integers), which becomes
//     the string "9001". Fractions, exponents and negative numbers are
//     rejected.
//   - name (optional): the display name used by presence.
//   - channels (optional): the app channels the user may subscribe to, as a
//     JSON list of strings or one comma-separated string ("a, b*").
//   - exp, nbf, iat: checked against VerifierConfig.Now with
//     VerifierConfig.Leeway. exp is optional; a token without it never expires.
//   - iss, aud: checked only when VerifierConfig sets Issuer / Audience.
//
// name and channels may be JSON null, meaning absent; every other wrong type
// makes the token invalid.
package auth

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors of Verify. Every error Verify returns matches exactly one of
// them with errors.Is, and wraps the cause; no error contains the token text.
var (
	// ErrTokenInvalid: malformed, badly signed, signed with an algorithm that
	// is not accepted, not valid yet, wrong issuer/audience, or bad claims.
	ErrTokenInvalid = errors.New("auth: invalid token")
	// ErrTokenExpired: correctly signed and otherwise valid, but past exp
	// (plus leeway). The client may get a new token and retry.
	ErrTokenExpired = errors.New("auth: token expired")
)

// Claims is what a verified token says about its holder.
type Claims struct {
	Subject  string   // sub: the user id, never empty
	Name     string   // name: display name, may be empty
	Channels []string // channels: app channel patterns; nil allows none
	// ExpiresAt is exp; the zero time means the token has no exp.
	ExpiresAt time.Time
}

// AllowsChannel reports whether the channels claim lets the holder subscribe
// to the app channel collection. An entry matches when it equals collection,
// or when it ends in '*' and collection starts with the part before the '*'
// ("*" alone matches every name). A '*' anywhere else is literal. Nil or
// empty Channels allow nothing, and the empty name is never allowed.
//
// Store collections (record_T, table_W, ...) are authorised by workspace
// membership, not by this claim; the caller decides which check applies.
func (c *Claims) AllowsChannel(collection string) bool {
	if c == nil || collection == "" {
		return false
	}
	for _, pattern := range c.Channels {
		if pattern == collection {
			return true
		}
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasPrefix(collection, prefix) {
			return true
		}
	}
	return false
}
