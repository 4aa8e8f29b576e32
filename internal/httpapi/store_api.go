package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/table"
	"github.com/tablecast/tablecast/internal/webhook"
)

// StoreAPI serves the table store's REST API of http-api.md (Store):
// workspaces, members, tables, fields, rows and views for users with a JWT,
// and the public view routes for anyone. Handlers parse and answer; the
// Service checks roles, validates, writes and publishes.
type StoreAPI struct {
	Service  *service.Service
	Verifier *auth.Verifier
	MaxBody  int64 // default 1 MiB
	Logger   *slog.Logger
	// Webhooks, when set, serves the webhook routes (webhooks.go).
	Webhooks *webhook.Manager
}

// Answers of the store API: every list is {"results":[...],"next_cursor":null}
// but rows, which page.
type listAnswer[T any] struct {
	Results    []T     `json:"results"`
	NextCursor *string `json:"next_cursor"`
}

func list[T any](items []T) listAnswer[T] {
	if items == nil {
		items = []T{}
	}
	return listAnswer[T]{Results: items}
}

// noContent is the answer of a handler that has nothing to say (204).
type noContent struct{}

// maxOriginLength bounds the X-WebSocket-Id header.
const maxOriginLength = 128

type userHandler func(w http.ResponseWriter, r *http.Request, a service.Actor) (any, error)

type publicHandler func(w http.ResponseWriter, r *http.Request) (any, error)

// Register mounts the store routes on mux, with a JSON 404 or 405 for any
// other method or path under /api/workspaces, /api/tables, /api/fields and
// /api/views.
func (a *StoreAPI) Register(mux Mux) {
	if a.MaxBody <= 0 {
		a.MaxBody = 1 << 20
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	users := map[string]userHandler{
		"GET /api/workspaces":                        a.listWorkspaces,
		"POST /api/workspaces":                       a.createWorkspace,
		"PATCH /api/workspaces/{ws}":                 bodyByID(a, pathWorkspace, a.Service.RenameWorkspace),
		"DELETE /api/workspaces/{ws}":                deleteByID(pathWorkspace, a.Service.DeleteWorkspace),
		"GET /api/workspaces/{ws}/members":           listByID(pathWorkspace, a.Service.ListMembers),
		"POST /api/workspaces/{ws}/members":          bodyByID(a, pathWorkspace, a.Service.AddMember),
		"PATCH /api/workspaces/{ws}/members/{user}":  a.updateMember,
		"DELETE /api/workspaces/{ws}/members/{user}": a.removeMember,
		"GET /api/workspaces/{ws}/tables":            listByID(pathWorkspace, a.Service.ListTables),
		"POST /api/workspaces/{ws}/tables":           bodyByID(a, pathWorkspace, a.Service.CreateTable),
		"GET /api/tables/{t}":                        getByID(pathTable, a.Service.GetTable),
		"PATCH /api/tables/{t}":                      bodyByID(a, pathTable, a.Service.UpdateTable),
		"DELETE /api/tables/{t}":                     deleteByID(pathTable, a.Service.DeleteTable),
		"GET /api/tables/{t}/fields":                 listByID(pathTable, a.Service.ListFields),
		"POST /api/tables/{t}/fields":                bodyByID(a, pathTable, a.Service.CreateField),
		"PATCH /api/fields/{f}":                      bodyByID(a, pathField, a.Service.UpdateField),
		"DELETE /api/fields/{f}":                     deleteByID(pathField, a.Service.DeleteField),
		"GET /api/tables/{t}/rows":                   a.listRows,
		"POST /api/tables/{t}/rows":                  a.createRows,
		"PATCH /api/tables/{t}/rows":                 a.updateRows,
		"POST /api/tables/{t}/rows/delete":           a.deleteRows,
		"GET /api/tables/{t}/rows/{r}":               a.getRow,
		"PATCH /api/tables/{t}/rows/{r}":             a.updateRow,
		"DELETE /api/tables/{t}/rows/{r}":            a.deleteRow,
		"GET /api/tables/{t}/views":                  listByID(pathTable, a.Service.ListViews),
		"POST /api/tables/{t}/views":                 bodyByID(a, pathTable, a.Service.CreateView),
		"PATCH /api/views/{v}":                       bodyByID(a, pathView, a.Service.UpdateView),
		"DELETE /api/views/{v}":                      deleteByID(pathView, a.Service.DeleteView),
	}
	prefixes := []string{"/api/workspaces", "/api/workspaces/", "/api/tables/", "/api/fields/", "/api/views/"}
	if a.Webhooks != nil {
		for pattern, h := range a.webhookRoutes() {
			users[pattern] = h
		}
		prefixes = append(prefixes, "/api/webhooks/")
	}
	public := map[string]publicHandler{
		"GET /api/views/{slug}/public/rows":  a.publicRows,
		"POST /api/views/{slug}/public/auth": a.publicAuth,
	}
	known := http.NewServeMux() // the routes alone, to tell 405 from 404
	for pattern, h := range users {
		mux.Handle(pattern, a.user(h))
		known.Handle(pattern, http.NotFoundHandler())
	}
	for pattern, h := range public {
		mux.Handle(pattern, a.public(h))
		known.Handle(pattern, http.NotFoundHandler())
	}
	fallback := a.fallback(known)
	for _, prefix := range prefixes {
		mux.Handle(prefix, fallback)
	}
}

// fallback answers a path no route takes: 405 with Allow when another method
// has a route there, else 404.
func (a *StoreAPI) fallback(known *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := known.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, a.Logger, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
				message: r.Method + " is not allowed here; use " + strings.Join(allow, ", ")})
			return
		}
		writeError(w, a.Logger, &apiError{status: http.StatusNotFound, code: "not_found", message: "no such endpoint"})
	})
}

