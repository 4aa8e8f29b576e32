package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// APIKeyMatches reports whether authorizationHeader is "Bearer <key>" for the
// given key. The scheme is case-insensitive and may be followed by any number
// of spaces; surrounding whitespace is ignored. An empty key never matches.
//
// Both sides are hashed with SHA-256 before the constant-time comparison, so
// neither the content nor the length of the key leaks through timing.
func APIKeyMatches(authorizationHeader, key string) bool {
	if key == "" {
		return false
	}
	scheme, presented, ok := strings.Cut(strings.TrimSpace(authorizationHeader), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	presented = strings.TrimLeft(presented, " ")
	if presented == "" {
		return false
	}
	want := sha256.Sum256([]byte(key))
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}
