package httpapi

import (
	"net/http"
)

type adminHandler = func(*http.Request, http.ResponseWriter) (any, error)

// webhookRoutes are the admin API's webhook routes, for operators (the
// /admin page): every webhook of the server, and what a table admin can do
// to one through the store API but its settings.
func (a *Admin) webhookRoutes() map[string]adminHandler {
	return map[string]adminHandler{
		"GET /api/ws/webhooks": func(r *http.Request, _ http.ResponseWriter) (any, error) {
			hooks, err := a.Webhooks.All(r.Context())
			return list(hooks), storeError(err)
		},
		"GET /api/ws/webhooks/{id}/dead-letters": a.hook(func(r *http.Request, id int64) (any, error) {
			dls, err := a.Webhooks.DeadLetters(r.Context(), id)
			return list(dls), err
		}),
		"POST /api/ws/webhooks/{id}/resume": a.hook(func(r *http.Request, id int64) (any, error) {
			return a.Webhooks.Resume(r.Context(), id)
		}),
		"POST /api/ws/webhooks/{id}/skip": a.hook(func(r *http.Request, id int64) (any, error) {
			return a.Webhooks.Skip(r.Context(), id)
		}),
		"POST /api/ws/webhooks/{id}/dead-letters/redeliver": a.hook(func(r *http.Request, id int64) (any, error) {
			n, err := a.Webhooks.Redeliver(r.Context(), id, 0)
			return redeliverAnswer{n}, err
		}),
		"POST /api/ws/webhooks/{id}/dead-letters/{dl}/redeliver": a.hook(func(r *http.Request, id int64) (any, error) {
			dl, err := pathID(r, "dl", "dead letter")
			if err != nil {
				return nil, err
			}
			n, err := a.Webhooks.Redeliver(r.Context(), id, dl)
			return redeliverAnswer{n}, err
		}),
		"DELETE /api/ws/webhooks/{id}/dead-letters/{dl}": a.hook(func(r *http.Request, id int64) (any, error) {
			dl, err := pathID(r, "dl", "dead letter")
			if err != nil {
				return nil, err
			}
			return map[string]bool{"deleted": true}, a.Webhooks.DeleteDeadLetter(r.Context(), id, dl)
		}),
	}
}

// hook reads the webhook id of the path and maps the manager's errors.
func (a *Admin) hook(h func(r *http.Request, id int64) (any, error)) adminHandler {
	return func(r *http.Request, _ http.ResponseWriter) (any, error) {
		id, err := pathID(r, "id", "webhook")
		if err != nil {
			return nil, err
		}
		if _, err := a.Webhooks.Table(r.Context(), id); err != nil {
			return nil, storeError(err)
		}
		v, err := h(r, id)
		return v, storeError(err)
	}
}
