package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// Publisher hands committed events to the broker. The service calls it once
// after each write commits, with that write's events in the order they were
// appended: in offset order within each stream (a write may touch several
// streams: deleting a workspace ends each of its tables' streams and appends
// to the workspace's). CreatedAt is the service's clock at the write, not
// the stored created_at. An error is logged and nothing else: the relay
// publishes every committed event that is not marked published, so a failed
// Publish delays the events, it does not lose them. Marking events published
// (store.MarkPublished) is the Publisher's business.
type Publisher interface {
	Publish(ctx context.Context, events []store.Event) error
}

// Config configures a Service. Zero values mean the defaults.
type Config struct {
	Store store.Store
	// Publisher receives the events of each committed write; nil leaves
	// them to the relay.
	Publisher Publisher
	Logger    *slog.Logger
	// Now is the clock of tokens and event times; nil is time.Now.
	Now func() time.Time
	// Secret keys the public view tokens and the row list cursors (HMAC-SHA256
	// and AES-256-GCM under keys derived from it). Give every node the same
	// secret, at least 32 bytes; empty means a random one per process, with
	// which tokens and cursors do not survive a restart or cross nodes.
	Secret []byte
	// ViewTokenTTL is how long a public view token is valid; default 1 hour.
	ViewTokenTTL time.Duration
	// MaxSortRows caps the rows a sorted listing reads: a sort (or a view's
	// sort) on a table with more rows is refused; default 100,000.
	MaxSortRows int
	// PasswordIterations is the PBKDF2-HMAC-SHA256 work factor of view
	// passwords; default 600,000 (OWASP's figure). Tests lower it.
	PasswordIterations int
	// ColdSubmits turns hot documents off (hotdocs.go): every submit then
	// reads and works out its document inside its write transaction. For
	// comparisons in tests and benchmarks.
	ColdSubmits bool
}

// Service is the table store's application layer: every REST operation as
// one method that checks the caller's role, validates with package table,
// writes in one store transaction together with its events, and publishes
// the events after the commit. It is safe for concurrent use.
type Service struct {
	store      store.Store
	pub        Publisher
	log        *slog.Logger
	now        func() time.Time
	tokenKey   []byte
	cursorKey  []byte
	tokenTTL   time.Duration
	maxSort    int
	iterations int
	// group, when the store has one writer, commits writes in groups
	// (commit.go); nil otherwise, and tables commits each table's row
	// writes in groups of their own (commit_table.go).
	group  *groupCommit
	tables *tableGroups
	// ops caches recent op log entries (opcache.go).
	ops *opCache
	// hot keeps the records being edited through ops (hotdocs.go), used
	// unless Config.ColdSubmits.
	hot        *hotDocs
	hotSubmits bool
}

// Defaults of Config.
const (
	DefaultViewTokenTTL       = time.Hour
	DefaultMaxSortRows        = 100_000
	DefaultPasswordIterations = 600_000
)

// New returns a Service; Config.Store is required.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("service: Config.Store is required")
	}
	s := &Service{
		store:      cfg.Store,
		pub:        cfg.Publisher,
		log:        cfg.Logger,
		now:        cfg.Now,
		tokenTTL:   cfg.ViewTokenTTL,
		maxSort:    cfg.MaxSortRows,
		iterations: cfg.PasswordIterations,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ops = newOpCache()
	s.hot = newHotDocs(s.store, s.now, s.ops)
	if sw, ok := cfg.Store.(store.SingleWriter); ok && sw.SingleWriter() {
		s.group = newGroupCommit(s.store, s.now, s.ops, commitHooks{settle: s.hot.settle, publish: s.publish})
	} else {
		s.tables = newTableGroups(func() *groupCommit {
			return newGroupCommit(s.store, s.now, s.ops, commitHooks{settle: s.hot.settle, publish: s.publish})
		})
	}
	s.hotSubmits = !cfg.ColdSubmits
	if s.tokenTTL <= 0 {
		s.tokenTTL = DefaultViewTokenTTL
	}
	if s.maxSort <= 0 {
		s.maxSort = DefaultMaxSortRows
	}
	if s.iterations <= 0 {
		s.iterations = DefaultPasswordIterations
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("service: random secret: %w", err)
		}
	}
	s.tokenKey = deriveKey(secret, "tablecast public view token")
	s.cursorKey = deriveKey(secret, "tablecast row cursor")
	return s, nil
}

// Actor is who makes a request: the JWT subject and, for writes, the id of
// the caller's own socket (the X-WebSocket-Id or WebSocketId header, "" if
// none), recorded in the events as their origin so that the dialects leave
// that socket out of the broadcast.
type Actor struct {
	UserID string
	Origin string
}

// Errors of the service are event's (event.ErrNotFound, event.Error...);
// test with errors.Is. Every error the service returns is an *event.Error
// with a message for the caller, a *table.ValidationError, or an
// unexpected failure (a 500).

func errorf(kind error, format string, args ...any) error {
	return &event.Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// storeErr maps a store error that the service did not handle itself
// (typically a race with another writer) to a service error.
func storeErr(err error) error {
	var se *event.Error
	switch {
	case err == nil || errors.As(err, &se):
		return err
	case errors.Is(err, store.ErrConflict):
		return &event.Error{Kind: event.ErrConflict, Message: "the change conflicts with a concurrent change; retry"}
	case errors.Is(err, store.ErrNotFound):
		return &event.Error{Kind: event.ErrNotFound, Message: "not found (it may have just been deleted)"}
	}
	return err
}

// rank orders roles: a role may do what any lower rank may.
func rank(r store.Role) int {
	switch r {
	case store.RoleAdmin:
		return 3
	case store.RoleEditor:
		return 2
	case store.RoleViewer:
		return 1
	}
	return 0
}

// workspaceRole returns the user's role in the workspace, checking that it
// is at least need. Not being a member, or the workspace not existing, is
// ErrNotFound.
func workspaceRole(ctx context.Context, r store.Reader, user string, wsID int64, need store.Role) (store.Role, error) {
	role, err := r.MemberRole(ctx, wsID, user)
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(event.ErrNotFound, "workspace %d does not exist", wsID)
	}
	if err != nil {
		return "", err
	}
	if rank(role) < rank(need) {
		return role, errorf(event.ErrForbidden, "your role in workspace %d (%s) does not allow this; it needs %s", wsID, role, need)
	}
	return role, nil
}

