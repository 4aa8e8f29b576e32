package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"strconv"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/dialect/native"
	"github.com/tablecast/tablecast/internal/dialect/sharedb"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
)

// serviceSecret keys the service's view tokens and row cursors. It is
// derived from the JWT secret (or the API key) so that every node of a
// cluster, and a restarted node, agree; with neither (public-key auth and no
// admin API), it is random and tokens and cursors last as long as the
// process.
func serviceSecret(cfg config.Config) []byte {
	base := cfg.JWTSecret
	if base == "" {
		base = cfg.APIKey
	}
	if base == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	m := hmac.New(sha256.New, []byte(base))
	m.Write([]byte("tablecast service secret v1"))
	return m.Sum(nil)
}

// nativeStore gives the native dialect the table service (native.Store).
type nativeStore struct{ svc *service.Service }

func (n nativeStore) OpenPublicView(ctx context.Context, slug, token string) (int64, int64, error) {
	pv, err := n.svc.OpenPublicView(ctx, slug, token)
	if err != nil {
		return 0, 0, err
	}
	return pv.View.TableID, pv.View.ID, nil
}

var _ native.Store = nativeStore{}

func (n nativeStore) AuthorizeCollection(ctx context.Context, userID, collection string) error {
	c, ok := event.ParseCollection(collection)
	if !ok {
		return event.ErrNotFound
	}
	var err error
	if c.Kind == event.KindTable {
		_, err = n.svc.WorkspaceRole(ctx, userID, c.ID)
	} else {
		_, err = n.svc.TableRole(ctx, userID, c.ID)
	}
	return err
}

func (n nativeStore) QueryRecords(ctx context.Context, userID string, tableID int64, q native.RecordQuery) (native.RecordPage, error) {
	in := service.ListRowsInput{ViewID: q.ViewID, Search: q.Search, Limit: q.Limit, Cursor: q.Cursor}
	if len(q.Filter) > 0 && string(q.Filter) != "null" {
		in.Filter = string(q.Filter)
	}
	if len(q.Sort) > 0 && string(q.Sort) != "null" {
		in.Sort = string(q.Sort)
	}
	page, err := n.svc.ListRows(ctx, service.Actor{UserID: userID}, tableID, in)
	if err != nil {
		return native.RecordPage{}, err
	}
	out := native.RecordPage{NextCursor: page.NextCursor, Offset: page.Offset, Results: make([]native.Snapshot, len(page.Rows))}
	for i, r := range page.Rows {
		out.Results[i] = native.Snapshot{
			Document: strconv.FormatInt(r.ID, 10),
			V:        r.Version,
			Data:     map[string]any{"id": r.ID, "order": r.Order, "fields": r.Fields},
		}
	}
	return out, nil
}

func (n nativeStore) Submit(ctx context.Context, userID, origin string, s event.Submission) (event.SubmitResult, error) {
	return n.svc.Submit(ctx, service.Actor{UserID: userID, Origin: origin}, s)
}

// revoker ends the subscriptions of a member removed from a workspace, on
// every node: it runs on each node's hub as the event passes (hub.OnEvent).
// The event names the workspace's tables, so nothing is read here.
type revoker struct {
	hub *hub.Hub
	log *slog.Logger
}

func (r revoker) event(p *hub.Publication) {
	if p.Event != event.EventMemberRemoved {
		return
	}
	var ev event.MemberChanged
	if err := json.Unmarshal(p.Data, &ev); err != nil || ev.UserID == "" {
		r.log.Error("member_removed event without a user", "stream", p.Stream, "offset", p.Offset)
		return
	}
	ids := make(map[int64]bool, len(ev.TableIDs))
	for _, id := range ev.TableIDs {
		ids[id] = true
	}
	r.hub.Revoke(ev.UserID, func(collection string) bool {
		if c, ok := sharedb.StoreCollectionOf(collection); ok {
			collection = c // the ShareDB dialect's documents and table presence channels
		}
		c, ok := event.ParseCollection(collection)
		kind, id := c.Kind, c.ID
		if !ok {
			return false
		}
		if kind == event.KindTable {
			return id == ev.WorkspaceID
		}
		return ids[id]
	})
}
