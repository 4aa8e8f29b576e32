package httpapi

import (
	"context"
	"net/http"

	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
)

// Workspaces, members, tables, fields and views: most routes name one by
// the id in their path and call the service with it (and the body, for a
// create or an update), so their handlers are made by the functions below.

// idParam is a path parameter holding an id, and what it names (for the
// 404 of a malformed one).
type idParam struct{ name, what string }

var (
	pathWorkspace = idParam{"ws", "workspace"}
	pathTable     = idParam{"t", "table"}
	pathField     = idParam{"f", "field"}
	pathView      = idParam{"v", "view"}
)

// read reads the id of p from the path.
func (p idParam) read(r *http.Request) (int64, error) { return pathID(r, p.name, p.what) }

// getByID answers what call returns for the id.
func getByID[R any](p idParam, call func(context.Context, service.Actor, int64) (R, error)) userHandler {
	return func(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
		id, err := p.read(r)
		if err != nil {
			return nil, err
		}
		return call(r.Context(), u, id)
	}
}

// listByID answers the list call returns for the id.
func listByID[T any](p idParam, call func(context.Context, service.Actor, int64) ([]T, error)) userHandler {
	return func(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
		id, err := p.read(r)
		if err != nil {
			return nil, err
		}
		items, err := call(r.Context(), u, id)
		return list(items), err
	}
}

// deleteByID answers 204 once call has deleted what the id names.
func deleteByID(p idParam, call func(context.Context, service.Actor, int64) error) userHandler {
	return func(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
		id, err := p.read(r)
		if err != nil {
			return nil, err
		}
		return noContent{}, call(r.Context(), u, id)
	}
}

// bodyByID answers what call returns for the id and the JSON body.
func bodyByID[In, R any](a *StoreAPI, p idParam, call func(context.Context, service.Actor, int64, In) (R, error)) userHandler {
	return func(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
		id, err := p.read(r)
		if err != nil {
			return nil, err
		}
		var in In
		if err := a.decode(w, r, &in); err != nil {
			return nil, err
		}
		return call(r.Context(), u, id, in)
	}
}

func (a *StoreAPI) listWorkspaces(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	ws, err := a.Service.ListWorkspaces(r.Context(), u)
	return list(ws), err
}

func (a *StoreAPI) createWorkspace(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	var in service.WorkspaceInput
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.CreateWorkspace(r.Context(), u, in)
}

func (a *StoreAPI) updateMember(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathWorkspace.read(r)
	if err != nil {
		return nil, err
	}
	var in struct {
		Role store.Role `json:"role"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.UpdateMember(r.Context(), u, id, r.PathValue("user"), service.MemberInput{Role: in.Role})
}

func (a *StoreAPI) removeMember(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathWorkspace.read(r)
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.RemoveMember(r.Context(), u, id, r.PathValue("user"))
}
