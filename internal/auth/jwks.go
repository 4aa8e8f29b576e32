package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults of JWKSConfig.
const (
	DefaultJWKSRefresh      = time.Hour
	DefaultJWKSMinRefetch   = 30 * time.Second
	DefaultJWKSFetchTimeout = 10 * time.Second
)

// ErrKeysUnavailable marks a token that could not be checked because the
// JWK Set could not be fetched: the token may be good, and the client may
// retry later. Errors that match it also match ErrTokenInvalid.
var ErrKeysUnavailable = errors.New("auth: signing keys unavailable")

// JWKSConfig tunes the JWK Set cache of a Verifier; zero values are the
// defaults.
type JWKSConfig struct {
	// Client fetches the set; nil means a client without a global timeout
	// (each fetch is bounded by FetchTimeout).
	Client *http.Client
	// Refresh is how often the set is fetched again (default 1h), so that
	// removed keys stop working and new ones are known ahead of use.
	Refresh time.Duration
	// MinRefetch is the least time between two fetches made for a token
	// whose kid is not in the set (default 30s), and between retries of a
	// failed fetch: a stream of tokens with made-up kids costs at most one
	// request to the identity provider per MinRefetch.
	MinRefetch time.Duration
	// FetchTimeout bounds one fetch, and how long a token with an unknown
	// kid waits for it (default 10s).
	FetchTimeout time.Duration
	// Logger is told about failed fetches; nil discards.
	Logger *slog.Logger
}

// jwks is a JWK Set fetched from a URL and kept in memory. One goroutine,
// owned by the Verifier (close stops and waits for it), fetches it at
// start, every Refresh, after a failure every MinRefetch, and when a token
// names a kid the set does not have (at most once per MinRefetch).
//
// The set's fetching and parsing are github.com/MicahParks/jwkset's, and
// the kid lookup (with the JWK's own alg and use checks) is
// github.com/MicahParks/keyfunc/v3's; the refresh loop is this package's,
// so that its goroutine is stopped and waited for, and a token never waits
// on a rate limiter.
type jwks struct {
	url  string
	cfg  JWKSConfig
	log  *slog.Logger
	keys *jwkset.MemoryJWKSet
	kf   keyfunc.Keyfunc

	limit  *rate.Limiter // unknown-kid fetches
	want   chan struct{} // asks the loop for a fetch now; capacity 1
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when the refresh goroutine has ended

	first     chan struct{} // closed when the first fetch has ended
	firstOnce sync.Once

	mu      sync.Mutex
	next    chan struct{} // closed when the next fetch to start has ended
	lastErr error         // of the last fetch; nil after a success
	loaded  atomic.Bool   // a fetch has succeeded
}

func newJWKS(url string, cfg JWKSConfig) (*jwks, error) {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultJWKSRefresh
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = DefaultJWKSMinRefetch
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultJWKSFetchTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keys := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Storage: keys, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &jwks{
		url: url, cfg: cfg, log: log, keys: keys, kf: kf,
		limit:  rate.NewLimiter(rate.Every(cfg.MinRefetch), 1),
		want:   make(chan struct{}, 1),
		cancel: cancel,
		next:   make(chan struct{}),
		first:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	k.wg.Add(1)
	go k.run(ctx)
	return k, nil
}

// close stops the refresh goroutine, waits for it, and closes the HTTP
// client's idle connections.
func (k *jwks) close() {
	k.cancel()
	k.wg.Wait()
	k.cfg.Client.CloseIdleConnections()
}

func (k *jwks) run(ctx context.Context) {
	defer k.wg.Done()
	defer close(k.done)
	timer := time.NewTimer(0) // the first fetch at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-k.want:
			timer.Stop()
		}
		err := k.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := k.cfg.Refresh
		if err != nil {
			wait = min(wait, k.cfg.MinRefetch)
		}
		timer.Reset(wait)
	}
}

