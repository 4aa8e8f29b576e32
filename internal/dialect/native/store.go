package native

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// Store is what the native dialect needs from the table store: who may see a
// store collection, and the records a `query` asks for. The server wires it
// to the store's service; without it store collections are unknown (404).
type Store interface {
	// AuthorizeCollection reports whether userID may subscribe to a store
	// collection (record_T, field_T, view_T, table_W): nil, or an error
	// wrapping event.ErrForbidden or event.ErrNotFound. A table the user
	// cannot see is event.ErrNotFound, never a hint that it exists.
	AuthorizeCollection(ctx context.Context, userID, collection string) error
	// QueryRecords answers `query` on record_T.
	QueryRecords(ctx context.Context, userID string, tableID int64, q RecordQuery) (RecordPage, error)
	// Submit applies a document change for userID; origin is the
	// submitting connection's id (left out of the `op` broadcast). Errors
	// wrap event.ErrForbidden, event.ErrNotFound or event.ErrConflict (an
	// *event.Error's message is told the client), or are a
	// *table.ValidationError.
	Submit(ctx context.Context, userID, origin string, s event.Submission) (event.SubmitResult, error)
	// OpenPublicView checks that a public view may be read with token (only
	// needed when the view has a password) and names its table and id:
	// event.ErrNotFound when no public view has the slug,
	// event.ErrUnauthorized when the token is missing or wrong.
	OpenPublicView(ctx context.Context, slug, token string) (tableID, viewID int64, err error)
}

// RecordQuery is the data of a `query` message.
type RecordQuery struct {
	Filter json.RawMessage `json:"filter"`
	Sort   json.RawMessage `json:"sort"`
	Search string          `json:"search"`
	Limit  int             `json:"limit"`
	Cursor string          `json:"cursor"`
	ViewID int64           `json:"view_id"`
}

// RecordPage is a query's answer: snapshots, where to continue, and the
// table stream's offset at which they were read, so that a client can
// subscribe from exactly there.
type RecordPage struct {
	Results    []Snapshot `json:"results"`
	NextCursor *string    `json:"next_cursor"`
	Offset     uint64     `json:"offset"`
}

// Snapshot is a document at a version.
type Snapshot struct {
	Document string `json:"document"`
	V        int64  `json:"v"`
	Data     any    `json:"data"`
}

// storeError maps a Store error to what the client is told.
func storeError(err error) error {
	var ve *table.ValidationError
	var ee *event.Error
	switch {
	case errors.As(err, &ve):
		return errorf(CodeInvalid, "%s", ve.Error())
	case errors.Is(err, event.ErrForbidden), errors.Is(err, event.ErrUnauthorized):
		return errorf(CodeForbidden, "not allowed")
	case errors.Is(err, event.ErrNotFound):
		return errorf(CodeNotFound, "unknown collection or document")
	case errors.Is(err, event.ErrConflict):
		msg := "conflict"
		if errors.As(err, &ee) {
			msg = ee.Message
		}
		return errorf(CodeConflict, "%s", msg)
	}
	return err
}
