package baserow

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// Every signed-in socket follows the workspaces its user is a member of,
// as Baserow tells every member of a workspace about its tables and
// members (not only the sockets on a table's page). The subscription is
// on br/ws/W, the stream workspace:W, made when the socket connects and
// when its user is added to a workspace, ended when the user is removed.
// It is not a page: the client never names it, it is never discarded.
//
// Messages rendered from it carry no _event_id: that id is a table
// stream's offset, and a workspace stream's would mislead a client's
// replay.
const workspacePrefix = "br/ws/"

func workspaceCollection(w int64) string { return workspacePrefix + strconv.FormatInt(w, 10) }

// workspaceOfCollection reads the workspace id of br/ws/W.
func workspaceOfCollection(collection string) (int64, bool) {
	rest, ok := strings.CutPrefix(collection, workspacePrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != rest {
		return 0, false
	}
	return n, true
}

// followWorkspaces subscribes a signed-in socket to its user's
// workspaces. A failure leaves the socket without workspace messages (its
// pages work as before); it is logged.
func (s *session) followWorkspaces(ctx context.Context) {
	ids, err := s.srv.cfg.Store.UserWorkspaces(ctx, s.userID)
	if err != nil {
		s.srv.log.Error("baserow: the socket's workspaces could not be read; it gets no workspace messages", "err", err)
		return
	}
	for _, id := range ids {
		s.follow(ctx, id, nil)
	}
}

// follow subscribes the socket to a workspace; reply, when set, is sent
// once the subscription is in place, before any message of it.
func (s *session) follow(ctx context.Context, workspaceID int64, reply []byte) {
	req := hub.SubscribeRequest{Collection: workspaceCollection(workspaceID)}
	if reply != nil {
		req.Reply = func(hub.SubscribeResult) []byte { return reply }
	}
	if _, err := s.srv.hub.Subscribe(ctx, s.conn, req); err != nil {
		s.srv.log.Debug("baserow: workspace not followed", "workspace", workspaceID, "err", err)
	}
}

// renderWorkspace renders an event of a workspace's stream for the
// members' sockets: Baserow's table_created, table_updated,
// table_deleted, group_updated, group_deleted and group_user_added,
// _updated, _deleted. Other events are not rendered.
func renderWorkspace(p *hub.Publication, workspaceID int64) ([]hub.Output, error) {
	var w buf
	switch p.Event {
	case event.EventTableCreated:
		var e event.TableCreated
		if err := json.Unmarshal(p.Data, &e); err != nil {
			return nil, err
		}
		w.open(event.EventTableCreated)
		w.key("table")
		if err := w.value(tableOut(e.Table)); err != nil {
			return nil, err
		}
	case event.EventTableUpdated:
		var e event.TableUpdated
		if err := json.Unmarshal(p.Data, &e); err != nil {
			return nil, err
		}
		w.open(event.EventTableUpdated)
		w.key("table_id")
		w.int(e.Table.ID)
		w.key("table")
		if err := w.value(tableOut(e.Table)); err != nil {
			return nil, err
		}
		w.raw(`,"force_table_refresh":false`)
	case event.EventTableDeleted:
		var e event.TableDeleted
		if err := json.Unmarshal(p.Data, &e); err != nil {
			return nil, err
		}
		w.open(event.EventTableDeleted)
		w.key("database_id")
		w.int(workspaceID)
		w.key("table_id")
		w.int(e.TableID)
	case event.EventWorkspaceUpdated:
		var e event.WorkspaceUpdated
		if err := json.Unmarshal(p.Data, &e); err != nil {
			return nil, err
		}
		w.open("group_updated")
		w.key("workspace_id")
		w.int(workspaceID)
		w.key("workspace")
		if err := w.value(map[string]any{"id": e.Workspace.ID, "name": e.Workspace.Name}); err != nil {
			return nil, err
		}
	case event.EventWorkspaceDeleted:
		w.open("group_deleted")
		w.key("workspace_id")
		w.int(workspaceID)
	case event.EventMemberAdded, event.EventMemberUpdated, event.EventMemberRemoved:
		var e event.MemberChanged
		if err := json.Unmarshal(p.Data, &e); err != nil {
			return nil, err
		}
		typ := map[string]string{event.EventMemberAdded: "group_user_added",
			event.EventMemberUpdated: "group_user_updated", event.EventMemberRemoved: "group_user_deleted"}[p.Event]
		w.open(typ)
		w.key("id")
		w.str(e.UserID)
		w.key("workspace_id")
		w.int(workspaceID)
		w.key("workspace_user")
		if err := w.value(workspaceUser(e, workspaceID)); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	w.raw("}")
	return []hub.Output{{Collection: workspaceCollection(workspaceID), Frame: w.frame()}}, nil
}

// workspaceUser is a membership as Baserow's group_user_* messages carry
// it. tablecast's memberships have no id of their own: a member is named
// by its user id (the token's subject), which is also the message's id.
func workspaceUser(e event.MemberChanged, workspaceID int64) map[string]any {
	return map[string]any{"id": e.UserID, "user_id": e.UserID, "workspace": workspaceID,
		"permissions": strings.ToUpper(string(e.Role)), "name": e.UserID, "email": "", "to_be_deleted": false}
}

// handleWorkspaceEvent is HandleEvent's part for workspace streams: a
// member added follows the workspace on its sockets of this node, a
// member removed stops following it, a deleted workspace is followed by
// no one.
//
// The hook runs inside the stream's ordered delivery, which a new
// subscription to the same stream waits for: the added member's sockets
// subscribe on a goroutine of their own (the Server's, awaited by Close).
// Each is sent group_user_added once its subscription is in place (it
// was not following the workspace when the event was delivered).
func (s *Server) handleWorkspaceEvent(p *hub.Publication, workspaceID int64) {
	col := workspaceCollection(workspaceID)
	switch p.Event {
	case event.EventMemberAdded:
		var ev event.MemberChanged
		if json.Unmarshal(p.Data, &ev) != nil || ev.UserID == "" {
			return
		}
		sessions := s.sessionsOf(ev.UserID)
		if len(sessions) == 0 {
			return
		}
		outs, err := renderWorkspace(p, workspaceID)
		if err != nil || len(outs) != 1 {
			return
		}
		reply := outs[0].Frame
		s.followers.Add(1)
		go func() {
			defer s.followers.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
			defer cancel()
			for _, sess := range sessions {
				sess.follow(ctx, workspaceID, reply)
			}
		}()
	case event.EventMemberRemoved:
		var ev event.MemberChanged
		if json.Unmarshal(p.Data, &ev) != nil || ev.UserID == "" {
			return
		}
		s.hub.Revoke(ev.UserID, func(c string) bool { return c == col })
	case event.EventWorkspaceDeleted:
		s.hub.RevokeChannel(col, "")
	}
}

// Close waits for the workspace follows in flight (call it after the
// hub's shutdown: they then end at once).
func (s *Server) Close() { s.followers.Wait() }

// track and untrack keep the signed-in sessions of this node by user, for
// a member added to a workspace.
func (s *Server) track(sess *session) {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	m := s.users[sess.userID]
	if m == nil {
		m = make(map[*session]struct{})
		s.users[sess.userID] = m
	}
	m[sess] = struct{}{}
}

func (s *Server) untrack(sess *session) {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if m := s.users[sess.userID]; m != nil {
		delete(m, sess)
		if len(m) == 0 {
			delete(s.users, sess.userID)
		}
	}
}

func (s *Server) sessionsOf(userID string) []*session {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	out := make([]*session, 0, len(s.users[userID]))
	for sess := range s.users[userID] {
		out = append(out, sess)
	}
	return out
}
