package baserow

import (
	"context"
)

// Store is what the dialect needs from the table store. The server
// implements it over the service and the store. Its methods are called
// when a page is added (and once more right after, see session.addPage)
// and, for TableViews, when the renderer (re)reads a watched table's
// definitions: never once per subscriber per event.
type Store interface {
	// TableAccess reports whether userID may see the table: nil, or an
	// error wrapping event.ErrNotFound (no such table, or not a member of its
	// workspace: both look the same).
	TableAccess(ctx context.Context, userID string, tableID int64) error
	// RowAccess is TableAccess and the row exists (event.ErrNotFound otherwise).
	RowAccess(ctx context.Context, userID string, tableID, rowID int64) error
	// OpenPublicView checks that a public view may be read with token (only
	// needed when the view has a password): event.ErrNotFound when no
	// public view has the slug, event.ErrUnauthorized when the token is
	// missing or wrong.
	OpenPublicView(ctx context.Context, slug, token string) (PublicView, error)
	// UserWorkspaces lists the ids of the workspaces userID is a member of.
	UserWorkspaces(ctx context.Context, userID string) ([]int64, error)
	// TableViews reads a table's fields and its public views, and the
	// table stream's offset they were read at, in one snapshot.
	TableViews(ctx context.Context, tableID int64) (TableViews, error)
}

// A Store's errors are the event contract's, compared with errors.Is:
// event.ErrNotFound, event.ErrForbidden, event.ErrUnauthorized (a view's
// token missing or wrong, told the client as forbidden).

// PublicView is a public view a page may be added for.
type PublicView struct {
	ID      int64
	TableID int64
}
