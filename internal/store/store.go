package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors. The store wraps them with %w and a description of what was
// not found or conflicted; test with errors.Is.
var (
	// ErrNotFound: the workspace, membership, table, field, view or row does
	// not exist (or a row is not in the table named).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique value is taken (view slug, field name in its table,
	// membership) or a row's version is not the expected one.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: an argument the store cannot keep (values that are not a JSON
	// object, a malformed order, an unknown role, an empty event type).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrPruned: Events was asked for events that are no longer kept.
	ErrPruned = errors.New("store: events pruned")
	// ErrLocked: OpenSQLite found the database file in use by another
	// process (or another open store of this one): its lock file, the
	// database's path with ".lock" added, is locked. One process writes a
	// SQLite database; several nodes share PostgreSQL.
	ErrLocked = errors.New("store: database is in use by another process")
)

// Role is a member's role in a workspace.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin  Role = "admin"  // everything, members included
	RoleEditor Role = "editor" // rows, fields and views
	RoleViewer Role = "viewer" // read and subscribe
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleEditor || r == RoleViewer }

// Workspace groups tables and has members.
type Workspace struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Member is a user's membership of a workspace. UserID is the JWT subject.
type Member struct {
	WorkspaceID int64
	UserID      string
	Role        Role
}

// Table is a table of a workspace.
type Table struct {
	ID          int64
	WorkspaceID int64
	Name        string
	// Order is the table's position among its workspace's tables. Created
	// with Order <= 0, a table goes after the last one.
	Order     int
	CreatedAt time.Time
	// Version is 1 when the table is created and grows by one on each
	// UpdateTable; it is read back, never written by callers.
	Version int64
}

// Field is a column of a table. Names are unique within a table (ErrConflict),
// and a table has at most one primary field (ErrConflict).
type Field struct {
	ID      int64
	TableID int64
	Name    string
	Type    string
	Primary bool
	// Order is the field's position; created with Order <= 0, a field goes
	// after the last one.
	Order int
	// Options is the type's options as JSON (an object); nil is kept as {}.
	Options json.RawMessage
	// Version is 1 when the field is created and grows by one on each
	// UpdateField; it is read back, never written by callers.
	Version int64
}

// Row is a record of a table.
type Row struct {
	ID      int64
	TableID int64
	// Order places the row in its table: a non-negative decimal with 20
	// fraction digits, such as "1.00000000000000000000", compared as a number
	// (see order.go). Rows are listed by (Order, ID).
	Order string
	// Version is 1 when the row is inserted and grows by one on each update.
	Version int64
	// Values is a JSON object keyed by field id ("7"), never nil.
	Values    json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	// WholeVersion, WholeAt and WholeBytes are the version, time and size
	// of the row's last event that held it whole, as its writers told
	// (RowUpdate.WholeVersion); WholeVersion is 0 when none is known. A field
	// deletion that takes a cell from the row sets it to 0: the row's
	// events do not say that the cell is gone.
	WholeVersion int64
	WholeAt      time.Time
	WholeBytes   int
}

// Cursor returns the keyset cursor that lists the rows after r.
func (r Row) Cursor() RowCursor { return RowCursor{Order: r.Order, ID: r.ID} }

// RowCursor is a keyset position in a table's row order: Rows lists the rows
// strictly after (Order, ID). The zero RowCursor is the start of the table.
type RowCursor struct {
	Order string
	ID    int64
}

// NewRows is one batch for Tx.InsertRows.
type NewRows struct {
	TableID int64
	// BeforeID places the new rows, in the given order, just before that row
	// of the table (ErrNotFound if it is not there); 0 places them after the
	// last row.
	BeforeID int64
	// Values holds one JSON object per new row (nil is {}).
	Values []json.RawMessage
	// IDs, when not empty, gives each new row its id (one per value,
	// positive, distinct): a client that names its documents (a ShareDB
	// create) chooses the row id. An id in use by any row is ErrConflict;
	// later ids from the store's own sequence go past the largest given.
	IDs []int64
	// Orders, when not empty, gives each new row its order (one per value, in
	// the Row.Order format) instead of placing them; BeforeID must then be 0.
	Orders []string
}

