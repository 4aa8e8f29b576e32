package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// outcome of a Verify call in a table.
type outcome int

const (
	ok outcome = iota
	invalid
	expired
)

func (o outcome) check(t *testing.T, token string, err error) {
	t.Helper()
	checkVerifyError(t, token, err)
	switch o {
	case ok:
		if err != nil {
			t.Fatalf("Verify: unexpected error: %v", err)
		}
	case invalid:
		if !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("Verify: got %v, want ErrTokenInvalid", err)
		}
	case expired:
		if !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("Verify: got %v, want ErrTokenExpired", err)
		}
	}
}

func TestVerifyHMAC(t *testing.T) {
	hour := time.Hour
	signed := func(c Claims, now time.Time) string {
		s, err := Sign(testSecret, c, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := signed(Claims{Subject: "u1", Name: "Ann", Channels: []string{"news", "team_*"}, ExpiresAt: testNow.Add(hour)}, testNow)
	parts := strings.Split(good, ".")
	// The last base64url character of a 32-byte HMAC carries 2 unused bits;
	// flipping one yields the same bytes from a non-canonical spelling.
	last := parts[2][len(parts[2])-1]
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	nonCanonical := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] +
		string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx^1])

	tests := []struct {
		name  string
		token string
		cfg   func(*VerifierConfig)
		want  outcome
		check func(*testing.T, *Claims)
	}{
		{name: "good HS256", token: good, check: func(t *testing.T, c *Claims) {
			want := Claims{Subject: "u1", Name: "Ann", Channels: []string{"news", "team_*"}, ExpiresAt: testNow.Add(hour)}
			if c.Subject != want.Subject || c.Name != want.Name || !slices.Equal(c.Channels, want.Channels) || !c.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("claims = %+v, want %+v", *c, want)
			}
		}},
		{name: "HS384", token: signWith(t, jwt.SigningMethodHS384, testSecret, claims())},
		{name: "HS512", token: signWith(t, jwt.SigningMethodHS512, testSecret, claims())},
		{name: "no exp never expires", token: signed(Claims{Subject: "u1"}, testNow.Add(-1000*hour)), check: func(t *testing.T, c *Claims) {
			if !c.ExpiresAt.IsZero() {
				t.Fatalf("ExpiresAt = %v, want zero", c.ExpiresAt)
			}
		}},
		{name: "wrong secret", token: signWith(t, jwt.SigningMethodHS256, []byte("another-secret"), claims()), want: invalid},
		{name: "tampered payload", token: parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2], want: invalid},
		{name: "non-canonical signature base64", token: nonCanonical, want: invalid},
		{name: "line break in token", token: good[:20] + "\n" + good[20:], want: invalid},
		{name: "line break in signature", token: good[:len(good)-4] + "\n" + good[len(good)-4:], want: invalid},
		{name: "surrounding space", token: " " + good, want: invalid},
		{name: "too long", token: hsPayload(`{"sub":"u1","pad":"` + strings.Repeat("x", maxTokenBytes) + `"}`), want: invalid},
		{name: "empty", token: "", want: invalid},
		{name: "two segments", token: parts[0] + "." + parts[1], want: invalid},
		{name: "four segments", token: good + ".x", want: invalid},
		{name: "garbage", token: "not-a-token", want: invalid},

		{name: "expired", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("exp", testNow.Add(-time.Minute).Unix())), want: expired},
		{name: "expired by Sign", token: signed(Claims{Subject: "u1", ExpiresAt: testNow.Add(-time.Second)}, testNow.Add(-hour)), want: expired},
		{name: "expired within leeway", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("exp", testNow.Add(-time.Minute).Unix())),
			cfg: func(c *VerifierConfig) { c.Leeway = 2 * time.Minute }},
		{name: "expired and bad signature", token: signWith(t, jwt.SigningMethodHS256, []byte("x"), claims("exp", testNow.Add(-time.Minute).Unix())), want: invalid},
		{name: "expired and wrong issuer", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("exp", testNow.Add(-time.Minute).Unix(), "iss", "evil")),
			cfg: func(c *VerifierConfig) { c.Issuer = "baserow" }, want: invalid},
		{name: "expired and missing sub", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("exp", testNow.Add(-time.Minute).Unix(), "sub", nil)), want: invalid},
		{name: "not yet valid", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("nbf", testNow.Add(time.Minute).Unix())), want: invalid},
		{name: "nbf within leeway", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("nbf", testNow.Add(time.Minute).Unix())),
			cfg: func(c *VerifierConfig) { c.Leeway = 2 * time.Minute }},
		{name: "issued in the future", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("iat", testNow.Add(time.Hour).Unix())), want: invalid},
		{name: "exp as a string", token: hsPayload(`{"sub":"u1","exp":"9999999999"}`), want: invalid},
		{name: "exp null", token: hsPayload(`{"sub":"u1","exp":null}`), want: invalid},

		{name: "alg none", token: craft(`{"alg":"none","typ":"JWT"}`, `{"sub":"admin"}`, nil), want: invalid},
		{name: "alg none with signature", token: craft(`{"alg":"none"}`, `{"sub":"admin"}`, []byte("sig")), want: invalid},
		{name: "alg None", token: craft(`{"alg":"None"}`, `{"sub":"admin"}`, nil), want: invalid},
		{name: "alg missing", token: craftHS256(testSecret, `{"typ":"JWT"}`, `{"sub":"u1"}`), want: invalid},
		{name: "alg RS256 on HMAC-only verifier", token: craftHS256(testSecret, `{"alg":"RS256"}`, `{"sub":"u1"}`), want: invalid},
		{name: "crit header", token: craftHS256(testSecret, `{"alg":"HS256","crit":["exp"]}`, `{"sub":"u1"}`), want: invalid},
		{name: "header not JSON", token: craft(`{"alg":`, `{"sub":"u1"}`, nil), want: invalid},

		{name: "issuer ok", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("iss", "baserow")), cfg: func(c *VerifierConfig) { c.Issuer = "baserow" }},
		{name: "wrong issuer", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("iss", "evil")), cfg: func(c *VerifierConfig) { c.Issuer = "baserow" }, want: invalid},
		{name: "missing issuer", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims()), cfg: func(c *VerifierConfig) { c.Issuer = "baserow" }, want: invalid},
		{name: "issuer not a string", token: hsPayload(`{"sub":"u1","iss":1}`), want: invalid},
		{name: "audience ok", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("aud", "tablecast")), cfg: func(c *VerifierConfig) { c.Audience = "tablecast" }},
		{name: "audience in list", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("aud", []string{"a", "tablecast"})), cfg: func(c *VerifierConfig) { c.Audience = "tablecast" }},
		{name: "wrong audience", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("aud", "other")), cfg: func(c *VerifierConfig) { c.Audience = "tablecast" }, want: invalid},
		{name: "missing audience", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims()), cfg: func(c *VerifierConfig) { c.Audience = "tablecast" }, want: invalid},
		{name: "audience ignored when not configured", token: signWith(t, jwt.SigningMethodHS256, testSecret, claims("aud", "other"))},

		{name: "missing sub", token: hsPayload(`{"name":"Ann"}`), want: invalid},
		{name: "empty sub", token: hsPayload(`{"sub":""}`), want: invalid},
		{name: "null sub", token: hsPayload(`{"sub":null}`), want: invalid},
		{name: "bool sub", token: hsPayload(`{"sub":true}`), want: invalid},
		{name: "object sub", token: hsPayload(`{"sub":{"id":1}}`), want: invalid},
		{name: "upper-case SUB is not sub", token: hsPayload(`{"SUB":"u1"}`), want: invalid},
		{name: "numeric sub", token: hsPayload(`{"sub":9001}`), check: subject("9001")},
		{name: "numeric sub zero", token: hsPayload(`{"sub":0}`), check: subject("0")},
		{name: "fractional sub", token: hsPayload(`{"sub":9001.5}`), want: invalid},
		{name: "exponent sub", token: hsPayload(`{"sub":9e3}`), want: invalid},
		{name: "negative sub", token: hsPayload(`{"sub":-1}`), want: invalid},
		{name: "payload null", token: hsPayload(`null`), want: invalid},
		{name: "payload array", token: hsPayload(`["sub"]`), want: invalid},
		{name: "payload string", token: hsPayload(`"sub"`), want: invalid},

		{name: "name null", token: hsPayload(`{"sub":"u1","name":null}`), check: func(t *testing.T, c *Claims) {
			if c.Name != "" {
				t.Fatalf("Name = %q", c.Name)
			}
		}},
		{name: "name not a string", token: hsPayload(`{"sub":"u1","name":7}`), want: invalid},
		{name: "channels list", token: hsPayload(`{"sub":"u1","channels":["a","b*"]}`), check: channels("a", "b*")},
		{name: "channels empty list", token: hsPayload(`{"sub":"u1","channels":[]}`), check: channels()},
		{name: "channels comma string", token: hsPayload(`{"sub":"u1","channels":"a, b* ,,c"}`), check: channels("a", "b*", "c")},
		{name: "channels single string", token: hsPayload(`{"sub":"u1","channels":"news"}`), check: channels("news")},
		{name: "channels empty string", token: hsPayload(`{"sub":"u1","channels":""}`), check: channels()},
		{name: "channels null", token: hsPayload(`{"sub":"u1","channels":null}`), check: channels()},
		{name: "channels number", token: hsPayload(`{"sub":"u1","channels":1}`), want: invalid},
		{name: "channels bool", token: hsPayload(`{"sub":"u1","channels":true}`), want: invalid},
		{name: "channels object", token: hsPayload(`{"sub":"u1","channels":{"a":1}}`), want: invalid},
		{name: "channels list with number", token: hsPayload(`{"sub":"u1","channels":["a",1]}`), want: invalid},
		{name: "channels list with null", token: hsPayload(`{"sub":"u1","channels":["a",null]}`), want: invalid},
		{name: "channels nested list", token: hsPayload(`{"sub":"u1","channels":[["a"]]}`), want: invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := VerifierConfig{Secret: testSecret}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c, err := mustVerifier(t, cfg).Verify(tt.token)
			tt.want.check(t, tt.token, err)
			if err == nil && tt.check != nil {
				tt.check(t, c)
			}
			if err != nil && c != nil {
				t.Fatalf("claims returned with an error")
			}
		})
	}
}

