package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/store"
)

// Config configures a Dispatcher. Zero values mean the defaults.
type Config struct {
	Store Store  // required
	Owner string // this node's name in the leases; required
	// Timeout of one call (10s), MaxAttempts per event (8), RetryBase the
	// first wait (1s, doubled each attempt up to 10 minutes), MaxAge how
	// long an event is retried (24h).
	Timeout     time.Duration
	MaxAttempts int
	RetryBase   time.Duration
	MaxAge      time.Duration
	// AllowPrivate lets webhooks call loopback, private and link-local
	// addresses.
	AllowPrivate bool
	// Lease is how long a node holds a webhook without renewing (10s); it
	// renews every third of it.
	Lease time.Duration
	// Poll is how often a webhook that has caught up looks for events
	// that Notify did not announce (written through another node); 1s.
	Poll time.Duration
	// MaxWebhooks is the most webhooks this node delivers at once (1000).
	MaxWebhooks int
	// CursorFlush is how often the cursors moved by deliveries are
	// written to the store, every webhook's in one transaction (200ms): a
	// write per delivered event would take SQLite's one writer from the
	// table's writes. A node that dies redelivers what it delivered since
	// (at least once).
	CursorFlush time.Duration
	// Concurrency is the most webhook calls this node has in flight at
	// once, all webhooks together (8 per GOMAXPROCS): a node with many
	// webhooks spends a bounded share of its cores on them, and keeps as
	// many connections open for reuse.
	Concurrency int
	// Writes is the node's write path, which calls give way to (yield.go);
	// nil: calls never wait for it. YieldMax is the longest a call waits
	// for the writes in flight (100ms, at most a tenth of Lease); negative:
	// calls never wait.
	Writes   WriteLoad
	YieldMax time.Duration
	Announce Announcer
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
	// Client replaces the HTTP client (tests); nil builds the safe one.
	Client *http.Client
}

// Dispatcher delivers the webhooks this node leases. Start runs it, Stop
// ends it and waits for its goroutines.
type Dispatcher struct {
	cfg    Config
	client *http.Client
	obs    Observer
	log    *slog.Logger

	mu      sync.RWMutex
	workers map[int64]*worker
	running atomic.Int64            // len(workers), read without the lock by Notify
	ended   atomic.Uint64           // workers ended, counted under mu (claim)
	readsMu sync.Mutex              // guards reads (not mu: Notify, on the write path, takes mu)
	reads   map[readKey]*sharedRead // outbox reads in flight, shared by the workers of a table
	renders map[int64]*renderRing   // the tables' events recently rendered, under readsMu
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	done    chan struct{}
	kick    chan struct{}
	slots   chan struct{} // a call in flight holds one (Concurrency)
	// flushPutOff counts the cursor flushes put off in a row for the
	// node's writes (the run goroutine's own).
	flushPutOff int
}

// New returns a dispatcher.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Owner == "" {
		return nil, errors.New("webhook: Store and Owner are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxWebhooks <= 0 {
		cfg.MaxWebhooks = 1000
	}
	if cfg.CursorFlush <= 0 {
		cfg.CursorFlush = 200 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8 * runtime.GOMAXPROCS(0)
	}
	if cfg.YieldMax == 0 {
		cfg.YieldMax = defaultYieldMax
	}
	if cfg.YieldMax > 0 { // a call that waited must still find its lease's margin
		cfg.YieldMax = min(cfg.YieldMax, cfg.Lease/10)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{cfg: cfg, client: cfg.Client, obs: cfg.Observer, log: cfg.Logger,
		workers: map[int64]*worker{}, reads: map[readKey]*sharedRead{}, renders: map[int64]*renderRing{}, kick: make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Concurrency)}
	if d.client == nil {
		d.client = newClient(cfg.Timeout, cfg.AllowPrivate, cfg.Concurrency)
	}
	if d.obs == nil {
		d.obs = nopObserver{}
	}
	return d, nil
}

// Start runs the lease loop until Stop.
func (d *Dispatcher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go d.run(ctx)
}