// InsertedRows is what Tx.InsertRows did.
type InsertedRows struct {
	// Rows are the new rows, in the order of NewRows.Values, with their ids,
	// orders and version 1.
	Rows []Row
	// Shifted is true when there was no room left between the row before
	// BeforeID and BeforeID, and the store moved BeforeID and every row after it
	// by +1 to make room. Their relative order is unchanged, but their Order
	// values are: callers that show orders to clients should tell them to
	// refetch.
	Shifted bool
}

// RowUpdate is one row's change for Tx.UpdateRows.
type RowUpdate struct {
	ID int64
	// Values is a JSON object of field id -> value. It is merged into the
	// row's values: keys present replace, a JSON null is kept as null, keys
	// absent are untouched. Only the cells it names are written.
	Values json.RawMessage
	// Encoded says that Values is a compact JSON object of values the
	// caller normalised and encoded itself (the service's document writes,
	// which store the cells a batch of ops changed): the store splits it
	// into cells without checking them again.
	Encoded bool
	// Order, when not "", moves the row to that order (the Row.Order
	// format); the row's values may be left unchanged (Values nil).
	Order string
	// ExpectedVersion, when not 0, makes the update fail with ErrConflict
	// unless the row's current version equals it.
	ExpectedVersion int64
	// Version, when not 0, is the row's version after the update instead
	// of its version plus one: a caller that folds several changes of a
	// row into one update (the service's document writes) gives the
	// version of the last. It needs ExpectedVersion, and must be above it.
	Version int64
	// At, when not zero, is the row's new updated_at (kept to the
	// microsecond); zero means the store's clock. A caller that builds the
	// updated row itself (the service's document writes) gives its time.
	At time.Time
	// WholeVersion, when not 0, records the row's last event that held it
	// whole (Row.WholeVersion): its version (at most the update's),
	// WholeAt its time and WholeBytes the row's size there, about.
	WholeVersion int64
	WholeAt      time.Time
	WholeBytes   int
}

// View is a saved way of looking at a table.
type View struct {
	ID      int64
	TableID int64
	Name    string
	Type    string // "grid"
	// Order is the view's position; created with Order <= 0, a view goes after
	// the last one.
	Order      int
	FilterType string          // "AND" or "OR"; "" is kept as "AND"
	Filters    json.RawMessage // JSON array; nil is kept as []
	Sorts      json.RawMessage // JSON array; nil is kept as []
	// HiddenFieldIDs is never nil when read back.
	HiddenFieldIDs []int64
	Public         bool
	// Slug is unique across all views (ErrConflict); "" means none.
	Slug         string
	PasswordHash string // "" means no password
	// Version is 1 when the view is created and grows by one on each
	// UpdateView; it is read back, never written by callers.
	Version int64
}

// StreamKind tells table streams from workspace streams.
type StreamKind uint8

// The kinds of stream. The values are stored; never renumber them.
const (
	// StreamTable is a table's stream: its rows, fields and views changes.
	StreamTable StreamKind = 1
	// StreamWorkspace is a workspace's stream: tables created, renamed or
	// deleted in it, membership changes.
	StreamWorkspace StreamKind = 2
)

func (k StreamKind) String() string {
	switch k {
	case StreamTable:
		return "table"
	case StreamWorkspace:
		return "workspace"
	}
	return "stream_kind(" + strconv.Itoa(int(k)) + ")"
}

func (k StreamKind) valid() bool { return k == StreamTable || k == StreamWorkspace }

// Stream names one ordered event stream. Table 5 and workspace 5 are two
// different streams: the key is the pair (Kind, ID).
type Stream struct {
	Kind StreamKind
	ID   int64
}

// TableStream is the stream of table id.
func TableStream(id int64) Stream { return Stream{Kind: StreamTable, ID: id} }

// WorkspaceStream is the stream of workspace id.
func WorkspaceStream(id int64) Stream { return Stream{Kind: StreamWorkspace, ID: id} }

func (s Stream) String() string { return s.Kind.String() + ":" + strconv.FormatInt(s.ID, 10) }

// Event is one entry of the outbox.
type Event struct {
	Stream Stream
	// Offset is the event's place in its stream: 1, 2, 3... with no gap.
	Offset    uint64
	Type      string
	Payload   json.RawMessage // kept byte for byte
	CreatedAt time.Time
	// Published is set once MarkPublished has recorded it.
	Published bool
}