// tableAccess reads the table and checks the user's role in its workspace.
// A table of a workspace the user is not in is ErrNotFound.
func tableAccess(ctx context.Context, r store.Reader, user string, tableID int64, need store.Role) (store.Table, store.Role, error) {
	t, err := r.Table(ctx, tableID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Table{}, "", errorf(event.ErrNotFound, "table %d does not exist", tableID)
	}
	if err != nil {
		return store.Table{}, "", err
	}
	role, err := r.MemberRole(ctx, t.WorkspaceID, user)
	if errors.Is(err, store.ErrNotFound) {
		return store.Table{}, "", errorf(event.ErrNotFound, "table %d does not exist", tableID)
	}
	if err != nil {
		return store.Table{}, "", err
	}
	if rank(role) < rank(need) {
		return t, role, errorf(event.ErrForbidden, "your role (%s) does not allow this on table %d; it needs %s", role, tableID, need)
	}
	if w, ok := r.(*writeTx); ok {
		if err := w.lockTable(t.ID); err != nil {
			return store.Table{}, "", err
		}
	}
	return t, role, nil
}

// tableAccessMemo is tableAccess, remembered for the rest of a group
// commit's transaction (txOps), and for the batches after it until a write
// emits an event that may change it (groupCommit.access): the same user's
// other writes to the same table do not read it again.
func (w *writeTx) tableAccessMemo(user string, tableID int64, need store.Role) (store.Table, error) {
	if w.batch == nil {
		t, _, err := tableAccess(w.ctx, w, user, tableID, need)
		return t, err
	}
	k := accessKey{user, tableID}
	m, ok := w.batch.access[k]
	if !ok && w.batch.prior != nil {
		m, ok = w.batch.prior.access[k]
	}
	if !ok {
		t, role, err := tableAccess(w.ctx, w, user, tableID, store.RoleViewer)
		if err != nil {
			return store.Table{}, err
		}
		m = accessMemo{t: t, role: role}
		if w.batch.access == nil {
			w.batch.access = make(map[accessKey]accessMemo)
		}
		w.batch.access[k] = m
	}
	if rank(m.role) < rank(need) {
		return m.t, errorf(event.ErrForbidden, "your role (%s) does not allow this on table %d; it needs %s", m.role, tableID, need)
	}
	return m.t, nil
}

// schemaMemo is loadSchema, remembered like tableAccessMemo (a field
// change emits an event). Callers must not change the fields it returns.
func (w *writeTx) schemaMemo(tableID int64) (*schema, error) {
	if w.batch == nil {
		return loadSchema(w.ctx, w, tableID)
	}
	if sc, ok := w.batch.schemas[tableID]; ok {
		return sc, nil
	}
	if p := w.batch.prior; p != nil && p.schemas[tableID] != nil {
		return p.schemas[tableID], nil
	}
	sc, err := loadSchema(w.ctx, w, tableID)
	if err != nil {
		return nil, err
	}
	w.batch.setSchema(tableID, sc)
	return sc, nil
}

// TableLocker is an optional ability of a store.Tx: LockTable holds a lock
// on the table until the transaction ends, so that writers to one table run
// one after another from their first read (the schema they validate
// against) to their commit. Every table write of the service calls it
// right after the role check when the store's Tx has it. SQLite needs no
// lock (one writer at a time); on PostgreSQL at READ COMMITTED, without
// it, a row write racing a field change may validate against the schema
// from before the change (writers are otherwise serialised only from
// their AppendEvent on).
//
// It returns the table's fields version, which counts its field changes
// and which no other transaction can change while the lock is held: a
// schema read at that version is still the table's (tableGroups keeps one
// per table across batches).
type TableLocker interface {
	LockTable(ctx context.Context, tableID int64) (fieldsVersion int64, err error)
}

func (w *writeTx) lockTable(id int64) error {
	if w.batch != nil && w.batch.locked == id {
		return nil // the batch holds it (tableGroups)
	}
	if l, ok := w.Tx.(TableLocker); ok {
		_, err := l.LockTable(w.ctx, id)
		return err
	}
	return nil
}

// TableRole returns the user's role for a table, or ErrNotFound when the
// table does not exist or the user is not a member of its workspace. The
// dialects authorise subscriptions with it.
func (s *Service) TableRole(ctx context.Context, userID string, tableID int64) (store.Role, error) {
	_, role, err := tableAccess(ctx, s.store, userID, tableID, store.RoleViewer)
	return role, err
}

// WorkspaceRole returns the user's role in a workspace, or ErrNotFound.
func (s *Service) WorkspaceRole(ctx context.Context, userID string, workspaceID int64) (store.Role, error) {
	return workspaceRole(ctx, s.store, userID, workspaceID, store.RoleViewer)
}

// read runs fn in one read transaction (one snapshot).
func (s *Service) read(ctx context.Context, fn func(r store.Reader) error) error {
	return storeErr(s.store.Read(ctx, fn))
}
