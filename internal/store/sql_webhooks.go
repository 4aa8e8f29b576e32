package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// sqlWebhooks implements Webhooks for both engines: reads on rd, each
// write in a transaction of tx.
type sqlWebhooks struct {
	whRead querier
	whTx   func(ctx context.Context, fn func(q querier) error) error
	whD    *dialect
}

const (
	webhookCols = `id, table_id, url, events, headers, active, on_failure, batch, secret, status,
		paused_reason, paused_attempts, delivered_offset, created_by, created_at, lease_owner, lease_until`
	deadLetterCols = `id, webhook_id, stream_offset, event_type, body, attempts, redeliver, created_at`
)

// webhookQueries are the expanded statements of sql_webhooks.go.
type webhookQueries struct {
	insert, get, byTable, all, update, secret, del                          string
	claim, release, advance, advanceResume, deadInsert, pause, resume       string
	exists, anyLive, dead, redeliverAll, redeliverOne, redeliveries, dlDone string
	dlRetry, dlDelete                                                       string
}

func (d *dialect) buildWebhooks() {
	x := d.sql
	d.wh = webhookQueries{
		insert: x(`INSERT INTO webhooks (table_id, url, events, headers, active, on_failure, batch, secret,
			status, delivered_offset, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active',
			COALESCE((SELECT last_offset FROM streams WHERE kind = 1 AND id = ?), 0), ?, ?)
			RETURNING ` + webhookCols),
		get:     x(`SELECT ` + webhookCols + ` FROM webhooks WHERE id = ?`),
		byTable: x(`SELECT ` + webhookCols + ` FROM webhooks WHERE table_id = ? ORDER BY id`),
		all:     x(`SELECT ` + webhookCols + ` FROM webhooks ORDER BY id`),
		update: x(`UPDATE webhooks SET url = ?, events = ?, headers = ?, active = ?, on_failure = ?, batch = ?
			WHERE id = ? RETURNING ` + webhookCols),
		secret: x(`UPDATE webhooks SET secret = ? WHERE id = ?`),
		del:    x(`DELETE FROM webhooks WHERE id = ?`),
		claim: x(`UPDATE webhooks SET lease_owner = ?, lease_until = ? WHERE id IN (
			SELECT id FROM webhooks WHERE active = {T} AND status = 'active'
			AND (lease_owner = ? OR lease_owner = '' OR lease_until IS NULL OR lease_until < ?)
			ORDER BY id LIMIT ? ` + d.skipLocked + `) RETURNING ` + webhookCols),
		release: x(`UPDATE webhooks SET lease_owner = '', lease_until = NULL WHERE id = ? AND lease_owner = ?`),
		advance: x(`UPDATE webhooks SET delivered_offset = ?
			WHERE id = ? AND delivered_offset = ? AND lease_owner = ? AND status = 'active'`),
		advanceResume: x(`UPDATE webhooks SET delivered_offset = ?, status = 'active', paused_reason = '',
			paused_attempts = '[]' WHERE id = ? AND delivered_offset = ? AND status = 'paused'`),
		deadInsert: x(`INSERT INTO webhook_dead_letters (webhook_id, stream_offset, event_type, body, attempts,
			redeliver, created_at) VALUES (?, ?, ?, ?, ?, {F}, ?)`),
		pause: x(`UPDATE webhooks SET status = 'paused', paused_reason = ?, paused_attempts = ?,
			lease_owner = '', lease_until = NULL
			WHERE id = ? AND lease_owner = ? AND delivered_offset = ? AND status = 'active'`),
		resume: x(`UPDATE webhooks SET status = 'active', paused_reason = '', paused_attempts = '[]'
			WHERE id = ? AND status = 'paused'`),
		exists:  x(`SELECT COUNT(*) FROM webhooks WHERE id = ?`),
		anyLive: x(`SELECT COUNT(*) FROM (SELECT 1 FROM webhooks WHERE active = {T} AND status = 'active' LIMIT 1) AS w`),
		dead: x(`SELECT ` + deadLetterCols + ` FROM webhook_dead_letters WHERE webhook_id = ?
			ORDER BY stream_offset, id`),
		redeliverAll: x(`UPDATE webhook_dead_letters SET redeliver = {T} WHERE webhook_id = ?`),
		redeliverOne: x(`UPDATE webhook_dead_letters SET redeliver = {T} WHERE webhook_id = ? AND id = ?`),
		redeliveries: x(`SELECT ` + deadLetterCols + ` FROM webhook_dead_letters
			WHERE webhook_id = ? AND redeliver = {T} ORDER BY stream_offset, id LIMIT ?`),
		dlDone:   x(`DELETE FROM webhook_dead_letters WHERE id = ?`),
		dlRetry:  x(`UPDATE webhook_dead_letters SET attempts = ?, redeliver = {F} WHERE id = ?`),
		dlDelete: x(`DELETE FROM webhook_dead_letters WHERE webhook_id = ? AND id = ?`),
	}
}