// NewEvent is an event to append (AppendEvents).
type NewEvent struct {
	Stream  Stream
	Type    string
	Payload json.RawMessage
	// Encoded says that Payload is a JSON object the caller encoded itself
	// (the service's compact submit events, written by its encoders): the
	// store looks at its first byte only, rather than validating it again.
	Encoded bool
}

// Key returns the event's key.
func (e Event) Key() EventKey { return EventKey{Stream: e.Stream, Offset: e.Offset} }

// EventKey names one event.
type EventKey struct {
	Stream Stream
	Offset uint64
}

// DocOp is one change of a versioned document (a row, field, view or table
// as the document dialects name them: record_12/5), kept in the op log so
// that an op submitted against an older version can be transformed against
// what happened since, and a resent op recognised by its Src and Seq.
type DocOp struct {
	Collection string // "record_12", "field_12", "view_12", "table_3"
	DocID      int64
	// Version is the version the op applies to: the document is at
	// Version+1 after it (a create applies to 0).
	Version int64
	// Op is the change as JSON: {"op":[json0 components]}, {"create":data}
	// or {"del":true}.
	Op json.RawMessage
	// Src and Seq identify a client's submission ("" and 0 for a change not
	// made by a submit).
	Src string
	Seq uint64
	// Offset is the offset, in the table's (or workspace's) stream, of the
	// event that carried the change.
	Offset    uint64
	CreatedAt time.Time
}

// Reader is every read, on the Store (each call its own snapshot) and inside
// Read and Update (all calls one transaction).
type Reader interface {
	// Workspaces returns the workspaces userID is a member of, by id.
	Workspaces(ctx context.Context, userID string) ([]Workspace, error)
	Workspace(ctx context.Context, id int64) (Workspace, error)
	// MemberRole returns userID's role in the workspace, or ErrNotFound when
	// they are not a member (or the workspace does not exist).
	MemberRole(ctx context.Context, workspaceID int64, userID string) (Role, error)
	// Members lists a workspace's members by user id.
	Members(ctx context.Context, workspaceID int64) ([]Member, error)
	// Tables lists a workspace's tables by (Order, ID).
	Tables(ctx context.Context, workspaceID int64) ([]Table, error)
	Table(ctx context.Context, id int64) (Table, error)
	// Fields lists a table's fields by (Order, ID).
	Fields(ctx context.Context, tableID int64) ([]Field, error)
	Field(ctx context.Context, id int64) (Field, error)
	// Views lists a table's views by (Order, ID).
	Views(ctx context.Context, tableID int64) ([]View, error)
	View(ctx context.Context, id int64) (View, error)
	// ViewBySlug finds a view by its slug, public or not: callers check Public.
	ViewBySlug(ctx context.Context, slug string) (View, error)
	// Row returns a row of the table; ErrNotFound if it is not in that table.
	Row(ctx context.Context, tableID, rowID int64) (Row, error)
	// RowCells returns a row of the table like Row, with only the cells of
	// the fields fieldIDs names in its Values, for a caller that changes
	// a few cells of a wide row.
	RowCells(ctx context.Context, tableID, rowID int64, fieldIDs []int64) (Row, error)
	// RowVersions returns the versions of the table's rows among ids, by
	// id, for a caller that checks them without reading the values; an id
	// that is not a row of the table is not in the map.
	RowVersions(ctx context.Context, tableID int64, ids []int64) (map[int64]int64, error)
	// Rows lists at most limit rows of the table strictly after the cursor, by
	// (Order, ID). A row's place only changes when it is moved, so paging with
	// the last row's Cursor neither skips nor repeats rows that stay put.
	Rows(ctx context.Context, tableID int64, after RowCursor, limit int) ([]Row, error)
	// RowsByIDs returns the rows of the table among ids, by (Order, ID);
	// ids that are not rows of the table are left out.
	RowsByIDs(ctx context.Context, tableID int64, ids []int64) ([]Row, error)
	// StreamTop is the offset of the stream's last event, 0 if it has none.
	StreamTop(ctx context.Context, s Stream) (uint64, error)
	// Events returns at most limit events of the stream with offsets greater
	// than afterOffset, in offset order. Only committed events are seen, and
	// the committed offsets of a stream never have holes, so the result
	// always starts at afterOffset+1, or is empty, or the call fails with
	// ErrPruned because the event at afterOffset+1 is no longer kept. An empty
	// result while afterOffset < StreamTop (read in the same Read snapshot)
	// also means pruned.
	Events(ctx context.Context, s Stream, afterOffset uint64, limit int) ([]Event, error)
	// OldestEventOffset is the smallest offset still kept for the stream, or,
	// when none is kept, StreamTop+1 (the offset the next event will take).
	// The events after offset `since` can be replayed completely if and only
	// if since+1 >= OldestEventOffset: the kept events of a stream are always a
	// contiguous run ending at StreamTop (PruneEvents only cuts from the front).
	OldestEventOffset(ctx context.Context, s Stream) (uint64, error)
	// DocOps returns at most limit ops of the document with Version >=
	// fromVersion, in version order. Ops are kept as long as events
	// (PruneEvents removes both), so the result may start after
	// fromVersion: the caller compares.
	DocOps(ctx context.Context, collection string, docID int64, fromVersion int64, limit int) ([]DocOp, error)
}

