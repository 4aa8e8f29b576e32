package event

import (
	"encoding/json"
	"time"

	"github.com/tablecast/tablecast/internal/ot/json0"
)

// The documents' side of the contract, between the service, which reads
// and changes documents by version, and the dialects that speak documents
// (their ports speak these types).

// Document is one document of record_T, field_T, view_T or table_W at
// version V. Exists is false for a document that does not exist: V is 0,
// or, for one deleted while the op log still knows it, the version after
// its deletion.
type Document struct {
	ID     int64
	V      int64
	Exists bool
	Data   json.RawMessage
}

// LoggedChange is one change of the op log: the version it applied to,
// the submission that made it (Src "" for a REST write) and the change,
// {"op":[...]}, {"create":data} or {"del":true}.
type LoggedChange struct {
	V         int64
	Src       string
	Seq       uint64
	Change    json.RawMessage
	CreatedAt time.Time
}

// DocumentLog is a document's logged changes from a version on, with the
// document's version and its stream's offset when they were read.
type DocumentLog struct {
	Changes []LoggedChange
	V       int64
	Offset  uint64
}

// Submission is one document change sent by a client.
type Submission struct {
	Collection string // record_T, field_T or view_T
	DocID      int64
	// V is the version the change was made against. HasV false (the
	// seed's form) applies it to the current version.
	V    int64
	HasV bool
	// Exactly one of Op (a JSON array of json0 components), Create (a new
	// record's data: {"fields":{...},"order"?}) and Del.
	Op     json.RawMessage
	Create json.RawMessage
	Del    bool
	// Src and Seq identify the submission: resent with the same pair, it
	// is acknowledged and not applied twice.
	Src string
	Seq uint64
	// Tag is kept in the events of an op or a delete for the submitter's
	// dialect, which renders its acknowledgement from them (SubmitReply).
	Tag string
	// NoMissed: the caller does not read SubmitResult.Missed, which may
	// then be left nil.
	NoMissed bool
}

// SubmitResult is what a submit did.
type SubmitResult struct {
	// V is the version the change applied to: the document is at V+1.
	V int64
	// Offset is the offset of the change's event in the table's stream.
	Offset uint64
	// Duplicate: the same Src and Seq had been applied (at V); nothing was
	// done now.
	Duplicate bool
	// Transformed is how many concurrent ops the change was transformed
	// against.
	Transformed int
	// Missed are those ops, in version order: what a client that sent
	// the change at its version had not seen. ShareDB's protocol sends
	// them to the submitter before the acknowledgement.
	Missed []LoggedChange
	// Fixup is what the server changed in the submitted op (as
	// transformed and applied): components setting each value it
	// normalised to the stored form (a number rounded to its decimals, a
	// select option named by its value), relative to the document after
	// the op as the submitter applied it. The op kept and sent to others
	// is the op followed by these. Nil when the op was stored as sent.
	Fixup json0.Op
}
