package server

import (
	"context"

	"github.com/tablecast/tablecast/internal/dialect/baserow"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
	"github.com/tablecast/tablecast/internal/tablestream"
)

// baserowStore gives the Baserow dialect the table service and the store
// (baserow.Store). svc is set once the service exists (the renderer, made
// before the hub, needs the store and the service needs the hub); nothing
// calls it before the node starts.
type baserowStore struct {
	svc *service.Service
	st  store.Store
}

var _ baserow.Store = (*baserowStore)(nil)

func (b *baserowStore) TableAccess(ctx context.Context, userID string, tableID int64) error {
	_, err := b.svc.TableRole(ctx, userID, tableID)
	return err
}

func (b *baserowStore) RowAccess(ctx context.Context, userID string, tableID, rowID int64) error {
	_, err := b.svc.GetRow(ctx, service.Actor{UserID: userID}, tableID, rowID)
	return err
}

func (b *baserowStore) OpenPublicView(ctx context.Context, slug, token string) (baserow.PublicView, error) {
	pv, err := b.svc.OpenPublicView(ctx, slug, token)
	if err != nil {
		return baserow.PublicView{}, err
	}
	return baserow.PublicView{ID: pv.View.ID, TableID: pv.View.TableID}, nil
}

func (b *baserowStore) UserWorkspaces(ctx context.Context, userID string) ([]int64, error) {
	ws, err := b.svc.ListWorkspaces(ctx, service.Actor{UserID: userID})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids, nil
}

// TableViews reads a table's fields, its public views and its stream's
// offset in one read transaction.
func (b *baserowStore) TableViews(ctx context.Context, tableID int64) (baserow.TableViews, error) {
	var out baserow.TableViews
	err := b.st.Read(ctx, func(r store.Reader) error {
		fs, err := r.Fields(ctx, tableID)
		if err != nil {
			return err
		}
		vs, err := r.Views(ctx, tableID)
		if err != nil {
			return err
		}
		top, err := r.StreamTop(ctx, store.TableStream(tableID))
		if err != nil {
			return err
		}
		out = baserow.TableViews{Fields: make([]table.Field, 0, len(fs)), Offset: top}
		for _, f := range fs {
			tf, err := service.FieldFromStore(f)
			if err != nil {
				return err
			}
			out.Fields = append(out.Fields, *tf)
		}
		for _, sv := range vs {
			if !sv.Public {
				continue
			}
			v, err := service.ViewFromStore(sv)
			if err != nil {
				return err
			}
			out.Views = append(out.Views, *v)
		}
		return nil
	})
	return out, err
}

// pageStreams is the table store's streams with the Baserow dialect's page
// collections (br/table/T, br/row/T, br/view/T) on their tables' streams.
type pageStreams struct{ *tablestream.Streams }

func (p pageStreams) StreamOf(collection string) (string, bool) {
	if s, ok := baserow.StreamOf(collection); ok {
		return s, true
	}
	return p.Streams.StreamOf(collection)
}