func subject(want string) func(*testing.T, *Claims) {
	return func(t *testing.T, c *Claims) {
		if c.Subject != want {
			t.Fatalf("Subject = %q, want %q", c.Subject, want)
		}
	}
}

func channels(want ...string) func(*testing.T, *Claims) {
	return func(t *testing.T, c *Claims) {
		if !slices.Equal(c.Channels, want) {
			t.Fatalf("Channels = %q, want %q", c.Channels, want)
		}
	}
}

func TestVerifyUsesNow(t *testing.T) {
	tok, err := Sign(testSecret, Claims{Subject: "u1", ExpiresAt: testNow.Add(time.Minute)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	v := mustVerifier(t, VerifierConfig{Secret: testSecret, Now: func() time.Time { return now }})
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("before exp: %v", err)
	}
	now = testNow.Add(2 * time.Minute)
	if _, err := v.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after exp: got %v, want ErrTokenExpired", err)
	}
}

func TestVerifierCopiesSecret(t *testing.T) {
	secret := []byte("mutable-secret")
	v := mustVerifier(t, VerifierConfig{Secret: secret})
	tok, err := Sign([]byte("mutable-secret"), Claims{Subject: "u1"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X'
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify after caller changed its slice: %v", err)
	}
}

func TestSign(t *testing.T) {
	if _, err := Sign(nil, Claims{Subject: "u1"}, testNow); err == nil {
		t.Error("Sign with empty secret: no error")
	}
	if _, err := Sign(testSecret, Claims{}, testNow); err == nil {
		t.Error("Sign with empty subject: no error")
	}
	tok, err := Sign(testSecret, Claims{Subject: "u1"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, VerifierConfig{Secret: testSecret, Now: time.Now})
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify of token signed with zero now: %v", err)
	}
	if c.Name != "" || c.Channels != nil || !c.ExpiresAt.IsZero() {
		t.Fatalf("unset fields came back set: %+v", *c)
	}
	payload, err := b64.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{`"name"`, `"channels"`, `"exp"`} {
		if strings.Contains(string(payload), absent) {
			t.Errorf("payload %s has %s", payload, absent)
		}
	}
	if !strings.Contains(string(payload), `"iat"`) {
		t.Errorf("payload %s has no iat", payload)
	}
}

func ExampleSign() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, _ := Sign([]byte("secret"), Claims{Subject: "42", Channels: []string{"news*"}, ExpiresAt: now.Add(time.Hour)}, now)
	v, _ := NewVerifier(VerifierConfig{Secret: []byte("secret"), Now: func() time.Time { return now }})
	c, err := v.Verify(tok)
	fmt.Println(c.Subject, c.AllowsChannel("news_eu"), c.AllowsChannel("admin"), err)
	// Output: 42 true false <nil>
}
