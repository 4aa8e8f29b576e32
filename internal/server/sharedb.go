package server

import (
	"context"
	"encoding/json"
	"github.com/tablecast/tablecast/internal/dialect/native"
	"time"

	"github.com/tablecast/tablecast/internal/dialect/sharedb"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
)

// sharedbStore gives the ShareDB dialect the table service (sharedb.Store).
type sharedbStore struct{ svc *service.Service }

var _ sharedb.Store = sharedbStore{}

func (s sharedbStore) Authorize(ctx context.Context, userID, collection string) error {
	return authorizeCollection(ctx, s.svc, userID, collection)
}

func (s sharedbStore) Snapshots(ctx context.Context, userID, collection string, ids []int64) ([]event.Document, uint64, error) {
	return s.svc.Documents(ctx, service.Actor{UserID: userID}, collection, ids)
}

func (s sharedbStore) Ops(ctx context.Context, userID, collection string, docID, from int64, limit int) (event.DocumentLog, error) {
	return s.svc.DocumentOps(ctx, service.Actor{UserID: userID}, collection, docID, from, limit)
}

func (s sharedbStore) SnapshotAt(ctx context.Context, userID, collection string, docID, v int64, at time.Time) (event.Document, error) {
	return s.svc.DocumentAt(ctx, service.Actor{UserID: userID}, collection, docID, v, at)
}

func (s sharedbStore) Query(ctx context.Context, userID, collection string, q sharedb.Query) ([]event.Document, uint64, error) {
	c, ok := event.ParseCollection(collection)
	if !ok {
		return nil, 0, event.ErrNotFound
	}
	if c.Kind != event.KindRecord {
		return s.Snapshots(ctx, userID, collection, nil)
	}
	in := service.ListRowsInput{ViewID: q.ViewID, Search: q.Search, Limit: q.Limit}
	if len(q.Filter) > 0 && string(q.Filter) != "null" {
		in.Filter = string(q.Filter)
	}
	if len(q.Sort) > 0 && string(q.Sort) != "null" {
		in.Sort = string(q.Sort)
	}
	page, err := s.svc.ListRows(ctx, service.Actor{UserID: userID}, c.ID, in)
	if err != nil {
		return nil, 0, err
	}
	out := make([]event.Document, len(page.Rows))
	for i, r := range page.Rows {
		data, err := json.Marshal(event.RecordDocOf(r))
		if err != nil {
			return nil, 0, err
		}
		out[i] = event.Document{ID: r.ID, V: r.Version, Exists: true, Data: data}
	}
	return out, page.Offset, nil
}

func (s sharedbStore) Submit(ctx context.Context, userID, origin string, sub event.Submission) (event.SubmitResult, error) {
	return s.svc.Submit(ctx, service.Actor{UserID: userID, Origin: origin}, sub)
}

// sharedbStreams adds the ShareDB dialect's document collections to the
// hub's external streams.
type sharedbStreams struct{ hub.ExternalStreams }

func (s sharedbStreams) StreamOf(collection string) (string, bool) {
	if st, ok := sharedb.StreamOf(collection); ok {
		return st, true
	}
	return s.ExternalStreams.StreamOf(collection)
}

// nativeViewStreams joins the native public views' hub collections
// (npv/T) to their tables' streams.
type nativeViewStreams struct{ hub.ExternalStreams }

func (s nativeViewStreams) StreamOf(collection string) (string, bool) {
	if st, ok := native.StreamOf(collection); ok {
		return st, true
	}
	return s.ExternalStreams.StreamOf(collection)
}
