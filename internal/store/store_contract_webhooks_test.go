package store

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
)

func contractWebhooks(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	st := TableStream(f.table.ID)
	update(t, s, func(ctx context.Context, tx Tx) error {
		for range 3 {
			must(tx.AppendEvent(ctx, st, "e", nil)).get(t)
		}
		return nil
	})
	w := must(s.CreateWebhook(ctx, Webhook{TableID: f.table.ID, URL: "http://x/", Active: true, OnFailure: "pause",
		Batch: 1, Secret: "whsec_a", CreatedBy: "u1", Events: json.RawMessage(`["rows.created"]`)})).get(t)
	if w.ID == 0 || w.Status != WebhookActive || w.DeliveredOffset != 3 || w.LeaseOwner != "" || !w.LeaseUntil.IsZero() {
		t.Fatalf("created %+v: want active at the stream's top (3), no lease", w)
	}
	jsonEqual(t, w.Events, json.RawMessage(`["rows.created"]`), "events")
	jsonEqual(t, w.Headers, json.RawMessage(`{}`), "headers")
	_, err := s.CreateWebhook(ctx, Webhook{TableID: 999999, URL: "u", OnFailure: "skip", Batch: 1})
	wantErr(t, err, ErrNotFound, "webhook of a table that does not exist")

	w.URL, w.OnFailure, w.Batch, w.Headers = "http://y/", "skip", 10, json.RawMessage(`{"a":"b"}`)
	w = must(s.UpdateWebhook(ctx, w)).get(t)
	if w.URL != "http://y/" || w.OnFailure != "skip" || w.Batch != 10 {
		t.Fatalf("updated %+v", w)
	}
	if err := s.SetWebhookSecret(ctx, w.ID, "whsec_b"); err != nil {
		t.Fatal(err)
	}
	if got := must(s.Webhook(ctx, w.ID)).get(t); got.Secret != "whsec_b" {
		t.Fatalf("secret = %q", got.Secret)
	}

	// Leases: one owner at a time, its own renewed, a past one taken over.
	now := time.Now()
	a := must(s.ClaimWebhooks(ctx, "A", now, now.Add(time.Minute), 10)).get(t)
	if len(a) != 1 || a[0].LeaseOwner != "A" {
		t.Fatalf("A claimed %+v", a)
	}
	if b := must(s.ClaimWebhooks(ctx, "B", now, now.Add(time.Minute), 10)).get(t); len(b) != 0 {
		t.Fatalf("B claimed a webhook A leases: %+v", b)
	}
	if a := must(s.ClaimWebhooks(ctx, "A", now, now.Add(time.Minute), 10)).get(t); len(a) != 1 {
		t.Fatalf("A could not renew its lease: %+v", a)
	}
	later := now.Add(2 * time.Minute)
	if b := must(s.ClaimWebhooks(ctx, "B", later, later.Add(time.Minute), 10)).get(t); len(b) != 1 {
		t.Fatalf("B did not take over a past lease: %+v", b)
	}
	// A's compare and set now fails: it no longer owns it.
	err = s.AdvanceWebhook(ctx, WebhookAdvance{ID: w.ID, Owner: "A", From: 3, To: 4})
	wantErr(t, err, ErrConflict, "advance by a former owner")
	err = s.AdvanceWebhook(ctx, WebhookAdvance{ID: w.ID, Owner: "B", From: 2, To: 4})
	wantErr(t, err, ErrConflict, "advance from a wrong offset")
	dead := []DeadLetter{{Offset: 4, EventType: "rows.created", Body: json.RawMessage(`{"x":1}`),
		Attempts: json.RawMessage(`[{"status":500}]`)}}
	if err := s.AdvanceWebhook(ctx, WebhookAdvance{ID: w.ID, Owner: "B", From: 3, To: 4, Dead: dead}); err != nil {
		t.Fatal(err)
	}
	// Several cursors in one transaction: a wrong one is reported, the
	// right ones move.
	conflicts := must(s.AdvanceWebhooks(ctx, []WebhookAdvance{{ID: w.ID, Owner: "B", From: 4, To: 4},
		{ID: w.ID, Owner: "A", From: 4, To: 5}})).get(t)
	if len(conflicts) != 1 || conflicts[0] != w.ID {
		t.Fatalf("conflicts %v, want the former owner's", conflicts)
	}
	dls := must(s.DeadLetters(ctx, w.ID)).get(t)
	if len(dls) != 1 || dls[0].Offset != 4 || dls[0].Redeliver {
		t.Fatalf("dead letters %+v", dls)
	}
	jsonEqual(t, dls[0].Body, json.RawMessage(`{"x":1}`), "dead letter body")

	// Pause, then a skip (advance with Resume) makes it active again.
	err = s.PauseWebhook(ctx, w.ID, "A", 4, "r", nil)
	wantErr(t, err, ErrConflict, "pause by a non-owner")
	if err := s.PauseWebhook(ctx, w.ID, "B", 4, "receiver said 410", json.RawMessage(`[{"status":410}]`)); err != nil {
		t.Fatal(err)
	}
	p := must(s.Webhook(ctx, w.ID)).get(t)
	if p.Status != WebhookPaused || p.PausedReason != "receiver said 410" || p.LeaseOwner != "" {
		t.Fatalf("paused %+v", p)
	}
	if c := must(s.ClaimWebhooks(ctx, "B", later, later.Add(time.Minute), 10)).get(t); len(c) != 0 {
		t.Fatalf("a paused webhook was claimed: %+v", c)
	}
	if err := s.AdvanceWebhook(ctx, WebhookAdvance{ID: w.ID, From: 4, To: 5, Resume: true,
		Dead: []DeadLetter{{Offset: 5, EventType: "rows.updated"}}}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.ResumeWebhook(ctx, w.ID), ErrConflict, "resume an active webhook")

	// Redelivery: asked for, listed, finished either way.
	dls = must(s.DeadLetters(ctx, w.ID)).get(t)
	if got := []uint64{dls[0].Offset, dls[1].Offset}; !slices.Equal(got, []uint64{4, 5}) {
		t.Fatalf("dead letter offsets %v", got)
	}
	if n := must(s.RedeliverDeadLetters(ctx, w.ID, 0)).get(t); n != 2 {
		t.Fatalf("redeliver all = %d", n)
	}
	r := must(s.Redeliveries(ctx, w.ID, 10)).get(t)
	if len(r) != 2 || !r[0].Redeliver {
		t.Fatalf("redeliveries %+v", r)
	}
	if err := s.FinishRedelivery(ctx, r[0].ID, true, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRedelivery(ctx, r[1].ID, false, json.RawMessage(`[{"status":500},{"status":502}]`)); err != nil {
		t.Fatal(err)
	}
	if r := must(s.Redeliveries(ctx, w.ID, 10)).get(t); len(r) != 0 {
		t.Fatalf("redeliveries after finishing %+v", r)
	}
	_, err = s.RedeliverDeadLetters(ctx, w.ID, r[0].ID+1000)
	wantErr(t, err, ErrNotFound, "redeliver a dead letter that does not exist")
	if err := s.DeleteDeadLetter(ctx, w.ID, r[1].ID); err != nil {
		t.Fatal(err)
	}
	if dls := must(s.DeadLetters(ctx, w.ID)).get(t); len(dls) != 0 {
		t.Fatalf("dead letters left %+v", dls)
	}

	// The outbox keeps what the webhook has not delivered (offset 5 is
	// delivered: 6 and 7 are held), up to the hold.
	update(t, s, func(ctx context.Context, tx Tx) error {
		for range 4 {
			must(tx.AppendEvent(ctx, st, "e", nil)).get(t)
		}
		return nil
	})
	var keys []EventKey
	for i := uint64(1); i <= 7; i++ {
		keys = append(keys, EventKey{st, i})
	}
	if err := s.MarkPublished(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	if n := must(s.PruneEvents(ctx, time.Now().Add(time.Hour), time.Now().Add(-time.Hour), 0)).get(t); n != 5 {
		t.Fatalf("pruned %d, want the 5 delivered", n)
	}
	if n := must(s.PruneEvents(ctx, time.Now().Add(time.Hour), time.Now().Add(time.Hour), 0)).get(t); n != 2 {
		t.Fatalf("pruned %d past the hold, want 2", n)
	}

	// Deleting the table deletes its webhooks.
	update(t, s, func(ctx context.Context, tx Tx) error { return tx.DeleteTable(ctx, f.table.ID) })
	_, err = s.Webhook(ctx, w.ID)
	wantErr(t, err, ErrNotFound, "webhook of a deleted table")
	if ws := must(s.TableWebhooks(ctx, f.table.ID)).get(t); len(ws) != 0 {
		t.Fatalf("webhooks of a deleted table: %+v", ws)
	}
}

// contractWebhookHoldsLead: a webhook behind holds its table's events and
// record op log entries from heldLead before the first event it has not
// delivered (a compact event may be completed from them), unless they are
// older than the hold.
func contractWebhookHoldsLead(t *testing.T, s Store) {
	ctx := testCtx(t)
	f := newFixture(t, s)
	st := TableStream(f.table.ID)
	col := "record_" + strconv.FormatInt(f.table.ID, 10)
	appendTwo := func(from int64) {
		update(t, s, func(ctx context.Context, tx Tx) error {
			var ops []DocOp
			for v := from; v < from+2; v++ {
				off := must(tx.AppendEvent(ctx, st, "rows_updated", nil)).get(t)
				ops = append(ops, DocOp{Collection: col, DocID: 1, Version: v, Op: json.RawMessage(`{"op":[]}`), Offset: off})
			}
			return tx.AppendDocOps(ctx, ops)
		})
	}
	appendTwo(1) // offsets 1, 2
	w := must(s.CreateWebhook(ctx, Webhook{TableID: f.table.ID, URL: "http://x/", Active: true, OnFailure: "pause", Batch: 1})).get(t)
	if w.DeliveredOffset != 2 {
		t.Fatalf("webhook created at %d, want 2", w.DeliveredOffset)
	}
	appendTwo(3) // offsets 3, 4: not delivered, written after 1 and 2 (another transaction)
	var keys []EventKey
	for i := uint64(1); i <= 4; i++ {
		keys = append(keys, EventKey{st, i})
	}
	if err := s.MarkPublished(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	versions := func() []int64 {
		var vs []int64
		for _, op := range must(s.DocOps(ctx, col, 1, 0, 10)).get(t) {
			vs = append(vs, op.Version)
		}
		return vs
	}
	all, held := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	tests := []struct {
		name     string
		held     time.Time
		lead     time.Duration
		pruned   int64
		oldest   uint64
		versions []int64
	}{
		{"within the lead", held, time.Hour, 0, 1, []int64{1, 2, 3, 4}},
		{"no lead", held, 0, 2, 3, []int64{3, 4}},
		{"past the hold", all, time.Hour, 2, 5, nil},
	}
	for _, tt := range tests {
		if n := must(s.PruneEvents(ctx, all, tt.held, tt.lead)).get(t); n != tt.pruned {
			t.Fatalf("%s: pruned %d events, want %d", tt.name, n, tt.pruned)
		}
		if old := must(s.OldestEventOffset(ctx, st)).get(t); old != tt.oldest {
			t.Fatalf("%s: oldest event kept %d, want %d", tt.name, old, tt.oldest)
		}
		if got := versions(); !slices.Equal(got, tt.versions) {
			t.Fatalf("%s: op log versions kept %v, want %v", tt.name, got, tt.versions)
		}
	}
}