// fetch gets the set and, when that works, replaces the keys with it; a
// failure keeps the keys already known. Then it wakes the tokens waiting
// for it.
func (k *jwks) fetch(ctx context.Context) error {
	k.mu.Lock()
	done := k.next
	k.next = make(chan struct{})
	k.mu.Unlock()

	fresh := jwkset.NewMemoryStorage()
	_, err := jwkset.NewStorageFromHTTP(k.url, jwkset.HTTPClientStorageOptions{
		Client:      k.cfg.Client,
		Ctx:         ctx,
		HTTPTimeout: k.cfg.FetchTimeout,
		Storage:     fresh,
	})
	var all []jwkset.JWK
	if err == nil {
		if all, err = fresh.KeyReadAll(ctx); err == nil {
			err = k.keys.KeyReplaceAll(ctx, all)
		}
	}
	if err != nil {
		err = fmt.Errorf("%w: fetching the JWK Set: %w", ErrKeysUnavailable, err)
		if ctx.Err() == nil {
			k.log.Warn("auth: JWK Set fetch failed; keys already known stay in use", "err", err)
		}
	} else {
		k.loaded.Store(true)
		k.log.Debug("auth: JWK Set fetched", "keys", len(all))
	}
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
	k.firstOnce.Do(func() { close(k.first) })
	close(done)
	return err
}

// key is the jwt.Keyfunc for an asymmetric token: the key of its kid (or,
// without a kid, every key of the set that may verify its alg), checked to
// be of the type its alg needs.
func (k *jwks) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if _, hasKID := t.Header["kid"]; !hasKID {
		if err := k.awaitFirst(ctx); err != nil {
			return nil, err
		}
		set, err := k.kf.VerificationKeySet(ctx)
		if err != nil {
			return nil, err
		}
		var pinned jwt.VerificationKeySet
		for _, key := range set.Keys {
			if allowsAlg(key, alg) {
				pinned.Keys = append(pinned.Keys, key)
			}
		}
		if len(pinned.Keys) == 0 {
			return nil, fmt.Errorf("no key in the JWK Set verifies %s", alg)
		}
		return pinned, nil
	}
	if err := k.awaitFirst(ctx); err != nil {
		return nil, err
	}
	key, err := k.kf.KeyfuncCtx(ctx)(t)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		key, err = k.refetchFor(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	if !allowsAlg(key, alg) {
		return nil, fmt.Errorf("the key of this kid does not verify %s", alg)
	}
	return key, nil
}

// awaitFirst waits, bounded, for the start's fetch when it has not ended
// yet, and reports ErrKeysUnavailable when no fetch has worked so far.
func (k *jwks) awaitFirst(ctx context.Context) error {
	if k.loaded.Load() {
		return nil
	}
	if err := k.await(ctx, k.first); err != nil {
		return err
	}
	if k.loaded.Load() {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// refetchFor fetches the set again for a token whose kid it lacks, at most
// once per MinRefetch, and looks again. Without that budget the kid is
// simply unknown.
func (k *jwks) refetchFor(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if !k.limit.Allow() {
		k.mu.Lock()
		lastErr := k.lastErr
		k.mu.Unlock()
		if lastErr != nil {
			return nil, fmt.Errorf("kid %q is not in the JWK Set: %w", kid, lastErr)
		}
		return nil, fmt.Errorf("kid %q is not in the JWK Set (fetched again less than %v ago)", kid, k.cfg.MinRefetch)
	}
	k.mu.Lock()
	next := k.next
	k.mu.Unlock()
	select {
	case k.want <- struct{}{}:
	default: // a fetch is already asked for
	}
	if err := k.await(ctx, next); err != nil {
		return nil, err
	}
	key, err := k.kf.KeyfuncCtx(ctx)(t)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		k.mu.Lock()
		lastErr := k.lastErr
		k.mu.Unlock()
		if lastErr != nil {
			return nil, fmt.Errorf("kid %q is not in the JWK Set: %w", kid, lastErr)
		}
		return nil, fmt.Errorf("kid %q is not in the JWK Set", kid)
	}
	return key, err
}

// await waits for done, at most FetchTimeout.
func (k *jwks) await(ctx context.Context, done <-chan struct{}) error {
	timer := time.NewTimer(k.cfg.FetchTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		return fmt.Errorf("%w: the JWK Set fetch takes longer than %v", ErrKeysUnavailable, k.cfg.FetchTimeout)
	case <-k.done:
		return fmt.Errorf("%w: the JWK Set is no longer fetched (the server is stopping)", ErrKeysUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jwksAlgs are the algorithms a JWK Set's keys may verify.
var jwksAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// allowsAlg pins an algorithm to a key's type: RSA keys (2048 bits or
// more) verify RS* and PS*, ECDSA keys the ES* of their curve, Ed25519
// keys EdDSA. Nothing verifies HS* with a public key.
func allowsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() >= minRSABits &&
			slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
