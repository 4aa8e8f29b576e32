// Package relay moves committed events from the table store's outbox to the
// broker. A write commits its change and its event together; right after the
// commit the writer hands the event to Relay.Publish. If that fails, or the
// process dies between commit and publish, the event stays unpublished in
// the outbox and Relay.Run publishes it on its next pass, with the offset it
// was given at commit: late, but never lost. Run also prunes published events
// past the retention.
//
// Several nodes may run a relay on one database: an event can then be
// published twice, and subscribers drop the duplicate offset (the hub's
// sequencer does). No event is published zero times.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// Outbox is what the relay needs from the store.
type Outbox interface {
	Unpublished(ctx context.Context, limit int) ([]store.Event, error)
	MarkPublished(ctx context.Context, keys ...store.EventKey) error
	PruneEvents(ctx context.Context, olderThan, heldOlderThan time.Time, heldLead time.Duration) (int64, error)
}

// Sink hands events to the broker, in order per stream.
type Sink func(ctx context.Context, events []store.Event) error

// Config configures a Relay. Zero values mean the defaults.
type Config struct {
	Outbox     Outbox        // required
	Sink       Sink          // required
	Interval   time.Duration // between passes over the outbox; default 1s
	Batch      int           // events per pass; default 500
	Retention  time.Duration // default 24h (TABLECAST_EVENT_RETENTION)
	PruneEvery time.Duration // default 10m
	// WebhookHold is how long events a webhook has not delivered are kept
	// past Retention's reach; default 7 days (TABLECAST_WEBHOOK_RETENTION).
	WebhookHold time.Duration
	// MarkDelay is how long published events wait to be marked so, that
	// one write marks all published meanwhile; default 100ms. (Marking
	// is only for a restart: what was published and not marked is
	// published again, and subscribers drop what they had.)
	MarkDelay time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Relay publishes the outbox. Its goroutine is started by Start and stopped
// by Stop.
type Relay struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // serialises publishing, so one stream's events keep their order
	cancel  context.CancelFunc
	done    chan struct{}
	pending chan struct{}

	// Events published but not yet marked so. Marking is a write of its own
	// (an fsync on SQLite, and SQLite's one writer taken from the writes);
	// the relay's goroutine does it off the request path, at most every
	// MarkDelay under load. Events published and not marked when the
	// process dies are published again at start: subscribers drop the
	// duplicate offsets.
	markMu  sync.Mutex
	toMark  []store.EventKey
	marking chan struct{} // some are waiting: mark within MarkDelay
	markNow chan struct{} // a Batch of them are waiting: mark now
	running atomic.Bool
}

// setDefault sets *p to v unless it is positive.
func setDefault[T ~int | ~int64](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}

// New returns a relay.
func New(cfg Config) (*Relay, error) {
	if cfg.Outbox == nil || cfg.Sink == nil {
		return nil, errors.New("relay: Outbox and Sink are required")
	}
	setDefault(&cfg.Interval, time.Second)
	setDefault(&cfg.Batch, 500)
	setDefault(&cfg.Retention, 24*time.Hour)
	setDefault(&cfg.WebhookHold, 7*24*time.Hour)
	setDefault(&cfg.PruneEvery, 10*time.Minute)
	setDefault(&cfg.MarkDelay, 100*time.Millisecond)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Relay{cfg: cfg, log: cfg.Logger, pending: make(chan struct{}, 1), marking: make(chan struct{}, 1),
		markNow: make(chan struct{}, 1)}, nil
}

// Publish hands events committed just now to the sink and marks them
// published. On failure they stay in the outbox for the next pass, so the
// caller (the write that committed them) need not fail.
func (r *Relay) Publish(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.publishLocked(ctx, events); err != nil {
		r.wake()
		return err
	}
	return nil
}