// Stop ends every delivery, gives the leases up and waits.
func (d *Dispatcher) Stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.done
	d.wg.Wait()
	if t, ok := d.client.Transport.(*http.Transport); ok && d.cfg.Client == nil {
		t.CloseIdleConnections()
	}
}

// Kick makes the dispatcher look for webhooks to deliver now (one was
// created, resumed or changed).
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Changed takes a webhook's new settings (its secret, URL...) to the
// worker delivering it on this node at once, and looks for work (it may
// have been resumed or made active). Another node's worker takes them at
// its next renewal, within a third of the lease.
func (d *Dispatcher) Changed(ctx context.Context, id int64) {
	if h, err := d.cfg.Store.Webhook(ctx, id); err == nil {
		d.mu.RLock()
		if w := d.workers[id]; w != nil {
			w.mu.Lock()
			w.w = h
			w.mu.Unlock()
			w.checkDead.Store(true) // a redelivery may have been asked for
			w.wake()
		}
		d.mu.RUnlock()
	}
	d.Kick()
}

// Notify tells the webhooks of a table that it has new events.
func (d *Dispatcher) Notify(tableID int64) {
	if d.running.Load() == 0 { // every event of every table comes here
		return
	}
	d.mu.RLock()
	for _, w := range d.workers {
		if w.tableID == tableID {
			w.wake()
		}
	}
	d.mu.RUnlock()
}

func (d *Dispatcher) run(ctx context.Context) {
	defer close(d.done)
	every := max(d.cfg.Lease/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	flush := time.NewTicker(d.cfg.CursorFlush)
	defer flush.Stop()
	for {
		d.claim(ctx)
		d.forget()
		if !d.idle(ctx, t, flush) {
			d.mu.Lock()
			for _, w := range d.workers {
				w.cancel() // each writes its cursor as it ends
			}
			d.mu.Unlock()
			return
		}
	}
}

// idle flushes cursors until the next claim is due (or kicked); false
// when the dispatcher stops.
func (d *Dispatcher) idle(ctx context.Context, claim, flush *time.Ticker) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-flush.C:
			d.flush(ctx)
		case <-claim.C:
			return true
		case <-d.kick:
			return true
		}
	}
}

