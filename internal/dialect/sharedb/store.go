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
// it to the table service. Collections are the store's names (record_T,
// field_T, view_T, table_W), never aliases. Errors wrap the errors below.
type Store interface {
	// Authorize reports whether userID may read a collection: nil, or an
	// error wrapping ErrNotFound (a table the user cannot see is not
	// found, never a hint that it exists).
	Authorize(ctx context.Context, userID, collection string) error
	// Snapshots reads documents of one collection in one read, in the
	// order of ids (every document of a field, view or table collection,
	// in their order, with ids nil), and the offset of the collection's
	// stream they were read at. A document that does not exist is in the
	// result with Exists false.
	Snapshots(ctx context.Context, userID, collection string, ids []int64) ([]Snapshot, uint64, error)
	// Ops returns the logged changes of a document from version from on,
	// at most limit, in version order (the first may be later than from
	// when older ones are no longer kept), with the document's version and
	// its stream's offset when they were read.
	Ops(ctx context.Context, userID, collection string, docID, from int64, limit int) (OpLog, error)
	// SnapshotAt rebuilds a document at version v, or, with at non-zero,
	// at that time. Errors wrap ErrOpsPruned when the changes are no
	// longer kept, ErrVersionAhead for a version not reached.
	SnapshotAt(ctx context.Context, userID, collection string, docID, v int64, at time.Time) (Snapshot, error)
	// Query lists the documents of a query: the records of q (record_T),
	// every document of the other collections. The offset is the stream's
	// when they were read.
	Query(ctx context.Context, userID, collection string, q Query) ([]Snapshot, uint64, error)
	// Submit applies a change for userID; origin is the submitting
	// connection's id (left out of the op's broadcast).
	Submit(ctx context.Context, userID, origin string, s Submission) (SubmitResult, error)
}

// Snapshot is a document at version V.
type Snapshot struct {
	ID     int64
	V      int64
	Exists bool
	Data   json.RawMessage
}

// Op is a change of the op log: the version it applied to, the submission
// that made it ("" for a REST write) and {"op":[...]}, {"create":data} or
// {"del":true}.
type Op struct {
	V      int64
	Src    string
	Seq    uint64
	Change json.RawMessage
}

// OpLog is a document's changes from a version on.
type OpLog struct {
	Ops    []Op
	V      int64 // the document's version
	Offset uint64
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

// Submission is an op message's change of one document.
type Submission struct {
	Collection string
	DocID      int64
	V          int64
	HasV       bool
	Op         json.RawMessage
	Create     json.RawMessage
	Del        bool
	Src        string
	Seq        uint64
	// Tag is kept with the change's event for the renderer's ack: the
	// collection as the socket spelled it.
	Tag string
}

// SubmitResult is what a submit did: the version the change applied to
// (the document is at V+1), whether it had been applied already (a resent
// op), the changes it was transformed against, which the submitter had
// not seen, and the fixup (a json0 op; nil when the op was stored as sent).
type SubmitResult struct {
	V         int64
	Duplicate bool
	Missed    []Op
	Fixup     json.RawMessage
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