// nullTS scans a nullable time; NULL is the zero time.
type nullTS struct{ t *time.Time }

func (d nullTS) Scan(v any) error {
	if v == nil {
		*d.t = time.Time{}
		return nil
	}
	return tsDest(d).Scan(v)
}

func scanWebhook(s scanner) (w Webhook, err error) {
	var events, headers, attempts []byte
	var off int64
	err = s.Scan(&w.ID, &w.TableID, &w.URL, &events, &headers, &w.Active, &w.OnFailure, &w.Batch, &w.Secret,
		&w.Status, &w.PausedReason, &attempts, &off, &w.CreatedBy, tsDest{&w.CreatedAt}, &w.LeaseOwner,
		nullTS{&w.LeaseUntil})
	w.Events, w.Headers, w.PausedAttempts, w.DeliveredOffset = events, headers, attempts, uint64(off)
	return w, err
}

func scanDeadLetter(s scanner) (dl DeadLetter, err error) {
	var body, attempts []byte
	var off int64
	err = s.Scan(&dl.ID, &dl.WebhookID, &off, &dl.EventType, &body, &attempts, &dl.Redeliver, tsDest{&dl.CreatedAt})
	dl.Offset, dl.Body, dl.Attempts = uint64(off), body, attempts
	return dl, err
}

func jsonOr(v json.RawMessage, empty string) string {
	if len(v) == 0 {
		return empty
	}
	return string(v)
}

func (s sqlWebhooks) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	var out Webhook
	err := s.whTx(ctx, func(q querier) error {
		var err error
		out, err = scanWebhook(q.queryRow(ctx, s.whD.wh.insert, w.TableID, w.URL, jsonOr(w.Events, `["*"]`),
			jsonOr(w.Headers, `{}`), w.Active, w.OnFailure, w.Batch, w.Secret, w.TableID, w.CreatedBy,
			s.whD.ts(now())))
		return err
	})
	return out, s.whD.mapErr(err, fmt.Sprintf("webhook of table %d", w.TableID))
}

func (s sqlWebhooks) Webhook(ctx context.Context, id int64) (Webhook, error) {
	w, err := scanWebhook(s.whRead.queryRow(ctx, s.whD.wh.get, id))
	return w, s.whD.mapErr(err, fmt.Sprintf("webhook %d", id))
}

func (s sqlWebhooks) TableWebhooks(ctx context.Context, tableID int64) ([]Webhook, error) {
	ws, err := queryAll(ctx, s.whRead, scanWebhook, s.whD.wh.byTable, tableID)
	return ws, s.whD.mapErr(err, fmt.Sprintf("webhooks of table %d", tableID))
}

func (s sqlWebhooks) AllWebhooks(ctx context.Context) ([]Webhook, error) {
	ws, err := queryAll(ctx, s.whRead, scanWebhook, s.whD.wh.all)
	return ws, s.whD.mapErr(err, "webhooks")
}