// user authenticates the caller and runs h.
func (a *StoreAPI) user(h userHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := a.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tablecast"`)
			writeError(w, a.Logger, err)
			return
		}
		v, err := h(w, r, actor)
		a.answer(w, v, err)
	})
}

func (a *StoreAPI) public(h publicHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r)
		a.answer(w, v, err)
	})
}

func (a *StoreAPI) answer(w http.ResponseWriter, v any, err error) {
	switch {
	case err != nil:
		writeError(w, a.Logger, storeError(err))
	case v == any(noContent{}):
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func unauthorized(code, msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: code, message: msg}
}

// bearer returns the token of an Authorization: Bearer header, or "".
func bearer(r *http.Request) string { return auth.BearerToken(r.Header.Get("Authorization")) }

// authenticate verifies the JWT and reads the origin header.
func (a *StoreAPI) authenticate(r *http.Request) (service.Actor, error) {
	token := bearer(r)
	if token == "" {
		return service.Actor{}, unauthorized("unauthorized", "send your token as Authorization: Bearer <JWT>")
	}
	claims, err := a.Verifier.Verify(token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return service.Actor{}, unauthorized("token_expired", "the token has expired")
	case errors.Is(err, auth.ErrKeysUnavailable):
		return service.Actor{}, &apiError{status: http.StatusServiceUnavailable, code: "keys_unavailable",
			message: "the token's signing keys cannot be fetched now; try again later"}
	case err != nil:
		return service.Actor{}, unauthorized("unauthorized", "the token is not valid")
	}
	origin := r.Header.Get("X-WebSocket-Id")
	if origin == "" {
		origin = r.Header.Get("WebSocketId")
	}
	if len(origin) > maxOriginLength {
		return service.Actor{}, badRequest(map[string]string{"X-WebSocket-Id": "at most " + strconv.Itoa(maxOriginLength) + " bytes"})
	}
	return service.Actor{UserID: claims.Subject, Origin: origin}, nil
}

// storeError turns a service error into its HTTP answer.
func storeError(err error) error {
	var ve *table.ValidationError
	if errors.As(err, &ve) {
		return badRequest(ve.Details)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	msg := func(def string) string {
		var se *event.Error
		if errors.As(err, &se) {
			return se.Message
		}
		return def
	}
	switch {
	case errors.Is(err, event.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "not_found", message: msg("not found")}
	case errors.Is(err, event.ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: "forbidden", message: msg("your role does not allow this")}
	case errors.Is(err, event.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", message: msg("the change conflicts with the current state")}
	case errors.Is(err, event.ErrUnauthorized):
		return &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: msg("not authorised")}
	}
	return err
}

// pathID reads a positive integer id from the path; anything else names
// nothing (404).
func pathID(r *http.Request, name, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{status: http.StatusNotFound, code: "not_found", message: what + " " + strconv.Quote(r.PathValue(name)) + " does not exist"}
	}
	return id, nil
}

// queryInt reads an optional integer query parameter into details on error.
func queryInt(r *http.Request, name string, details map[string]string) int64 {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		details[name] = "must be an integer"
	}
	return n
}

// decode reads the JSON body into v (see decodeBody).
func (a *StoreAPI) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, a.MaxBody, v)
}
