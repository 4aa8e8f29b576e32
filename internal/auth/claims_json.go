package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// errClaim marks a claim that is missing or has the wrong type; it lets
// classify tell such tokens from ones that are merely expired.
var errClaim = errors.New("bad claim")

// tokenClaims is the payload of a token as this package reads it. It is
// decoded by UnmarshalJSON with exact (case-sensitive) claim names, unlike
// encoding/json's struct decoding, and implements jwt.Claims so that the
// library checks exp, nbf, iat, iss and aud.
type tokenClaims struct {
	sub           string
	name          string
	channels      []string
	iss           string
	aud           jwt.ClaimStrings
	exp, nbf, iat *jwt.NumericDate
}

var (
	_ jwt.Claims          = (*tokenClaims)(nil)
	_ jwt.ClaimsValidator = (*tokenClaims)(nil)
)

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.nbf, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.iat, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.aud, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.iss, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.sub, nil }

// Validate is called by the library after the signature is verified. It
// catches a payload of JSON null, for which UnmarshalJSON is never called.
func (c *tokenClaims) Validate() error {
	if c.sub == "" {
		return fmt.Errorf("%w: sub is missing", errClaim)
	}
	return nil
}

// UnmarshalJSON decodes the claims this package uses and checks their types.
// Other claims are ignored. Error messages never quote claim values.
func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%w: payload is not a JSON object", errClaim)
	}
	var err error
	sub, ok := raw["sub"]
	if !ok {
		return fmt.Errorf("%w: sub is missing", errClaim)
	}
	if c.sub, err = parseSubject(sub); err != nil {
		return err
	}
	if v, ok := raw["name"]; ok {
		if c.name, err = parseString("name", v, true); err != nil {
			return err
		}
	}
	if v, ok := raw["channels"]; ok {
		if c.channels, err = parseChannels(v); err != nil {
			return err
		}
	}
	if v, ok := raw["iss"]; ok {
		if c.iss, err = parseString("iss", v, false); err != nil {
			return err
		}
	}
	if v, ok := raw["aud"]; ok {
		if err := c.aud.UnmarshalJSON(v); err != nil {
			return fmt.Errorf("%w: aud must be a string or a list of strings", errClaim)
		}
	}
	for _, d := range []struct {
		name string
		dst  **jwt.NumericDate
	}{{"exp", &c.exp}, {"nbf", &c.nbf}, {"iat", &c.iat}} {
		if v, ok := raw[d.name]; ok {
			if *d.dst, err = parseNumericDate(d.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseSubject accepts a non-empty JSON string, or a non-negative JSON integer
// (Baserow user ids), which is kept as its decimal text: 9001 -> "9001".
func parseSubject(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
		for _, b := range raw {
			if b < '0' || b > '9' {
				return "", fmt.Errorf("%w: numeric sub must be a non-negative integer", errClaim)
			}
		}
		return string(raw), nil
	}
	s, err := parseString("sub", raw, false)
	if err != nil {
		return "", fmt.Errorf("%w: sub must be a string or a non-negative integer", errClaim)
	}
	if s == "" {
		return "", fmt.Errorf("%w: sub is empty", errClaim)
	}
	return s, nil
}

// parseString decodes a JSON string; with nullOK, JSON null gives "".
func parseString(claim string, raw json.RawMessage, nullOK bool) (string, error) {
	raw = bytes.TrimSpace(raw)
	if nullOK && string(raw) == "null" {
		return "", nil
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%w: %s must be a string", errClaim, claim)
	}
	return s, nil
}

// parseChannels accepts a JSON list of strings (kept as given), one
// comma-separated string (entries trimmed, empty ones dropped), or null.
func parseChannels(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	bad := fmt.Errorf("%w: channels must be a list of strings or a comma-separated string", errClaim)
	switch {
	case string(raw) == "null":
		return nil, nil
	case len(raw) > 0 && raw[0] == '"':
		s, err := parseString("channels", raw, false)
		if err != nil {
			return nil, bad
		}
		var out []string
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	case len(raw) > 0 && raw[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, bad
		}
		out := make([]string, 0, len(items))
		for _, item := range items {
			s, err := parseString("channels", item, false)
			if err != nil {
				return nil, bad
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, bad
}

// parseNumericDate requires a JSON number (not a quoted one, not null).
func parseNumericDate(claim string, raw json.RawMessage) (*jwt.NumericDate, error) {
	raw = bytes.TrimSpace(raw)
	var d jwt.NumericDate
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') || d.UnmarshalJSON(raw) != nil {
		return nil, fmt.Errorf("%w: %s must be a number", errClaim, claim)
	}
	return &d, nil
}