// flush writes the cursors the workers moved since the last flush, in one
// transaction, at a tick when no write is in flight on the node (or after
// maxFlushPutOff ticks); a worker whose compare and set fails (it lost its
// lease) ends.
func (d *Dispatcher) flush(ctx context.Context) {
	d.mu.Lock()
	ws := make([]*worker, 0, len(d.workers))
	for _, w := range d.workers {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	if !slices.ContainsFunc(ws, (*worker).moved) {
		return
	}
	// While writes are in flight, put off (yield.go), for a few ticks at
	// most; not waiting here: the claims that renew the leases run on this
	// goroutine too.
	if d.flushPutOff < maxFlushPutOff && d.writesBusy() {
		d.flushPutOff++
		return
	}
	d.flushPutOff = 0
	var as []store.WebhookAdvance
	var locked []*worker
	for _, w := range ws {
		w.flushMu.Lock()
		if to := w.delivered.Load(); to > w.persisted {
			as = append(as, store.WebhookAdvance{ID: w.id, Owner: d.cfg.Owner, From: w.persisted, To: to})
			locked = append(locked, w)
			continue
		}
		w.flushMu.Unlock()
	}
	if len(as) == 0 {
		return
	}
	conflicts, err := d.cfg.Store.AdvanceWebhooks(ctx, as)
	lost := map[int64]bool{}
	for _, id := range conflicts {
		lost[id] = true
	}
	for i, w := range locked {
		switch {
		case err != nil: // all stay to write next time
		case lost[w.id]:
			w.cancel()
		default:
			w.persisted = as[i].To
		}
		w.flushMu.Unlock()
	}
	if err != nil && ctx.Err() == nil {
		d.log.Warn("webhooks: writing cursors failed; retrying", "err", err)
	}
}

// claim renews this node's leases and takes free ones, starts a worker for
// each webhook newly leased, and stops those no longer leased (paused,
// made inactive, deleted, or taken by another node after a missed renewal).
//
// A worker that ended while the claim read the leases may have written its
// cursor after the read: the claim starts no worker from what it read
// then (it would deliver again from an older cursor, out of order), and
// claims again at once.
func (d *Dispatcher) claim(ctx context.Context) {
	now := d.cfg.Now()
	until := now.Add(d.cfg.Lease)
	ended := d.ended.Load()
	hooks, err := d.cfg.Store.ClaimWebhooks(ctx, d.cfg.Owner, now, until, d.cfg.MaxWebhooks)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhooks: claiming leases failed; deliveries stop when the current leases end", "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	stale := d.ended.Load() != ended
	seen := make(map[int64]bool, len(hooks))
	for _, h := range hooks {
		seen[h.ID] = true
		if w, ok := d.workers[h.ID]; ok {
			w.renew(h, until)
			continue
		}
		if stale {
			d.Kick()
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{d: d, id: h.ID, tableID: h.TableID, cancel: cancel, wakeC: make(chan struct{}, 1)}
		w.renew(h, until)
		d.workers[h.ID] = w
		d.running.Store(int64(len(d.workers)))
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			w.run(wctx)
			// Free the lease for the next claim, this node's or another's
			// (a no-op when it was lost or the webhook paused), under the
			// lock: a claim must not lease it again in between, and then
			// see its new lease released.
			d.mu.Lock()
			if d.workers[w.id] == w {
				delete(d.workers, w.id)
				d.running.Store(int64(len(d.workers)))
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = d.cfg.Store.ReleaseWebhook(rctx, w.id, d.cfg.Owner)
			rcancel()
			d.ended.Add(1)
			d.mu.Unlock()
			d.obs.Gone(w.id)
		}()
	}
	for id, w := range d.workers {
		if !seen[id] {
			w.cancel()
			delete(d.workers, id)
		}
	}
	d.running.Store(int64(len(d.workers)))
}

type readKey struct {
	table int64
	after uint64
}

type sharedRead struct {
	done chan struct{}
	evs  []rendered
	err  error
}

// events reads a table's events after an offset, rendered. The webhooks
// of one table, woken together by its new event, ask for the same range:
// they share one read of the outbox and one rendering of its events
// (read-only: each worker slices its own view of it). Those a webhook of
// the table read lately are taken from the table's ring without a read.
func (d *Dispatcher) events(ctx context.Context, table int64, after uint64) ([]rendered, error) {
	if evs := d.kept(table, after, readBatch); len(evs) > 0 {
		return evs, nil
	}
	k := readKey{table, after}
	d.readsMu.Lock()
	r, ok := d.reads[k]
	if !ok {
		r = &sharedRead{done: make(chan struct{})}
		d.reads[k] = r
	}
	d.readsMu.Unlock()
	if ok {
		select {
		case <-r.done:
			return r.evs, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	evs, err := d.cfg.Store.Events(ctx, store.TableStream(table), after, readBatch)
	if err == nil {
		r.evs = d.render(table, evs)
	}
	r.err = err
	d.readsMu.Lock()
	delete(d.reads, k)
	d.readsMu.Unlock()
	close(r.done)
	return r.evs, r.err
}

// worker delivers one webhook while this node leases it.
type worker struct {
	d       *Dispatcher
	id      int64
	tableID int64
	cancel  context.CancelFunc
	wakeC   chan struct{}

	mu    sync.Mutex
	w     store.Webhook // as last claimed: its settings
	until time.Time     // the lease's end
	// delivered is the cursor as this worker moved it (the claim's copy
	// may be older than a move made meanwhile); persisted is what the
	// store has, guarded by flushMu (the worker's own writes and the
	// dispatcher's flush).
	delivered atomic.Uint64
	// checkDead asks the worker to look for dead letters to redeliver: at
	// start, after a change made through this node, and at each renewal
	// (a redelivery asked through another node).
	checkDead atomic.Bool
	flushMu   sync.Mutex
	persisted uint64
	started   bool
	// c and filter are the worker goroutine's own (deliver.go, collect).
	c      *caller
	filter eventFilter
}

func (w *worker) renew(h store.Webhook, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		w.delivered.Store(h.DeliveredOffset)
		w.persisted = h.DeliveredOffset // no flush yet: the worker is not started
		w.started = true
	}
	w.w, w.until = h, until
	w.checkDead.Store(true)
}

// moved reports whether the worker's cursor moved since it was written.
func (w *worker) moved() bool {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	return w.delivered.Load() > w.persisted
}

func (w *worker) hook() store.Webhook {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w
}

// leased reports whether the lease still has a safe margin: a call is not
// begun in its last tenth, so that another node taking it over after it
// ends does not overlap this one.
func (w *worker) leased() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.d.cfg.Now().Before(w.until.Add(-w.d.cfg.Lease / 10))
}

func (w *worker) wake() {
	select {
	case w.wakeC <- struct{}{}:
	default:
	}
}

// readBatch is how many events a worker reads at a time.
const readBatch = 200

func (w *worker) run(ctx context.Context) {
	d := w.d
	poll := time.NewTimer(d.cfg.Poll)
	defer poll.Stop()
	defer func() { // what was delivered since the last flush
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = w.advance(fctx, w.delivered.Load(), nil)
		cancel()
	}()
	var evs []rendered
	var lagAt time.Time
	for ctx.Err() == nil {
		if !w.leased() {
			return
		}
		if !w.checkDead.Swap(false) {
			// nothing asked for
		} else if err := w.redeliver(ctx); err != nil {
			w.checkDead.Store(true)
			w.logErr(ctx, "redelivering dead letters", err)
			if !w.pauseFor(ctx, poll) {
				return
			}
			continue
		}
		h := w.hook()
		from := w.delivered.Load()
		if len(evs) == 0 || evs[0].offset != from+1 {
			var err error
			evs, err = d.events(ctx, h.TableID, from)
			if errors.Is(err, store.ErrPruned) {
				w.pause(ctx, from, fmt.Sprintf("events after %s are no longer in the outbox "+
					"(kept for TABLECAST_WEBHOOK_RETENTION); skip or delete the webhook", EventID(h.TableID, from)), nil)
				return
			}
			if err != nil {
				w.logErr(ctx, "reading events", err)
				if !w.pauseFor(ctx, poll) {
					return
				}
				continue
			}
		}
		if len(evs) == 0 {
			d.obs.Lag(h.ID, 0) // caught up: nothing after the cursor
		} else if now := d.cfg.Now(); now.Sub(lagAt) >= time.Second {
			// Behind: the lag read at most once a second.
			lagAt = now
			if top, err := d.cfg.Store.StreamTop(ctx, store.TableStream(h.TableID)); err == nil && top >= from {
				d.obs.Lag(h.ID, top-from)
			}
		}
		if len(evs) == 0 {
			if !w.pauseFor(ctx, poll) {
				return
			}
			continue
		}
		b, err := w.filter.collect(h, evs)
		if err != nil { // an event that cannot be rendered: a bug; do not spin
			w.pause(ctx, from, "an event could not be rendered: "+err.Error(), nil)
			return
		}
		evs = evs[b.used:]
		if !w.send(ctx, h, from, b) {
			return
		}
	}
}

// pauseFor waits for a wake, the poll interval or the end; false at the end.
func (w *worker) pauseFor(ctx context.Context, t *time.Timer) bool {
	t.Reset(w.d.cfg.Poll)
	select {
	case <-ctx.Done():
		return false
	case <-w.wakeC:
	case <-t.C:
	}
	return true
}

func (w *worker) logErr(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		w.d.log.Warn("webhook: "+what, "webhook", w.id, "err", err)
	}
}

// send delivers a batch and moves the cursor; false when the worker must
// end (stopped, lease lost, webhook paused or gone).
func (w *worker) send(ctx context.Context, h store.Webhook, from uint64, b batch) bool {
	d := w.d
	var dead []store.DeadLetter
	if len(b.payloads) > 0 {
		id, body, err := b.body(h)
		if err != nil {
			w.pause(ctx, from, "an event could not be encoded: "+err.Error(), nil)
			return false
		}
		ok, attempts, err := d.deliver(ctx, w, id, body)
		if err != nil {
			return false
		}
		switch {
		case ok:
			d.obs.Delivered(h.ID, len(b.payloads))
		case h.OnFailure == "skip":
			raw, _ := json.Marshal(attempts)
			for i, p := range b.payloads {
				one := b.one(h, i)
				dead = append(dead, store.DeadLetter{Offset: p.Offset, EventType: p.EventType, Body: one, Attempts: raw})
			}
		default:
			raw, _ := json.Marshal(attempts)
			w.pause(ctx, from, failure(b.payloads[0].Offset, b.payloads[len(b.payloads)-1].Offset, h.TableID, attempts), raw)
			return false
		}
	}
	if len(dead) == 0 {
		w.delivered.Store(b.to) // written by the next flush
		return true
	}
	if err := w.advance(ctx, b.to, dead); err != nil {
		// Another owner or a change made meanwhile: leave it to the
		// next claim.
		w.logErr(ctx, "moving the cursor", err)
		return false
	}
	d.obs.DeadLettered(h.ID, len(dead))
	return true
}

// advance writes the cursor at to now, with dead letters if any.
func (w *worker) advance(ctx context.Context, to uint64, dead []store.DeadLetter) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	if to == w.persisted && len(dead) == 0 {
		return nil
	}
	err := w.d.cfg.Store.AdvanceWebhook(ctx, store.WebhookAdvance{ID: w.id, Owner: w.d.cfg.Owner,
		From: w.persisted, To: to, Dead: dead})
	if err != nil {
		return err
	}
	w.persisted = to
	w.delivered.Store(to)
	return nil
}

