package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/pkg/client"
)

// pool is the scenario's client connections; clients[i] is nil when
// connection i failed.
type pool struct {
	clients []*client.Client
	done    atomic.Int64 // attempts finished, for progress
	ok      atomic.Int64 // attempts that succeeded
	errs    errorTally
}

// errorTally counts errors by message, keeping a few distinct ones.
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

const maxDistinctErrors = 6

func (e *errorTally) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]int{}
	}
	e.total++
	msg := err.Error()
	if _, seen := e.counts[msg]; !seen && len(e.counts) >= maxDistinctErrors {
		msg = "(other errors)"
	}
	e.counts[msg]++
}

// summary lists the errors, most frequent first.
func (e *errorTally) summary() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	type entry struct {
		msg string
		n   int
	}
	var list []entry
	for msg, n := range e.counts {
		list = append(list, entry{msg, n})
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].n > list[j].n || list[i].n == list[j].n && list[i].msg < list[j].msg
	})
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = strconv.Itoa(x.n) + "x " + x.msg
	}
	return out
}

func (e *errorTally) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}

// clientConfig is what every connection of a pool shares.
type clientConfig struct {
	url           string
	urls          []string // several nodes: connection i goes to urls[i % len]
	secret        string
	channel       string
	sources       []string
	readBuffer    int
	messageBuffer int
	tokenTTL      time.Duration
	user          string            // every connection's user; empty: bench-<i> for connection i
	clientLog     *clientLogCounter // counts what the clients drop; nil: nothing
}

// signTokens makes one token per connection: user bench-<i> (or user for
// all when not empty), allowed the channel. It is done before the clock
// starts, so the connect rate counts the server's JWT check and not the
// signing.
func signTokens(secret, channel, user string, n int, ttl time.Duration) ([]string, error) {
	now := time.Now()
	toks := make([]string, n)
	for i := range toks {
		sub := user
		if sub == "" {
			sub = "bench-" + strconv.Itoa(i)
		}
		tok, err := auth.Sign([]byte(secret), auth.Claims{
			Subject:   sub,
			Channels:  []string{channel},
			ExpiresAt: now.Add(ttl),
		}, now)
		if err != nil {
			return nil, err
		}
		toks[i] = tok
	}
	return toks, nil
}

// forEach runs f(i) for i in [0, n) on workers goroutines, stopping early
// when ctx ends.
func forEach(ctx context.Context, n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// openPool connects n clients with `dialers` attempts at a time and
// returns how long that took. Each Dial returns once the server has sent
// connected, that is after the upgrade and the token check. Failures are
// tallied, not fatal.
func openPool(ctx context.Context, cc clientConfig, n, dialers int, prog *progress) (*pool, time.Duration, error) {
	toks, err := signTokens(cc.secret, cc.channel, cc.user, n, cc.tokenTTL)
	if err != nil {
		return nil, 0, err
	}
	p := &pool{clients: make([]*client.Client, n)}
	end := prog.phase("connecting", int64(n), p.done.Load)
	start := time.Now()
	forEach(ctx, n, dialers, func(i int) {
		u := cc.url
		if len(cc.urls) > 0 {
			u = cc.urls[i%len(cc.urls)]
		}
		cfg := client.Config{
			URL:            u,
			Token:          toks[i],
			ReadBufferSize: cc.readBuffer,
			MessageBuffer:  cc.messageBuffer,
		}
		if cc.clientLog != nil {
			cfg.Logger = slog.New(cc.clientLog)
		}
		if len(cc.sources) > 0 {
			cfg.LocalAddr = cc.sources[i%len(cc.sources)]
		}
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			p.errs.add(err)
		} else {
			p.clients[i] = c
			p.ok.Add(1)
		}
		p.done.Add(1)
	})
	took := time.Since(start)
	end()
	return p, took, ctx.Err()
}

// subscribe subscribes every connected client to channel and returns how
// long that took.
func (p *pool) subscribe(ctx context.Context, channel string, workers int, prog *progress) (time.Duration, error) {
	var done atomic.Int64
	end := prog.phase("subscribing", p.ok.Load(), done.Load)
	start := time.Now()
	forEach(ctx, len(p.clients), workers, func(i int) {
		c := p.clients[i]
		if c == nil {
			return
		}
		if _, err := c.Subscribe(ctx, channel, ""); err != nil {
			p.errs.add(fmt.Errorf("subscribe: %w", err))
			_ = c.Close()
			p.clients[i] = nil
			p.ok.Add(-1)
		}
		done.Add(1)
	})
	took := time.Since(start)
	end()
	return took, ctx.Err()
}

// connected returns how many clients are connected (and subscribed, after
// subscribe).
func (p *pool) connected() int { return int(p.ok.Load()) }

// close closes every client, many at a time (each waits up to a second for
// the server's close frame).
func (p *pool) close() {
	forEach(context.Background(), len(p.clients), 512, func(i int) {
		if c := p.clients[i]; c != nil {
			_ = c.Close()
		}
	})
}

// reportErrors adds the pool's connection errors to r, with a hint for
// the ones whose cause is known.
func (p *pool) reportErrors(r *Report) {
	if p.errs.count() == 0 {
		return
	}
	r.problem("%d connections failed: %v", p.errs.count(), p.errs.summary())
	p.errs.mu.Lock()
	defer p.errs.mu.Unlock()
	for msg := range p.errs.counts {
		if strings.Contains(msg, "HTTP 429") {
			r.problem("HTTP 429 is the server's per-address connect limit: " +
				"run it with --connect-rate off (TABLECAST_CONNECT_RATE=off) for load tests")
			return
		}
	}
}

// What pkg/client logs when it drops a message: an op or message whose
// offset it already delivered (at debug level), or a frame it could not
// decode. The client hides both from Messages, so the table scenarios
// count them from its log: a server that sent a duplicate must not pass
// the exactly-once check, and a frame lost in the client must not pass for
// a gap left by the server.
const (
	duplicateMessage   = "tablecast: dropping a duplicate"
	undecodableMessage = "tablecast: ignoring an undecodable message"
)

// clientLogCounter is a slog.Handler that only counts those two messages.
type clientLogCounter struct {
	duplicates  atomic.Int64
	undecodable atomic.Int64
}

func (d *clientLogCounter) Enabled(context.Context, slog.Level) bool { return true }

func (d *clientLogCounter) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case duplicateMessage:
		d.duplicates.Add(1)
	case undecodableMessage:
		d.undecodable.Add(1)
	}
	return nil
}

func (d *clientLogCounter) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d *clientLogCounter) WithGroup(string) slog.Handler      { return d }
