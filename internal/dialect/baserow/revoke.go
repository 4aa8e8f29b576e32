package baserow

import (
	"encoding/json"
	"strconv"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// HandleEvent is this dialect's part of the hub's event hook
// (hub.OnEvent): it runs on every node as each table and
// workspace event passes, after its delivery, and ends the pages that
// may no longer be held, each with page_discard:
//
//   - member_removed: the member's table and row pages of the
//     workspace's tables (on every socket of that user);
//   - view_updated making a public view private, or giving it a password
//     or a new one (the tokens of the old one are void): every page of the
//     view;
//   - view_deleted, and table_deleted on the table's stream: every page of
//     the view, of every view of the table.
//
// On a workspace's stream, it also starts and ends the sockets' following
// of the workspace (workspace.go).
//
// Nothing is read from the store: the events carry what is needed.
func (s *Server) HandleEvent(p *hub.Publication) {
	if ws, ok := event.WorkspaceOfStream(p.Stream); ok {
		s.handleWorkspaceEvent(p, ws)
	}
	switch p.Event {
	case event.EventMemberRemoved:
		var ev event.MemberChanged
		if err := json.Unmarshal(p.Data, &ev); err != nil || ev.UserID == "" {
			s.log.Error("baserow: member_removed event without a user", "stream", p.Stream, "offset", p.Offset)
			return
		}
		tables := make(map[int64]bool, len(ev.TableIDs))
		for _, id := range ev.TableIDs {
			tables[id] = true
		}
		s.hub.Revoke(ev.UserID, func(collection string) bool {
			t, ok := collectionTable(collection)
			return ok && tables[t] && !isViewCollection(collection)
		})
	case event.EventViewUpdated:
		tableID, ok := event.TableOfStream(p.Stream)
		var ev viewUpdated
		if !ok || json.Unmarshal(p.Data, &ev) != nil {
			return
		}
		before, after := ev.ViewBefore, ev.View
		passwordChanged := after.HasPassword && (!before.HasPassword || ev.PasswordChanged)
		if before.Public && (!after.Public || passwordChanged) {
			s.hub.RevokeChannel(viewCollection(tableID), strconv.FormatInt(after.ID, 10))
		}
	case event.EventViewDeleted:
		tableID, ok := event.TableOfStream(p.Stream)
		var ev event.ViewDeleted
		if !ok || json.Unmarshal(p.Data, &ev) != nil {
			return
		}
		s.hub.RevokeChannel(viewCollection(tableID), strconv.FormatInt(ev.ViewID, 10))
	case event.EventTableDeleted:
		if tableID, ok := event.TableOfStream(p.Stream); ok {
			s.hub.RevokeChannel(viewCollection(tableID), "")
		}
	}
}

func isViewCollection(collection string) bool {
	return len(collection) > len(viewPrefix) && collection[:len(viewPrefix)] == viewPrefix
}