func (s sqlWebhooks) UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	var out Webhook
	err := s.whTx(ctx, func(q querier) error {
		var err error
		out, err = scanWebhook(q.queryRow(ctx, s.whD.wh.update, w.URL, jsonOr(w.Events, `["*"]`),
			jsonOr(w.Headers, `{}`), w.Active, w.OnFailure, w.Batch, w.ID))
		return err
	})
	return out, s.whD.mapErr(err, fmt.Sprintf("webhook %d", w.ID))
}

// execOne runs a statement that must change one row: none is ErrNotFound
// when the webhook does not exist, else ErrConflict.
func (s sqlWebhooks) execOne(ctx context.Context, q querier, webhookID int64, what, sql string, args ...any) error {
	n, err := q.exec(ctx, sql, args...)
	if err != nil {
		return s.whD.mapErr(err, what)
	}
	if n > 0 {
		return nil
	}
	var c int64
	if err := q.queryRow(ctx, s.whD.wh.exists, webhookID).Scan(&c); err != nil {
		return s.whD.mapErr(err, what)
	}
	if c == 0 {
		return fmt.Errorf("%w: webhook %d", ErrNotFound, webhookID)
	}
	return fmt.Errorf("%w: %s: the webhook changed meanwhile", ErrConflict, what)
}

func (s sqlWebhooks) SetWebhookSecret(ctx context.Context, id int64, secret string) error {
	return s.whTx(ctx, func(q querier) error {
		return s.execOne(ctx, q, id, "webhook secret", s.whD.wh.secret, secret, id)
	})
}

func (s sqlWebhooks) DeleteWebhook(ctx context.Context, id int64) error {
	return s.whTx(ctx, func(q querier) error {
		return s.execOne(ctx, q, id, "delete webhook", s.whD.wh.del, id)
	})
}

func (s sqlWebhooks) ClaimWebhooks(ctx context.Context, owner string, at, until time.Time, limit int) ([]Webhook, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	// Most nodes of most servers have no webhook to deliver: a read finds
	// it out without taking SQLite's one writer.
	var live int64
	if err := s.whRead.queryRow(ctx, s.whD.wh.anyLive).Scan(&live); err != nil {
		return nil, s.whD.mapErr(err, "claim webhooks")
	}
	if live == 0 {
		return nil, nil
	}
	var out []Webhook
	err := s.whTx(ctx, func(q querier) error {
		var err error
		out, err = queryAll(ctx, q, scanWebhook, s.whD.wh.claim, owner, s.whD.ts(until.UTC()), owner,
			s.whD.ts(at.UTC()), limit)
		return err
	})
	return out, s.whD.mapErr(err, "claim webhooks")
}

func (s sqlWebhooks) ReleaseWebhook(ctx context.Context, id int64, owner string) error {
	return s.whTx(ctx, func(q querier) error {
		_, err := q.exec(ctx, s.whD.wh.release, id, owner)
		return s.whD.mapErr(err, "release webhook")
	})
}

func (s sqlWebhooks) AdvanceWebhook(ctx context.Context, a WebhookAdvance) error {
	if a.To < a.From {
		return fmt.Errorf("%w: webhook %d: cannot move back from %d to %d", ErrInvalid, a.ID, a.From, a.To)
	}
	return s.whTx(ctx, func(q querier) error {
		what := fmt.Sprintf("advance webhook %d", a.ID)
		var err error
		if a.Resume {
			err = s.execOne(ctx, q, a.ID, what, s.whD.wh.advanceResume, int64(a.To), a.ID, int64(a.From))
		} else {
			err = s.execOne(ctx, q, a.ID, what, s.whD.wh.advance, int64(a.To), a.ID, int64(a.From), a.Owner)
		}
		if err != nil {
			return err
		}
		at := s.whD.ts(now())
		for _, dl := range a.Dead {
			if _, err := q.exec(ctx, s.whD.wh.deadInsert, a.ID, int64(dl.Offset), dl.EventType,
				jsonOr(dl.Body, `{}`), jsonOr(dl.Attempts, `[]`), at); err != nil {
				return s.whD.mapErr(err, what)
			}
		}
		return nil
	})
}

