package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Sign returns an HS256 token for c, for `tablecast token` and tests. It sets
// sub, name (if not empty), channels (if not empty, as a JSON list), iat =
// now, and exp (if c.ExpiresAt is not zero; a time before now is allowed, to
// make expired tokens for tests). Times are truncated to whole seconds. A
// zero now means time.Now().
func Sign(secret []byte, c Claims, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: sign: empty secret")
	}
	if c.Subject == "" {
		return "", errors.New("auth: sign: empty subject")
	}
	if now.IsZero() {
		now = time.Now()
	}
	mc := jwt.MapClaims{
		"sub": c.Subject,
		"iat": jwt.NewNumericDate(now),
	}
	if c.Name != "" {
		mc["name"] = c.Name
	}
	if len(c.Channels) > 0 {
		mc["channels"] = c.Channels
	}
	if !c.ExpiresAt.IsZero() {
		mc["exp"] = jwt.NewNumericDate(c.ExpiresAt)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}