// Tx is one write transaction: every write, and every read of Reader seeing
// the transaction's own writes. A Tx is only valid inside the function given
// to Update and must not be used from several goroutines at once.
//
// On both engines, as PostgreSQL does by nature, a statement that fails
// (ErrConflict, ErrNotFound from a constraint, any database error) aborts the
// transaction: later calls fail and Update rolls back even if fn returns nil.
// Errors found before reaching the database (ErrInvalid, a read that finds
// nothing, a missing row to update or delete) do not.
type Tx interface {
	Reader

	CreateWorkspace(ctx context.Context, name string) (Workspace, error)
	RenameWorkspace(ctx context.Context, id int64, name string) (Workspace, error)
	// DeleteWorkspace deletes the workspace with its members, tables, fields,
	// rows and views. Events stay until pruned.
	DeleteWorkspace(ctx context.Context, id int64) error

	// AddMember adds a membership; ErrConflict if the user is already a
	// member, ErrNotFound if the workspace does not exist.
	AddMember(ctx context.Context, m Member) error
	// UpdateMember changes a member's role; ErrNotFound if not a member.
	UpdateMember(ctx context.Context, m Member) error
	RemoveMember(ctx context.Context, workspaceID int64, userID string) error

	// CreateTable creates a table at version 1.
	CreateTable(ctx context.Context, t Table) (Table, error)
	// UpdateTable sets the table's Name and Order (Order <= 0 keeps it) and
	// returns it as it is after, its version increased by one.
	UpdateTable(ctx context.Context, t Table) (Table, error)
	// DeleteTable deletes the table with its fields, rows and views. Its
	// stream's counter and events stay (ids are never reused).
	DeleteTable(ctx context.Context, id int64) error

	// CreateField creates a field at version 1.
	CreateField(ctx context.Context, f Field) (Field, error)
	// UpdateField sets Name, Type, Primary, Options and Order (Order <= 0
	// keeps it) and returns the field as it is after, its version increased
	// by one (even when nothing else changed). Converting the rows' values to a new type is the caller's
	// business (UpdateRows).
	UpdateField(ctx context.Context, f Field) (Field, error)
	// DeleteField deletes the field and removes its key from the values of
	// every row of its table. Row versions do not change.
	DeleteField(ctx context.Context, id int64) error

	// InsertRows inserts a batch of rows: all or nothing.
	InsertRows(ctx context.Context, in NewRows) (InsertedRows, error)
	// UpdateRows applies the updates in the given order and returns the rows
	// as they are after them, each with its version increased by one. A row
	// that is not in the table fails the batch with ErrNotFound, a version
	// mismatch with ErrConflict.
	UpdateRows(ctx context.Context, tableID int64, updates []RowUpdate) ([]Row, error)
	// WriteRows is UpdateRows without reading the rows back, for a caller
	// that knows what it wrote (the service's document writes).
	WriteRows(ctx context.Context, tableID int64, updates []RowUpdate) error
	// DeleteRows deletes the rows of the table among ids and returns the ids
	// it deleted, ascending; ids that are not rows of the table are ignored.
	DeleteRows(ctx context.Context, tableID int64, ids []int64) ([]int64, error)

	// CreateView creates a view at version 1.
	CreateView(ctx context.Context, v View) (View, error)
	// UpdateView sets every property but ID, TableID and Version (Order <= 0
	// keeps it) and returns the view as it is after, its version increased by
	// one (even when nothing else changed).
	UpdateView(ctx context.Context, v View) (View, error)
	DeleteView(ctx context.Context, id int64) error

	// Savepoint runs fn as a nested transaction: when fn returns an error,
	// or a statement in it fails, what it did is undone and the
	// transaction goes on as it was before fn; fn's error is returned. A
	// transient conflict (see Update) is not undone: it aborts the
	// transaction, so that Update retries it whole. Group commit runs
	// several writes in one transaction this way.
	Savepoint(ctx context.Context, fn func() error) error

	// AppendDocOps records document changes in the op log, in this
	// transaction. A (Collection, DocID, Version) taken already is
	// ErrConflict.
	AppendDocOps(ctx context.Context, ops []DocOp) error

	// AppendEvent appends an event to the stream in this transaction and
	// returns its offset: the stream's previous top + 1. The event is seen by
	// others, and by Unpublished, once the transaction commits.
	AppendEvent(ctx context.Context, s Stream, typ string, payload json.RawMessage) (uint64, error)
	// AppendEvents appends the events in their order, as AppendEvent would
	// one after another, in a few statements, and returns their offsets.
	// An invalid event fails the call before anything is written.
	AppendEvents(ctx context.Context, evs []NewEvent) ([]uint64, error)
}