func (r *Relay) publishLocked(ctx context.Context, events []store.Event) error {
	if err := r.cfg.Sink(ctx, events); err != nil {
		return fmt.Errorf("relay: publish: %w", err)
	}
	r.markMu.Lock()
	for _, e := range events {
		r.toMark = append(r.toMark, e.Key())
	}
	n := len(r.toMark)
	r.markMu.Unlock()
	if !r.running.Load() { // no goroutine to mark them: now
		return r.flushMarks(ctx)
	}
	signal := r.marking
	if n >= r.cfg.Batch {
		signal = r.markNow
	}
	select {
	case signal <- struct{}{}:
	default:
	}
	return nil
}

// flushMarks records the published events in the outbox.
func (r *Relay) flushMarks(ctx context.Context) error {
	r.markMu.Lock()
	keys := r.toMark
	r.toMark = nil
	r.markMu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	if err := r.cfg.Outbox.MarkPublished(ctx, keys...); err != nil {
		// Kept for the next flush. Should the process end first, they are
		// published again at start and subscribers drop the duplicates.
		r.markMu.Lock()
		r.toMark = append(keys, r.toMark...)
		r.markMu.Unlock()
		return fmt.Errorf("relay: mark published: %w", err)
	}
	return nil
}

func (r *Relay) wake() {
	select {
	case r.pending <- struct{}{}:
	default:
	}
}

// Start runs the relay's passes until Stop.
func (r *Relay) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	r.running.Store(true)
	go r.run(ctx)
}

// Stop ends the passes and waits for the one running.
func (r *Relay) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.running.Store(false)
}

func (r *Relay) run(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	prune := time.NewTicker(r.cfg.PruneEvery)
	defer prune.Stop()
	mark := time.NewTimer(r.cfg.MarkDelay)
	mark.Stop()
	defer mark.Stop()
	markArmed := false
	r.Drain(ctx) // what an earlier process left behind
	for {
		select {
		case <-ctx.Done():
			// Stopping: record what was published, with a fresh context.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := r.flushMarks(fctx); err != nil {
				r.log.Warn("relay: marking published events at stop", "err", err)
			}
			cancel()
			return
		case <-r.marking:
			if !markArmed {
				mark.Reset(r.cfg.MarkDelay)
				markArmed = true
			}
		case <-mark.C:
			markArmed = false
			if err := r.flushMarks(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("relay: marking published events", "err", err)
			}
		case <-r.markNow:
			if err := r.flushMarks(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("relay: marking published events", "err", err)
			}
		case <-tick.C:
			r.Drain(ctx)
		case <-r.pending:
			r.Drain(ctx)
		case <-prune.C:
			r.Prune(ctx)
		}
	}
}

// Drain publishes every unpublished event, oldest first, and reports how
// many it published.
func (r *Relay) Drain(ctx context.Context) int {
	total := 0
	for ctx.Err() == nil {
		r.mu.Lock()
		err := r.flushMarks(ctx) // else the events awaiting their mark look unpublished
		var events []store.Event
		if err == nil {
			events, err = r.cfg.Outbox.Unpublished(ctx, r.cfg.Batch)
		}
		if err == nil && len(events) > 0 {
			err = r.publishLocked(ctx, events)
		}
		r.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("relay pass failed; retrying on the next one", "err", err)
			}
			return total
		}
		total += len(events)
		if len(events) < r.cfg.Batch {
			return total
		}
	}
	return total
}

// Prune deletes published events older than the retention, but those a
// webhook has not delivered, which are kept up to WebhookHold. Both are
// kept event.CompactSpan longer than set: a submit's compact event is
// completed from an event up to that much older (the row whole), which
// must still be there whenever the compact one is. For the same reason a
// webhook also holds its table's events and op log from event.CompactSpan
// before the first event it has not delivered.
func (r *Relay) Prune(ctx context.Context) {
	now := r.cfg.Now()
	n, err := r.cfg.Outbox.PruneEvents(ctx, now.Add(-r.cfg.Retention-event.CompactSpan), now.Add(-r.cfg.WebhookHold-event.CompactSpan),
		event.CompactSpan)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("pruning events failed", "err", err)
		}
		return
	}
	if n > 0 {
		r.log.Debug("pruned events", "count", n)
	}
}