func (s sqlWebhooks) AdvanceWebhooks(ctx context.Context, as []WebhookAdvance) ([]int64, error) {
	if len(as) == 0 {
		return nil, nil
	}
	var conflicts []int64
	err := s.whTx(ctx, func(q querier) error {
		conflicts = conflicts[:0]
		for _, a := range as {
			if a.To < a.From || a.Resume || len(a.Dead) > 0 {
				return fmt.Errorf("%w: webhook %d: AdvanceWebhooks moves leased cursors forward, without dead letters", ErrInvalid, a.ID)
			}
			n, err := q.exec(ctx, s.whD.wh.advance, int64(a.To), a.ID, int64(a.From), a.Owner)
			if err != nil {
				return s.whD.mapErr(err, "advance webhooks")
			}
			if n == 0 {
				conflicts = append(conflicts, a.ID)
			}
		}
		return nil
	})
	return conflicts, err
}

func (s sqlWebhooks) PauseWebhook(ctx context.Context, id int64, owner string, at uint64, reason string, attempts json.RawMessage) error {
	return s.whTx(ctx, func(q querier) error {
		return s.execOne(ctx, q, id, fmt.Sprintf("pause webhook %d", id), s.whD.wh.pause, reason,
			jsonOr(attempts, `[]`), id, owner, int64(at))
	})
}

func (s sqlWebhooks) ResumeWebhook(ctx context.Context, id int64) error {
	return s.whTx(ctx, func(q querier) error {
		return s.execOne(ctx, q, id, fmt.Sprintf("resume webhook %d", id), s.whD.wh.resume, id)
	})
}

func (s sqlWebhooks) DeadLetters(ctx context.Context, webhookID int64) ([]DeadLetter, error) {
	dls, err := queryAll(ctx, s.whRead, scanDeadLetter, s.whD.wh.dead, webhookID)
	return dls, s.whD.mapErr(err, fmt.Sprintf("dead letters of webhook %d", webhookID))
}

func (s sqlWebhooks) RedeliverDeadLetters(ctx context.Context, webhookID, dl int64) (int64, error) {
	var n int64
	err := s.whTx(ctx, func(q querier) error {
		var err error
		if dl > 0 {
			n, err = q.exec(ctx, s.whD.wh.redeliverOne, webhookID, dl)
			if err == nil && n == 0 {
				return fmt.Errorf("%w: dead letter %d of webhook %d", ErrNotFound, dl, webhookID)
			}
		} else {
			n, err = q.exec(ctx, s.whD.wh.redeliverAll, webhookID)
		}
		return s.whD.mapErr(err, "redeliver dead letters")
	})
	return n, err
}

func (s sqlWebhooks) Redeliveries(ctx context.Context, webhookID int64, limit int) ([]DeadLetter, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	dls, err := queryAll(ctx, s.whRead, scanDeadLetter, s.whD.wh.redeliveries, webhookID, limit)
	return dls, s.whD.mapErr(err, "redeliveries")
}

func (s sqlWebhooks) FinishRedelivery(ctx context.Context, dl int64, delivered bool, attempts json.RawMessage) error {
	return s.whTx(ctx, func(q querier) error {
		var err error
		if delivered {
			_, err = q.exec(ctx, s.whD.wh.dlDone, dl)
		} else {
			_, err = q.exec(ctx, s.whD.wh.dlRetry, jsonOr(attempts, `[]`), dl)
		}
		return s.whD.mapErr(err, fmt.Sprintf("dead letter %d", dl))
	})
}

func (s sqlWebhooks) DeleteDeadLetter(ctx context.Context, webhookID, dl int64) error {
	return s.whTx(ctx, func(q querier) error {
		n, err := q.exec(ctx, s.whD.wh.dlDelete, webhookID, dl)
		if err == nil && n == 0 {
			return fmt.Errorf("%w: dead letter %d of webhook %d", ErrNotFound, dl, webhookID)
		}
		return s.whD.mapErr(err, fmt.Sprintf("dead letter %d", dl))
	})
}
