package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tablecast/tablecast/internal/auth"
)

// DevTokens serves POST /api/dev/token: a JWT for a user name, so that the
// web app can be tried in dev mode with a name instead of a token minted by
// `tablecast token`. Outside dev mode (Enabled false) the route answers 404,
// and so it does when the server has no HS256 secret to sign with.
type DevTokens struct {
	Enabled bool
	Secret  []byte
	// Verifier checks each minted token before it is handed out, so that a
	// server configured with an issuer or audience (which minted tokens do
	// not carry) refuses here rather than on every later request.
	Verifier *auth.Verifier
	TTL      time.Duration // default 24h
	MaxBody  int64         // default 1 MiB
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
}

// devUserMax bounds a dev user id, in bytes.
const devUserMax = 64

// Register mounts the route on mux.
func (d *DevTokens) Register(mux Mux) {
	if d.MaxBody <= 0 {
		d.MaxBody = 1 << 20
	}
	if d.TTL <= 0 {
		d.TTL = 24 * time.Hour
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	mux.HandleFunc("POST /api/dev/token", d.token)
}

type devTokenAnswer struct {
	Token     string    `json:"token"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (d *DevTokens) token(w http.ResponseWriter, r *http.Request) {
	if !d.Enabled || len(d.Secret) == 0 {
		writeError(w, d.Logger, &apiError{status: http.StatusNotFound, code: "not_found",
			message: "dev tokens exist only in dev mode (serve --dev) with an HS256 secret; use `tablecast token`"})
		return
	}
	var body struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
	}
	if err := decodeBody(w, r, d.MaxBody, &body); err != nil {
		writeError(w, d.Logger, err)
		return
	}
	body.UserID = strings.TrimSpace(body.UserID)
	body.Name = strings.TrimSpace(body.Name)
	details := map[string]string{}
	if !devName(body.UserID, devUserMax) {
		details["user_id"] = "is required: 1-64 bytes of letters, digits and punctuation, no spaces"
	}
	if body.Name != "" && !devDisplayName(body.Name) {
		details["name"] = "must be at most 128 bytes of printable characters"
	}
	if len(details) > 0 {
		writeError(w, d.Logger, badRequest(details))
		return
	}
	if body.Name == "" {
		body.Name = body.UserID
	}
	now := d.Now()
	exp := now.Add(d.TTL).Truncate(time.Second)
	tok, err := auth.Sign(d.Secret, auth.Claims{Subject: body.UserID, Name: body.Name, ExpiresAt: exp}, now)
	if err != nil {
		writeError(w, d.Logger, err)
		return
	}
	if d.Verifier != nil {
		if _, err := d.Verifier.Verify(tok); err != nil {
			d.Logger.Warn("dev token refused by this server's own verifier", "err", err)
			writeError(w, d.Logger, &apiError{status: http.StatusNotImplemented, code: "not_implemented",
				message: "this server's token settings (issuer, audience or key) cannot be met by dev tokens; mint one yourself"})
			return
		}
	}
	writeJSON(w, http.StatusOK, devTokenAnswer{Token: tok, UserID: body.UserID, Name: body.Name, ExpiresAt: exp.UTC()})
}

// devName reports whether s is 1-max bytes of printable, non-space characters.
func devName(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func devDisplayName(s string) bool {
	if len(s) > 128 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
