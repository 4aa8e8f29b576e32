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
	c, ok := event.ParseCollection(collection)
	kind, id := c.Kind, c.ID
	if !ok {
		return event.ErrNotFound
	}
	var err error
	if kind == event.KindTable {
		_, err = s.svc.WorkspaceRole(ctx, userID, id)
	} else {
		_, err = s.svc.TableRole(ctx, userID, id)
	}
	return err
}

func (s sharedbStore) Snapshots(ctx context.Context, userID, collection string, ids []int64) ([]sharedb.Snapshot, uint64, error) {
	docs, offset, err := s.svc.Documents(ctx, service.Actor{UserID: userID}, collection, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]sharedb.Snapshot, len(docs))
	for i, d := range docs {
		out[i] = sharedb.Snapshot{ID: d.ID, V: d.V, Exists: d.Exists, Data: d.Data}
	}
	return out, offset, nil
}

func (s sharedbStore) Ops(ctx context.Context, userID, collection string, docID, from int64, limit int) (sharedb.OpLog, error) {
	log, err := s.svc.DocumentOps(ctx, service.Actor{UserID: userID}, collection, docID, from, limit)
	if err != nil {
		return sharedb.OpLog{}, err
	}
	out := sharedb.OpLog{V: log.V, Offset: log.Offset, Ops: make([]sharedb.Op, len(log.Changes))}
	for i, c := range log.Changes {
		out.Ops[i] = sharedb.Op{V: c.V, Src: c.Src, Seq: c.Seq, Change: c.Change}
	}
	return out, nil
}

func (s sharedbStore) SnapshotAt(ctx context.Context, userID, collection string, docID, v int64, at time.Time) (sharedb.Snapshot, error) {
	d, err := s.svc.DocumentAt(ctx, service.Actor{UserID: userID}, collection, docID, v, at)
	if err != nil {
		return sharedb.Snapshot{}, err
	}
	return sharedb.Snapshot{ID: d.ID, V: d.V, Exists: d.Exists, Data: d.Data}, nil
}

func (s sharedbStore) Query(ctx context.Context, userID, collection string, q sharedb.Query) ([]sharedb.Snapshot, uint64, error) {
	c, ok := event.ParseCollection(collection)
	kind, id := c.Kind, c.ID
	if !ok {
		return nil, 0, event.ErrNotFound
	}
	if kind != event.KindRecord {
		return s.Snapshots(ctx, userID, collection, nil)
	}
	in := service.ListRowsInput{ViewID: q.ViewID, Search: q.Search, Limit: q.Limit}
	if len(q.Filter) > 0 && string(q.Filter) != "null" {
		in.Filter = string(q.Filter)
	}
	if len(q.Sort) > 0 && string(q.Sort) != "null" {
		in.Sort = string(q.Sort)
	}
	page, err := s.svc.ListRows(ctx, service.Actor{UserID: userID}, id, in)
	if err != nil {
		return nil, 0, err
	}
	out := make([]sharedb.Snapshot, len(page.Rows))
	for i, r := range page.Rows {
		data, err := json.Marshal(event.RecordDoc{ID: r.ID, Order: r.Order, Fields: r.Fields})
		if err != nil {
			return nil, 0, err
		}
		out[i] = sharedb.Snapshot{ID: r.ID, V: r.Version, Exists: true, Data: data}
	}
	return out, page.Offset, nil
}

func (s sharedbStore) Submit(ctx context.Context, userID, origin string, sub sharedb.Submission) (sharedb.SubmitResult, error) {
	res, err := s.svc.Submit(ctx, service.Actor{UserID: userID, Origin: origin}, service.Submission{
		Collection: sub.Collection, DocID: sub.DocID, V: sub.V, HasV: sub.HasV,
		Op: sub.Op, Create: sub.Create, Del: sub.Del, Src: sub.Src, Seq: sub.Seq, Tag: sub.Tag,
	})
	if err != nil {
		return sharedb.SubmitResult{}, err
	}
	out := sharedb.SubmitResult{V: res.V, Duplicate: res.Duplicate, Missed: make([]sharedb.Op, len(res.Missed))}
	if len(res.Fixup) > 0 {
		if out.Fixup, err = json.Marshal(res.Fixup); err != nil {
			return sharedb.SubmitResult{}, err
		}
	}
	for i, m := range res.Missed {
		out.Missed[i] = sharedb.Op{V: m.V, Src: m.Src, Seq: m.Seq, Change: m.Change}
	}
	return out, nil
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
