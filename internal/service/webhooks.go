package service

import (
	"context"

	"github.com/tablecast/tablecast/internal/store"
)

// EventWebhookPaused goes to a table's stream when one of its webhooks
// pauses, so that the table's subscribers hear of it in order, with an
// offset like any change.
const EventWebhookPaused = "webhook_paused"

// WebhookPaused is webhook_paused.
type WebhookPaused struct {
	TableMeta
	WebhookID int64  `json:"webhook_id"`
	Reason    string `json:"reason"`
	// Offset is the webhook's delivered offset: it stopped at the event
	// after it.
	Offset uint64 `json:"offset"`
}

// TableAdmin checks that the actor is an admin of the table: ErrNotFound
// when the table does not exist or they are not a member of its
// workspace, ErrForbidden for another role. Webhooks are managed by table
// admins.
func (s *Service) TableAdmin(ctx context.Context, a Actor, tableID int64) error {
	_, _, err := tableAccess(ctx, s.store, a.UserID, tableID, store.RoleAdmin)
	return err
}

// AnnounceWebhookPaused appends webhook_paused to the table's stream and
// publishes it. The actor is the server ("").
func (s *Service) AnnounceWebhookPaused(ctx context.Context, tableID, webhookID int64, offset uint64, reason string) error {
	return s.write(ctx, Actor{}, func(w *writeTx) error {
		t, err := w.Table(ctx, tableID)
		if err != nil {
			return err
		}
		return w.emit(store.TableStream(t.ID), EventWebhookPaused, WebhookPaused{TableMeta: w.tableMeta(t),
			WebhookID: webhookID, Reason: reason, Offset: offset})
	})
}
