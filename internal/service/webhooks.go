package service

import (
	"context"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

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
		return w.emit(store.TableStream(t.ID), event.EventWebhookPaused, event.WebhookPaused{TableMeta: w.tableMeta(t),
			WebhookID: webhookID, Reason: reason, Offset: offset})
	})
}
