package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
)

// Signing follows the Standard Webhooks convention: three headers,
//
//	webhook-id         the message's id (the event id, the same on every retry)
//	webhook-timestamp  the attempt's time, Unix seconds
//	webhook-signature  "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))
//
// where key is the secret's bytes: base64-decoded after its "whsec_"
// prefix. The standard library does it; the tests check it with the
// convention's own Go library.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	secretPrefix = "whsec_"
	secretBytes  = 32
)

// NewSecret returns a new signing secret: "whsec_" and 32 random bytes in
// base64.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey decodes a secret into its HMAC key.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook: secret lacks its %s prefix", secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook: secret is not base64 after %s", secretPrefix)
	}
	return key, nil
}

// sign returns the webhook-timestamp and webhook-signature of a message.
func sign(key []byte, id string, at time.Time, body []byte) (timestamp, signature string) {
	return signWith(hmac.New(sha256.New, key), id, at, body)
}

// signWith signs with mac, an HMAC-SHA256 under the secret's key that a
// worker keeps from call to call (it is reset first).
func signWith(mac hash.Hash, id string, at time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	mac.Reset()
	_, _ = io.WriteString(mac, id)
	_, _ = mac.Write([]byte{'.'})
	_, _ = io.WriteString(mac, timestamp)
	_, _ = mac.Write([]byte{'.'})
	_, _ = mac.Write(body)
	var sum [sha256.Size]byte
	const prefix = "v1,"
	out := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(sha256.Size))
	copy(out, prefix)
	base64.StdEncoding.Encode(out[len(prefix):], mac.Sum(sum[:0]))
	return timestamp, string(out)
}
