package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// AppendEvent takes the stream's next offset from its counter row (an upsert
// that increments and returns it: the row stays locked until the transaction
// ends, so a concurrent writer to the same stream waits and then takes the
// next offset; a rollback undoes the increment) and writes the event.
func (t *sqlTx) AppendEvent(ctx context.Context, s Stream, typ string, payload json.RawMessage) (uint64, error) {
	p, err := checkEvent(s, typ, payload, false)
	if err != nil {
		return 0, err
	}
	what := func() string { return fmt.Sprintf("append %s event to %s", typ, s) }
	var off int64
	if t.d.q.appendEvent != "" {
		err := t.q.queryRow(ctx, t.d.q.appendEvent, int64(s.Kind), s.ID, int64(s.Kind), s.ID, typ, p, t.d.ts(now())).Scan(&off)
		if err != nil {
			return 0, t.d.mapErr(err, what())
		}
		return uint64(off), nil
	}
	if err := t.q.queryRow(ctx, t.d.q.streamNext, int64(s.Kind), s.ID).Scan(&off); err != nil {
		return 0, t.d.mapErr(err, what())
	}
	if _, err := t.q.exec(ctx, t.d.q.eventInsert, int64(s.Kind), s.ID, off, typ, p, t.d.ts(now())); err != nil {
		return 0, t.d.mapErr(err, what())
	}
	return uint64(off), nil
}

// checkEvent checks an event to append and returns its payload as
// stored ({} for none). An encoded payload (NewEvent.Encoded) is checked
// for its first byte only.
func checkEvent(s Stream, typ string, payload json.RawMessage, encoded bool) (string, error) {
	if err := checkStream(s); err != nil {
		return "", err
	}
	if typ == "" {
		return "", fmt.Errorf("%w: empty event type", ErrInvalid)
	}
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return "{}", nil
	}
	if encoded && p[0] == '{' {
		return string(p), nil
	}
	if !json.Valid(p) {
		return "", fmt.Errorf("%w: payload of %s event on %s is not JSON", ErrInvalid, typ, s)
	}
	return string(p), nil
}

// AppendEvents appends the events in their order, as AppendEvent would
// one after another, and returns their offsets; it takes each stream's
// offsets with one statement and writes the events with multi-row
// INSERTs (appendChunk). An invalid event fails the call before anything
// is written.
func (t *sqlTx) AppendEvents(ctx context.Context, evs []NewEvent) ([]uint64, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	payloads := make([]string, len(evs))
	// The streams' counts, in order of first appearance (a batch of
	// submits has one or a few), and each event's among them.
	type count struct {
		s       Stream
		n, next int64
	}
	var counts []count
	streamOf := make([]int, len(evs))
	for i, e := range evs {
		p, err := checkEvent(e.Stream, e.Type, e.Payload, e.Encoded)
		if err != nil {
			return nil, err
		}
		payloads[i] = p
		j := slices.IndexFunc(counts, func(c count) bool { return c.s == e.Stream })
		if j < 0 {
			counts = append(counts, count{s: e.Stream})
			j = len(counts) - 1
		}
		counts[j].n++
		streamOf[i] = j
	}
	for i := range counts {
		c := &counts[i]
		var top int64
		if err := t.q.queryRow(ctx, t.d.q.streamAdd, int64(c.s.Kind), c.s.ID, c.n).Scan(&top); err != nil {
			return nil, t.d.mapErr(err, fmt.Sprintf("take %d offsets of %s", c.n, c.s))
		}
		c.next = top - c.n + 1
	}
	offs := make([]uint64, len(evs))
	for i, j := range streamOf {
		offs[i] = uint64(counts[j].next)
		counts[j].next++
	}
	ts := t.d.ts(now())
	if t.d.q.eventsBulk != "" {
		kinds, ids, offsets, types := make([]int16, len(evs)), make([]int64, len(evs)), make([]int64, len(evs)), make([]string, len(evs))
		for i, e := range evs {
			kinds[i], ids[i], offsets[i], types[i] = int16(e.Stream.Kind), e.Stream.ID, int64(offs[i]), e.Type
		}
		if _, err := t.q.exec(ctx, t.d.q.eventsBulk, ts, kinds, ids, offsets, types, payloads); err != nil {
			return nil, t.d.mapErr(err, fmt.Sprintf("append %d events", len(evs)))
		}
		return offs, nil
	}
	err := t.insertRows(ctx, &t.d.q.eventRows, len(evs), func(args []any, i int) ([]any, error) {
		e := evs[i]
		return append(args, int64(e.Stream.Kind), e.Stream.ID, int64(offs[i]), e.Type, payloads[i], ts), nil
	}, func(start, end int) string {
		return fmt.Sprintf("append %d events to %s", end-start, evs[start].Stream)
	})
	if err != nil {
		return nil, err
	}
	return offs, nil
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
	_, err := r.q.exec(ctx, r.d.q.markPublished, r.d.markPublishedArgs(keyRuns(keys))...)
	return r.d.mapErr(err, fmt.Sprintf("mark %d events published", len(keys)))
}

// keyRun is the events of one stream from offset from to offset to.
type keyRun struct {
	s        Stream
	from, to uint64
}

// keyRuns returns the keys as the fewest runs of consecutive offsets: the
// relay marks what it published, mostly runs of a few streams, so that
// MarkPublished looks up a run, not each event, and reads a few
// parameters, not one per event.
func keyRuns(keys []EventKey) []keyRun {
	k := slices.Clone(keys)
	slices.SortFunc(k, func(a, b EventKey) int {
		if c := cmp.Compare(a.Stream.Kind, b.Stream.Kind); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Stream.ID, b.Stream.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	var runs []keyRun
	for _, e := range k {
		if n := len(runs); n > 0 && runs[n-1].s == e.Stream && runs[n-1].to+1 >= e.Offset {
			runs[n-1].to = max(runs[n-1].to, e.Offset)
			continue
		}
		runs = append(runs, keyRun{s: e.Stream, from: e.Offset, to: e.Offset})
	}
	return runs
}

// pruneBatch is the most events one prune statement deletes, so that no
// transaction grows large and SQLite's single writer is never held long.
const pruneBatch = 5000

func (r relay) prune(ctx context.Context, olderThan, heldOlderThan time.Time, heldLead time.Duration) (int64, error) {
	held, lead := r.d.ts(heldOlderThan.UTC()), heldLead.Microseconds()
	var boundary int64
	if err := r.q.queryRow(ctx, r.d.q.pruneBoundary, r.d.ts(olderThan.UTC())).Scan(&boundary); err != nil {
		return 0, r.d.mapErr(err, "prune events")
	}
	var total int64
	for {
		n, err := r.q.exec(ctx, r.d.q.prune, boundary, held, lead, pruneBatch)
		total += n
		if err != nil {
			return total, r.d.mapErr(err, "prune events")
		}
		if n < pruneBatch {
			break
		}
	}
	// The op log is kept as long as events; it has no publication state.
	if _, err := r.q.exec(ctx, r.d.q.pruneDocOps, r.d.ts(olderThan.UTC()), held, lead); err != nil {
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
