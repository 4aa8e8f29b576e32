package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// AppendEvent takes the stream's next offset from its counter row (an upsert
// that increments and returns it: the row stays locked until the transaction
// ends, so a concurrent writer to the same stream waits and then takes the
// next offset; a rollback undoes the increment) and writes the event.
func (t *sqlTx) AppendEvent(ctx context.Context, s Stream, typ string, payload json.RawMessage) (uint64, error) {
	if err := checkStream(s); err != nil {
		return 0, err
	}
	if typ == "" {
		return 0, fmt.Errorf("%w: empty event type", ErrInvalid)
	}
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		p = []byte("{}")
	} else if !json.Valid(p) {
		return 0, fmt.Errorf("%w: payload of %s event on %s is not JSON", ErrInvalid, typ, s)
	}
	what := fmt.Sprintf("append %s event to %s", typ, s)
	var off int64
	if t.d.q.appendEvent != "" {
		err := t.q.queryRow(ctx, t.d.q.appendEvent, int64(s.Kind), s.ID, int64(s.Kind), s.ID, typ, string(p), t.d.ts(now())).Scan(&off)
		return uint64(off), t.d.mapErr(err, what)
	}
	if err := t.q.queryRow(ctx, t.d.q.streamNext, int64(s.Kind), s.ID).Scan(&off); err != nil {
		return 0, t.d.mapErr(err, what)
	}
	if _, err := t.q.exec(ctx, t.d.q.eventInsert, int64(s.Kind), s.ID, off, typ, string(p), t.d.ts(now())); err != nil {
		return 0, t.d.mapErr(err, what)
	}
	return uint64(off), nil
}

// relay holds the outbox operations that run outside Update, on a querier
// that autocommits each statement.
type relay struct {
	q querier
	d *dialect
}

func (r relay) unpublished(ctx context.Context, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	evs, err := queryAll(ctx, r.q, scanEvent, r.d.q.unpublished, limit)
	return evs, r.d.mapErr(err, "unpublished events")
}

func (r relay) markPublished(ctx context.Context, keys []EventKey) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := r.q.exec(ctx, r.d.q.markPublished, r.d.markPublishedArgs(keys)...)
	return r.d.mapErr(err, fmt.Sprintf("mark %d events published", len(keys)))
}

// pruneBatch is the most events one prune statement deletes, so that no
// transaction grows large and SQLite's single writer is never held long.
const pruneBatch = 5000

func (r relay) prune(ctx context.Context, olderThan, heldOlderThan time.Time) (int64, error) {
	var boundary int64
	if err := r.q.queryRow(ctx, r.d.q.pruneBoundary, r.d.ts(olderThan.UTC())).Scan(&boundary); err != nil {
		return 0, r.d.mapErr(err, "prune events")
	}
	var total int64
	for {
		n, err := r.q.exec(ctx, r.d.q.prune, boundary, r.d.ts(heldOlderThan.UTC()), pruneBatch)
		total += n
		if err != nil {
			return total, r.d.mapErr(err, "prune events")
		}
		if n < pruneBatch {
			break
		}
	}
	// The op log is kept as long as events; it has no publication state.
	if _, err := r.q.exec(ctx, r.d.q.pruneDocOps, r.d.ts(olderThan.UTC())); err != nil {
		return total, r.d.mapErr(err, "prune op log")
	}
	return total, nil
}

// maxAttempts bounds Update's retries of transient conflicts.
const maxAttempts = 8

// retryTx runs attempt until it succeeds, fails with an error that is not
// retryable, or maxAttempts have failed; it waits a little, with jitter,
// between attempts.
func retryTx(ctx context.Context, retryable func(error) bool, attempt func() error) error {
	backoff := time.Millisecond
	for i := 1; ; i++ {
		err := attempt()
		if err == nil || i >= maxAttempts || !retryable(err) || ctx.Err() != nil {
			if err != nil && i >= maxAttempts && retryable(err) {
				return fmt.Errorf("store: transaction failed %d times: %w", i, err)
			}
			return err
		}
		d := backoff/2 + rand.N(backoff)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}
