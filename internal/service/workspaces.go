package service

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// WorkspaceInput is the body of creating or renaming a workspace.
type WorkspaceInput struct {
	Name string `json:"name"`
}

// MemberInput is the body of adding a member (UserID and Role) or changing
// a member's role (Role only).
type MemberInput struct {
	UserID string     `json:"user_id"`
	Role   store.Role `json:"role"`
}

// maxUserIDLength bounds a user id (a JWT subject) in a membership.
const maxUserIDLength = 256

// ListWorkspaces returns the caller's workspaces with their role in each.
func (s *Service) ListWorkspaces(ctx context.Context, a Actor) ([]event.Workspace, error) {
	var out []event.Workspace
	err := s.read(ctx, func(r store.Reader) error {
		ws, err := r.Workspaces(ctx, a.UserID)
		if err != nil {
			return err
		}
		out = make([]event.Workspace, 0, len(ws))
		for _, w := range ws {
			role, err := r.MemberRole(ctx, w.ID, a.UserID)
			if err != nil {
				return err
			}
			out = append(out, workspaceOut(w, role))
		}
		return nil
	})
	return out, err
}

// CreateWorkspace creates a workspace with the caller as its admin.
func (s *Service) CreateWorkspace(ctx context.Context, a Actor, in WorkspaceInput) (event.Workspace, error) {
	name := strings.TrimSpace(in.Name)
	if err := checkName(nil, "name", name).Err(); err != nil {
		return event.Workspace{}, err
	}
	var out event.Workspace
	err := s.write(ctx, a, func(w *writeTx) error {
		ws, err := w.CreateWorkspace(ctx, name)
		if err != nil {
			return err
		}
		if err := w.AddMember(ctx, store.Member{WorkspaceID: ws.ID, UserID: a.UserID, Role: store.RoleAdmin}); err != nil {
			return err
		}
		out = workspaceOut(ws, store.RoleAdmin)
		return w.emit(store.WorkspaceStream(ws.ID), event.EventWorkspaceCreated, event.WorkspaceCreated{
			WorkspaceMeta: w.workspaceMeta(ws.ID), Workspace: out,
		})
	})
	return out, err
}

// RenameWorkspace renames a workspace (admin).
func (s *Service) RenameWorkspace(ctx context.Context, a Actor, wsID int64, in WorkspaceInput) (event.Workspace, error) {
	name := strings.TrimSpace(in.Name)
	var out event.Workspace
	err := s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		if err := checkName(nil, "name", name).Err(); err != nil {
			return err
		}
		before, err := w.Workspace(ctx, wsID)
		if err != nil {
			return err
		}
		ws, err := w.RenameWorkspace(ctx, wsID, name)
		if err != nil {
			return err
		}
		out = workspaceOut(ws, store.RoleAdmin)
		return w.emit(store.WorkspaceStream(wsID), event.EventWorkspaceUpdated, event.WorkspaceUpdated{
			WorkspaceMeta: w.workspaceMeta(wsID), Workspace: out, WorkspaceBefore: workspaceOut(before, ""),
		})
	})
	return out, err
}

// DeleteWorkspace deletes a workspace with everything in it (admin). Each
// of its tables' streams ends with table_deleted.
func (s *Service) DeleteWorkspace(ctx context.Context, a Actor, wsID int64) error {
	return s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		ws, err := w.Workspace(ctx, wsID)
		if err != nil {
			return err
		}
		tables, err := w.Tables(ctx, wsID)
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(tables))
		for _, t := range tables {
			ids = append(ids, t.ID)
			if err := w.lockTable(t.ID); err != nil {
				return err
			}
			if err := w.emit(store.TableStream(t.ID), event.EventTableDeleted, event.TableDeleted{
				TableMeta: w.tableMeta(t), Table: tableOut(t),
			}); err != nil {
				return err
			}
		}
		if err := w.DeleteWorkspace(ctx, wsID); err != nil {
			return err
		}
		return w.emit(store.WorkspaceStream(wsID), event.EventWorkspaceDeleted, event.WorkspaceDeleted{
			WorkspaceMeta: w.workspaceMeta(wsID), Workspace: workspaceOut(ws, ""), TableIDs: ids,
		})
	})
}

