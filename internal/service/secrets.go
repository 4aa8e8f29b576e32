package service

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/table"
)

// deriveKey derives a 32-byte key for one purpose from the configured secret.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// cursorState is what a row list cursor holds: the fingerprint of the
// listing it belongs to and the position of the last row given (its order,
// id and, for a sorted listing, its values of the sorted fields).
type cursorState struct {
	Print  []byte       `json:"q"`
	Order  string       `json:"o"`
	ID     int64        `json:"i"`
	Values table.Values `json:"v,omitempty"`
}

// sealCursor encrypts the cursor with AES-256-GCM: it is opaque (a sort on
// a field a public view hides must not reveal its values) and cannot be
// forged.
func (s *Service) sealCursor(c *cursorState) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	aead, err := s.cursorAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return b64.EncodeToString(aead.Seal(nonce, nonce, plain, nil)), nil
}

func (s *Service) cursorAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.cursorKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func badCursor() error {
	return validation("cursor", "is not a cursor of this listing: take next_cursor from the previous page of the same query")
}

// maxCursorLength bounds the cursor text read (a sorted cursor holds up to
// MaxSorts values of at most a long text each).
const maxCursorLength = 4 << 20

// openCursor decrypts a cursor and checks that it belongs to the listing.
func (s *Service) openCursor(token string, print []byte) (*cursorState, error) {
	if len(token) > maxCursorLength {
		return nil, badCursor()
	}
	raw, err := b64.DecodeString(token)
	if err != nil {
		return nil, badCursor()
	}
	aead, err := s.cursorAEAD()
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, badCursor()
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return nil, badCursor()
	}
	var c cursorState
	if json.Unmarshal(plain, &c) != nil || !bytes.Equal(c.Print, print) || c.ID <= 0 {
		return nil, badCursor()
	}
	return &c, nil
}

// View passwords are stored as "pbkdf2-sha256$<iterations>$<salt>$<hash>"
// (base64url, a 16-byte random salt, a 32-byte key): golang.org/x/crypto's
// bcrypt is not a dependency of the module, and the standard library's
// PBKDF2 is a salted, slow hash made for this.
const passwordScheme = "pbkdf2-sha256"

func (s *Service) hashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, s.iterations, 32)
	if err != nil {
		return "", err
	}
	return passwordScheme + "$" + strconv.Itoa(s.iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// checkPassword compares in constant time; a malformed hash never matches.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != passwordScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[2])
	want, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// A public view token is "<payload>.<mac>", both base64url: the payload is
// "v1:<view id>:<expiry unix seconds>:<password fingerprint>", the mac
// HMAC-SHA256 of the payload under a key derived from Config.Secret. The
// fingerprint (the first 8 bytes of SHA-256 of the stored password hash)
// makes a new password void the tokens of the old one.

func passwordFingerprint(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return b64.EncodeToString(sum[:8])
}

func (s *Service) signViewToken(viewID int64, passwordHash string, exp time.Time) string {
	payload := fmt.Sprintf("v1:%d:%d:%s", viewID, exp.Unix(), passwordFingerprint(passwordHash))
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(payload))
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(m.Sum(nil))
}

// checkViewToken reports whether token lets its holder read the view.
func (s *Service) checkViewToken(token string, viewID int64, passwordHash string) bool {
	p, mac, ok := strings.Cut(token, ".")
	if !ok || len(token) > 512 {
		return false
	}
	payload, err1 := b64.DecodeString(p)
	got, err2 := b64.DecodeString(mac)
	if err1 != nil || err2 != nil {
		return false
	}
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil), got) {
		return false
	}
	parts := strings.Split(string(payload), ":")
	if len(parts) != 4 || parts[0] != "v1" || parts[1] != strconv.FormatInt(viewID, 10) ||
		parts[3] != passwordFingerprint(passwordHash) {
		return false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	return err == nil && s.now().Unix() < exp
}
