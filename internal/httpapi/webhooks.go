package httpapi

import (
	"net/http"

	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/webhook"
)

// webhookRoutes are the webhook routes (docs/webhooks.md): table admins
// only; a caller who is not a member of the table's workspace gets 404, a
// member with another role 403, as for the table itself.
func (a *StoreAPI) webhookRoutes() map[string]userHandler {
	return map[string]userHandler{
		"GET /api/tables/{t}/webhooks":                        a.listWebhooks,
		"POST /api/tables/{t}/webhooks":                       a.createWebhook,
		"GET /api/webhooks/{id}":                              a.webhook(a.getWebhook),
		"PATCH /api/webhooks/{id}":                            a.webhook(a.updateWebhook),
		"DELETE /api/webhooks/{id}":                           a.webhook(a.deleteWebhook),
		"POST /api/webhooks/{id}/rotate-secret":               a.webhook(a.rotateWebhookSecret),
		"POST /api/webhooks/{id}/resume":                      a.webhook(a.resumeWebhook),
		"POST /api/webhooks/{id}/skip":                        a.webhook(a.skipWebhook),
		"GET /api/webhooks/{id}/dead-letters":                 a.webhook(a.listDeadLetters),
		"POST /api/webhooks/{id}/dead-letters/redeliver":      a.webhook(a.redeliverDeadLetters),
		"POST /api/webhooks/{id}/dead-letters/{dl}/redeliver": a.webhook(a.redeliverDeadLetter),
		"DELETE /api/webhooks/{id}/dead-letters/{dl}":         a.webhook(a.deleteDeadLetter),
	}
}

// webhookHandler is a handler of one webhook the caller administers.
type webhookHandler func(w http.ResponseWriter, r *http.Request, u service.Actor, id int64) (any, error)

// webhook finds the webhook of the path and checks that the caller is an
// admin of its table.
func (a *StoreAPI) webhook(h webhookHandler) userHandler {
	return func(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
		id, err := pathID(r, "id", "webhook")
		if err != nil {
			return nil, err
		}
		tableID, err := a.Webhooks.Table(r.Context(), id)
		if err != nil {
			return nil, err
		}
		if err := a.Service.TableAdmin(r.Context(), u, tableID); err != nil {
			return nil, err
		}
		return h(w, r, u, id)
	}
}

func (a *StoreAPI) tableAdmin(r *http.Request, u service.Actor) (int64, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return 0, err
	}
	return id, a.Service.TableAdmin(r.Context(), u, id)
}

func (a *StoreAPI) listWebhooks(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	t, err := a.tableAdmin(r, u)
	if err != nil {
		return nil, err
	}
	hooks, err := a.Webhooks.List(r.Context(), t)
	return list(hooks), err
}

func (a *StoreAPI) createWebhook(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	t, err := a.tableAdmin(r, u)
	if err != nil {
		return nil, err
	}
	var in webhook.Input
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Webhooks.Create(r.Context(), t, u.UserID, in)
}

func (a *StoreAPI) getWebhook(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	return a.Webhooks.Get(r.Context(), id)
}

func (a *StoreAPI) updateWebhook(w http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	var in webhook.Input
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Webhooks.Update(r.Context(), id, in)
}

func (a *StoreAPI) deleteWebhook(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	return noContent{}, a.Webhooks.Delete(r.Context(), id)
}

func (a *StoreAPI) rotateWebhookSecret(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	return a.Webhooks.RotateSecret(r.Context(), id)
}

func (a *StoreAPI) resumeWebhook(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	return a.Webhooks.Resume(r.Context(), id)
}

func (a *StoreAPI) skipWebhook(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	return a.Webhooks.Skip(r.Context(), id)
}

func (a *StoreAPI) listDeadLetters(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	dls, err := a.Webhooks.DeadLetters(r.Context(), id)
	return list(dls), err
}

type redeliverAnswer struct {
	Redelivering int64 `json:"redelivering"`
}

func (a *StoreAPI) redeliverDeadLetters(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	n, err := a.Webhooks.Redeliver(r.Context(), id, 0)
	return redeliverAnswer{n}, err
}

func (a *StoreAPI) redeliverDeadLetter(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	dl, err := pathID(r, "dl", "dead letter")
	if err != nil {
		return nil, err
	}
	n, err := a.Webhooks.Redeliver(r.Context(), id, dl)
	return redeliverAnswer{n}, err
}

func (a *StoreAPI) deleteDeadLetter(_ http.ResponseWriter, r *http.Request, _ service.Actor, id int64) (any, error) {
	dl, err := pathID(r, "dl", "dead letter")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Webhooks.DeleteDeadLetter(r.Context(), id, dl)
}