// ListMembers lists a workspace's members (admin).
func (s *Service) ListMembers(ctx context.Context, a Actor, wsID int64) ([]Member, error) {
	var out []Member
	err := s.read(ctx, func(r store.Reader) error {
		if _, err := workspaceRole(ctx, r, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		ms, err := r.Members(ctx, wsID)
		if err != nil {
			return err
		}
		out = make([]Member, len(ms))
		for i, m := range ms {
			out[i] = Member{UserID: m.UserID, Role: m.Role}
		}
		return nil
	})
	return out, err
}

func checkMember(in MemberInput, needUser bool) error {
	var e *table.ValidationError
	if needUser {
		switch {
		case in.UserID == "":
			e = e.Add("user_id", "is required")
		case len(in.UserID) > maxUserIDLength || !utf8.ValidString(in.UserID) || strings.IndexByte(in.UserID, 0) >= 0:
			e = e.Add("user_id", "must be a user id of at most 256 bytes")
		}
	}
	if !in.Role.Valid() {
		e = e.Add("role", "must be admin, editor or viewer")
	}
	return e.Err()
}

// AddMember adds a member to a workspace (admin); ErrConflict if the user is
// a member already.
func (s *Service) AddMember(ctx context.Context, a Actor, wsID int64, in MemberInput) (Member, error) {
	err := s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		if err := checkMember(in, true); err != nil {
			return err
		}
		if _, err := w.MemberRole(ctx, wsID, in.UserID); err == nil {
			return errorf(event.ErrConflict, "user %q is already a member of workspace %d", in.UserID, wsID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := w.AddMember(ctx, store.Member{WorkspaceID: wsID, UserID: in.UserID, Role: in.Role}); err != nil {
			return err
		}
		return w.emit(store.WorkspaceStream(wsID), event.EventMemberAdded, event.MemberChanged{
			WorkspaceMeta: w.workspaceMeta(wsID), UserID: in.UserID, Role: event.Role(in.Role),
		})
	})
	return Member(in), err
}

// otherAdmins reports whether the workspace has an admin other than userID.
func otherAdmins(ctx context.Context, r store.Reader, wsID int64, userID string) (bool, error) {
	ms, err := r.Members(ctx, wsID)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Role == store.RoleAdmin && m.UserID != userID {
			return true, nil
		}
	}
	return false, nil
}

// memberOf reads a member's role; not a member is ErrNotFound.
func memberOf(ctx context.Context, r store.Reader, wsID int64, userID string) (store.Role, error) {
	role, err := r.MemberRole(ctx, wsID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(event.ErrNotFound, "user %q is not a member of workspace %d", userID, wsID)
	}
	return role, err
}

// UpdateMember changes a member's role (admin). The last admin cannot be
// demoted (ErrConflict).
func (s *Service) UpdateMember(ctx context.Context, a Actor, wsID int64, userID string, in MemberInput) (Member, error) {
	err := s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		if err := checkMember(in, false); err != nil {
			return err
		}
		before, err := memberOf(ctx, w, wsID, userID)
		if err != nil {
			return err
		}
		if before == store.RoleAdmin && in.Role != store.RoleAdmin {
			if ok, err := otherAdmins(ctx, w, wsID, userID); err != nil {
				return err
			} else if !ok {
				return errorf(event.ErrConflict, "user %q is the last admin of workspace %d", userID, wsID)
			}
		}
		if err := w.UpdateMember(ctx, store.Member{WorkspaceID: wsID, UserID: userID, Role: in.Role}); err != nil {
			return err
		}
		return w.emit(store.WorkspaceStream(wsID), event.EventMemberUpdated, event.MemberChanged{
			WorkspaceMeta: w.workspaceMeta(wsID), UserID: userID, Role: event.Role(in.Role), RoleBefore: event.Role(before),
		})
	})
	return Member{UserID: userID, Role: in.Role}, err
}

// RemoveMember removes a member (admin); the last admin cannot be removed
// (ErrConflict). The member_removed event is what ends the user's live
// subscriptions to the workspace's tables.
func (s *Service) RemoveMember(ctx context.Context, a Actor, wsID int64, userID string) error {
	return s.write(ctx, a, func(w *writeTx) error {
		if _, err := workspaceRole(ctx, w, a.UserID, wsID, store.RoleAdmin); err != nil {
			return err
		}
		role, err := memberOf(ctx, w, wsID, userID)
		if err != nil {
			return err
		}
		if role == store.RoleAdmin {
			if ok, err := otherAdmins(ctx, w, wsID, userID); err != nil {
				return err
			} else if !ok {
				return errorf(event.ErrConflict, "user %q is the last admin of workspace %d", userID, wsID)
			}
		}
		if err := w.RemoveMember(ctx, wsID, userID); err != nil {
			return err
		}
		tables, err := w.Tables(ctx, wsID)
		if err != nil {
			return err
		}
		ids := make([]int64, len(tables))
		for i, t := range tables {
			ids[i] = t.ID
		}
		return w.emit(store.WorkspaceStream(wsID), event.EventMemberRemoved, event.MemberChanged{
			WorkspaceMeta: w.workspaceMeta(wsID), UserID: userID, Role: event.Role(role), TableIDs: ids,
		})
	})
}
