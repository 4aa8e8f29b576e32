package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
)

func TestDevTokens(t *testing.T) {
	secret := []byte("dev-token-test-secret")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Secret: secret, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := auth.NewVerifier(auth.VerifierConfig{Secret: secret, Issuer: "https://issuer.example", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(d *DevTokens) *httptest.Server {
		mux := http.NewServeMux()
		d.Now = clock
		d.Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	dev := serve(&DevTokens{Enabled: true, Secret: secret, Verifier: verifier, TTL: time.Hour})
	off := serve(&DevTokens{Enabled: false, Secret: secret, Verifier: verifier})
	noSecret := serve(&DevTokens{Enabled: true, Verifier: verifier})
	issuer := serve(&DevTokens{Enabled: true, Secret: secret, Verifier: strict})

	post := func(srv *httptest.Server, body string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+"/api/dev/token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	cases := []struct {
		name   string
		srv    *httptest.Server
		body   string
		status int
		want   []string
	}{
		{"not dev mode", off, `{"user_id":"alice"}`, 404, []string{`"code":"not_found"`, "only in dev mode"}},
		{"no secret", noSecret, `{"user_id":"alice"}`, 404, []string{`"code":"not_found"`}},
		{"issuer the token cannot meet", issuer, `{"user_id":"alice"}`, 501, []string{`"code":"not_implemented"`}},
		{"no user", dev, `{}`, 400, []string{`"user_id":"is required`}},
		{"user with a space", dev, `{"user_id":"al ice"}`, 400, []string{`"user_id"`}},
		{"user too long", dev, `{"user_id":"` + strings.Repeat("a", 65) + `"}`, 400, []string{`"user_id"`}},
		{"name with a control character", dev, `{"user_id":"a","name":"x\u0007"}`, 400, []string{`"name"`}},
		{"unknown field", dev, `{"user_id":"a","role":"admin"}`, 400, []string{`"role":"is not a known field"`}},
		{"not JSON", dev, `user=alice`, 400, []string{`"body":"is not valid JSON"`}},
		{"two objects", dev, `{"user_id":"a"}{}`, 400, []string{`exactly one JSON object`}},
		{"a token", dev, `{"user_id":" alice ","name":"Alice A."}`, 200, []string{`"user_id":"alice"`, `"name":"Alice A."`, `"expires_at":"2026-01-02T04:04:05Z"`}},
		{"the name defaults to the user", dev, `{"user_id":"bob"}`, 200, []string{`"name":"bob"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.srv, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer %s lacks %s", body, w)
				}
			}
			if status != 200 {
				return
			}
			var ans devTokenAnswer
			if err := json.Unmarshal([]byte(body), &ans); err != nil {
				t.Fatal(err)
			}
			claims, err := verifier.Verify(ans.Token)
			if err != nil {
				t.Fatalf("the minted token does not verify: %v", err)
			}
			if claims.Subject != ans.UserID || claims.Name != ans.Name || !claims.ExpiresAt.Equal(ans.ExpiresAt) || len(claims.Channels) != 0 {
				t.Errorf("claims %+v do not match the answer %+v", claims, ans)
			}
		})
	}
}
