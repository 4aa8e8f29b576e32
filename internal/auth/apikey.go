package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// APIKeyMatches reports whether authorizationHeader is "Bearer <key>" for the
// given key (read as BearerToken reads it). An empty key never matches.
//
// Both sides are hashed with SHA-256 before the constant-time comparison, so
// neither the content nor the length of the key leaks through timing.
func APIKeyMatches(authorizationHeader, key string) bool {
	presented := BearerToken(authorizationHeader)
	if key == "" || presented == "" {
		return false
	}
	want := sha256.Sum256([]byte(key))
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// BearerToken returns the token of an Authorization header "Bearer <token>",
// or "". The scheme is case-insensitive and may be followed by any number
// of spaces; surrounding whitespace is ignored.
func BearerToken(authorizationHeader string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorizationHeader), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
