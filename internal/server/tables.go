package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strconv"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/dialect/native"
	"github.com/tablecast/tablecast/internal/event"
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
	return authorizeCollection(ctx, n.svc, userID, collection)
}

// authorizeCollection checks that the user may read the collection
// (record_T, field_T, view_T: a member of T's workspace; table_W: of W).
func authorizeCollection(ctx context.Context, svc *service.Service, userID, collection string) error {
	c, ok := event.ParseCollection(collection)
	if !ok {
		return event.ErrNotFound
	}
	var err error
	if c.Kind == event.KindTable {
		_, err = svc.WorkspaceRole(ctx, userID, c.ID)
	} else {
		_, err = svc.TableRole(ctx, userID, c.ID)
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