// pause stops the webhook at from, says why, and announces it.
func (w *worker) pause(ctx context.Context, from uint64, reason string, attempts json.RawMessage) {
	d := w.d
	h := w.hook()
	if err := w.advance(ctx, from, nil); err != nil {
		w.logErr(ctx, "moving the cursor before a pause", err)
		return
	}
	if err := d.cfg.Store.PauseWebhook(ctx, h.ID, d.cfg.Owner, from, reason, attempts); err != nil {
		w.logErr(ctx, "pausing", err)
		return
	}
	d.obs.Paused(h.ID)
	d.log.Warn("webhook paused", "webhook", h.ID, "table", h.TableID, "reason", reason)
	if d.cfg.Announce != nil {
		h.Status, h.PausedReason, h.DeliveredOffset = store.WebhookPaused, reason, from
		if err := d.cfg.Announce(ctx, h, reason); err != nil {
			w.logErr(ctx, "announcing a pause", err)
		}
	}
}

// redeliver sends the dead letters asked for again, in offset order, each
// with the retry budget; one delivered is deleted, one that fails again
// keeps its new attempts.
func (w *worker) redeliver(ctx context.Context) error {
	d := w.d
	for ctx.Err() == nil {
		dls, err := d.cfg.Store.Redeliveries(ctx, w.id, 20)
		if err != nil || len(dls) == 0 {
			return err
		}
		for _, dl := range dls {
			var p Payload
			if err := json.Unmarshal(dl.Body, &p); err != nil {
				return fmt.Errorf("dead letter %d: %w", dl.ID, err)
			}
			body := []byte(dl.Body)
			if h := w.hook(); h.Batch > 1 {
				body = append(append([]byte{'['}, body...), ']')
			}
			ok, attempts, err := d.deliver(ctx, w, p.EventID, body)
			if err != nil {
				return nil
			}
			var old []Attempt
			_ = json.Unmarshal(dl.Attempts, &old)
			raw, _ := json.Marshal(append(old, attempts...))
			if err := d.cfg.Store.FinishRedelivery(ctx, dl.ID, ok, raw); err != nil {
				return err
			}
			if ok {
				d.obs.Delivered(w.id, 1)
			}
		}
	}
	return nil
}