// Store is the persistence of tablecast.
type Store interface {
	Reader
	Webhooks

	// Update runs fn in one write transaction and commits it if fn returns
	// nil; fn's error rolls it back and is returned as is. When the engine
	// reports a transient conflict (SQLite busy, PostgreSQL serialization
	// failure or deadlock) the whole transaction is retried a few times, so
	// fn may run more than once: it must not have effects outside tx, and
	// it must not use the Store (only tx) while it runs.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Read runs fn in one read-only transaction: every read sees the same
	// snapshot (rows and StreamTop agree).
	Read(ctx context.Context, fn func(r Reader) error) error

	// Unpublished returns at most limit committed events that are not
	// marked published, oldest first (in each stream, in offset order).
	Unpublished(ctx context.Context, limit int) ([]Event, error)
	// MarkPublished records that the events were handed to the broker, in
	// one statement. Unknown keys are ignored.
	MarkPublished(ctx context.Context, keys ...EventKey) error
	// PruneEvents deletes published events created before olderThan and
	// returns how many; it also deletes the op log's entries created before
	// olderThan. It never deletes an unpublished event, nor any event
	// after an unpublished one in the same stream, so what is kept of a
	// stream stays contiguous. An event of a table a webhook has not
	// delivered yet is kept unless it was created before heldOlderThan;
	// so are the table's events and record op log entries created up to
	// heldLead before the first event the webhook has not delivered (the
	// later ones may be completed from them).
	PruneEvents(ctx context.Context, olderThan, heldOlderThan time.Time, heldLead time.Duration) (int64, error)

	// Migrate applies the schema migrations that are missing, each in its own
	// transaction. Running it again, or from two processes at once, is safe.
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error
}

// SingleWriter is implemented by stores that run one write transaction at
// a time (SQLite): their writers gain from group commit, several writes in
// one transaction, one sync to disk.
type SingleWriter interface {
	SingleWriter() bool
}

// Open opens the store that url names: sqlite://path (sqlite://:memory: is a
// private database removed on Close) or postgres:// / postgresql://. It does
// not migrate: call Migrate.
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case hasPrefixFold(url, "sqlite://"):
		return OpenSQLite(ctx, url)
	case hasPrefixFold(url, "postgres://"), hasPrefixFold(url, "postgresql://"):
		return OpenPostgres(ctx, url)
	}
	return nil, fmt.Errorf("store: unsupported database URL %q: want a sqlite:// or postgres:// URL", redactURL(url))
}
