package sharedb

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/table"
)

// Store is what the dialect needs from the table store; the server wires
// it to the table service. It speaks the event contract's documents
// (event.Document, event.DocumentLog, event.Submission,
// event.SubmitResult). Collections are the store's names (record_T,
// field_T, view_T, table_W), never aliases. Errors are those below.
type Store interface {
	// Authorize reports whether userID may read a collection: nil, or an
	// error wrapping event.ErrNotFound (a table the user cannot see is not
	// found, never a hint that it exists).
	Authorize(ctx context.Context, userID, collection string) error
	// Snapshots reads documents of one collection in one read, in the
	// order of ids (every document of a field, view or table collection,
	// in their order, with ids nil), and the offset of the collection's
	// stream they were read at. A document that does not exist is in the
	// result with Exists false.
	Snapshots(ctx context.Context, userID, collection string, ids []int64) ([]event.Document, uint64, error)
	// Ops returns the logged changes of a document from version from on,
	// at most limit, in version order (the first may be later than from
	// when older ones are no longer kept), with the document's version and
	// its stream's offset when they were read.
	Ops(ctx context.Context, userID, collection string, docID, from int64, limit int) (event.DocumentLog, error)
	// SnapshotAt rebuilds a document at version v, or, with at non-zero,
	// at that time. Errors wrap event.ErrOpsPruned when the changes are no
	// longer kept, event.ErrVersionAhead for a version not reached.
	SnapshotAt(ctx context.Context, userID, collection string, docID, v int64, at time.Time) (event.Document, error)
	// Query lists the documents of a query: the records of q (record_T),
	// every document of the other collections. The offset is the stream's
	// when they were read.
	Query(ctx context.Context, userID, collection string, q Query) ([]event.Document, uint64, error)
	// Submit applies a change for userID; origin is the submitting
	// connection's id (left out of the op's broadcast).
	Submit(ctx context.Context, userID, origin string, s event.Submission) (event.SubmitResult, error)
}

// Query is a query's q on record_T: {"view_id"?, "filter"?, "sort"?,
// "search"?, "limit"?} with the REST listing's meanings.
type Query struct {
	ViewID int64           `json:"view_id"`
	Filter json.RawMessage `json:"filter"`
	Sort   json.RawMessage `json:"sort"`
	Search string          `json:"search"`
	Limit  int             `json:"limit"`
}

// A Store's errors are the event contract's, compared with errors.Is:
// event.ErrNotFound, event.ErrForbidden (event.ErrUnauthorized counts as
// one), event.ErrConflict with its reasons (event.ErrDocExists,
// event.ErrDocDeleted, event.ErrVersionAhead, event.ErrOpsPruned), as an
// *event.Error with a message for the client; a refused value or op is a
// *table.ValidationError.

// forbidden reports whether a Store refused the user's role.
func forbidden(err error) bool {
	return errors.Is(err, event.ErrForbidden) || errors.Is(err, event.ErrUnauthorized)
}

// invalid reports whether a Store refused a value or an op.
func invalid(err error) bool {
	var ve *table.ValidationError
	return errors.As(err, &ve)
}

// message is the client's message of a Store error.
func message(err error, fallback string) string {
	var ve *table.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	var se *event.Error
	if errors.As(err, &se) && se.Message != "" {
		return se.Message
	}
	return fallback
}
