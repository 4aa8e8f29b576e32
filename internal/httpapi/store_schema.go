package httpapi

import (
	"net/http"

	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
)

// Workspaces, members, tables and fields.

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

func (a *StoreAPI) renameWorkspace(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	var in service.WorkspaceInput
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.RenameWorkspace(r.Context(), u, id, in)
}

func (a *StoreAPI) deleteWorkspace(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.DeleteWorkspace(r.Context(), u, id)
}

func (a *StoreAPI) listMembers(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	ms, err := a.Service.ListMembers(r.Context(), u, id)
	return list(ms), err
}

func (a *StoreAPI) addMember(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	var in service.MemberInput
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.AddMember(r.Context(), u, id, in)
}

func (a *StoreAPI) updateMember(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
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
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.RemoveMember(r.Context(), u, id, r.PathValue("user"))
}

func (a *StoreAPI) listTables(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	ts, err := a.Service.ListTables(r.Context(), u, id)
	return list(ts), err
}

func (a *StoreAPI) createTable(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "ws", "workspace")
	if err != nil {
		return nil, err
	}
	var in service.TableInput
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.CreateTable(r.Context(), u, id, in)
}

func (a *StoreAPI) getTable(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	return a.Service.GetTable(r.Context(), u, id)
}

func (a *StoreAPI) updateTable(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	var in service.TablePatch
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.UpdateTable(r.Context(), u, id, in)
}

func (a *StoreAPI) deleteTable(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.DeleteTable(r.Context(), u, id)
}

func (a *StoreAPI) listFields(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	fs, err := a.Service.ListFields(r.Context(), u, id)
	return list(fs), err
}

func (a *StoreAPI) createField(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	var in service.FieldInput
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.CreateField(r.Context(), u, id, in)
}

func (a *StoreAPI) updateField(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "f", "field")
	if err != nil {
		return nil, err
	}
	var in service.FieldPatch
	if err := a.decode(w, r, &in); err != nil {
		return nil, err
	}
	return a.Service.UpdateField(r.Context(), u, id, in)
}

func (a *StoreAPI) deleteField(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "f", "field")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.DeleteField(r.Context(), u, id)
}
