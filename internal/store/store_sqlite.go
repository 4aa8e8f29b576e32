package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteStore is the embedded store: one database file in WAL mode, written
// through ONE connection (SQLite has one writer at a time anyway; serialising
// writers in Go spares them busy waits) and read through a pool of read-only
// connections, which in WAL mode never wait for the writer.
//
// URL: sqlite://path[?option=value...], the path relative to the working
// directory, or absolute as in sqlite:///var/lib/tablecast.db.
// sqlite://:memory: is a private database in a temporary file removed on Close
// (a true in-memory database could not be shared by the writer and the
// readers). Options:
//
//	synchronous   full (default: a commit survives a power cut) or normal
//	              (faster; a power cut may lose the last commits, a crash of
//	              the process loses nothing)
//	busy_timeout  milliseconds to wait for a lock on the database (default 5000)
//	read_conns    size of the read pool (default GOMAXPROCS, at least 2)
type SQLiteStore struct {
	sqlReader   // reads on the read pool
	sqlWebhooks // webhooks: reads on the read pool, writes on the writer

	rd, wr *sql.DB
	// The prepared statements of each pool (see stmtcache.go).
	rdStmts, wrStmts *stmtCache
	path             string
	tempDir          string    // set for :memory:, removed on Close
	lock             *fileLock // on path+".lock" (not for :memory:), released on Close

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLite opens (creating it if needed) the database that url names; see
// SQLiteStore. It does not migrate. One store at a time holds a database
// file: OpenSQLite first takes an exclusive lock on the file named by the
// database's path with ".lock" added (created 0600 if missing, left in place
// on Close), and fails at once with an error wrapping ErrLocked while
// another process, or another store of this one, holds it. The lock is
// flock(2), on Unix systems only (see lock_other.go).
func OpenSQLite(ctx context.Context, rawURL string) (*SQLiteStore, error) {
	rest, ok := cutPrefixFold(rawURL, "sqlite://")
	if !ok {
		return nil, fmt.Errorf("store: %q is not a sqlite:// URL", rawURL)
	}
	p, query, _ := strings.Cut(rest, "?")
	if p == "" {
		return nil, fmt.Errorf("store: %q names no database file", rawURL)
	}
	opts, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("store: %q: options: %w", rawURL, err)
	}
	syncMode := "FULL"
	busy := 5000
	readConns := max(2, runtime.GOMAXPROCS(0))
	for k, vs := range opts {
		v := vs[len(vs)-1]
		switch k {
		case "synchronous":
			switch strings.ToUpper(v) {
			case "FULL", "NORMAL":
				syncMode = strings.ToUpper(v)
			default:
				return nil, fmt.Errorf("store: %q: synchronous=%q: want full or normal", rawURL, v)
			}
		case "busy_timeout":
			if busy, err = strconv.Atoi(v); err != nil || busy < 0 {
				return nil, fmt.Errorf("store: %q: busy_timeout=%q: want milliseconds", rawURL, v)
			}
		case "read_conns":
			if readConns, err = strconv.Atoi(v); err != nil || readConns < 1 {
				return nil, fmt.Errorf("store: %q: read_conns=%q: want a positive number", rawURL, v)
			}
		default:
			return nil, fmt.Errorf("store: %q: unknown option %q (want synchronous, busy_timeout or read_conns)", rawURL, k)
		}
	}

	s := &SQLiteStore{path: p}
	if p == ":memory:" {
		// A private directory no other process knows of: no lock.
		if s.tempDir, err = os.MkdirTemp("", "tablecast-sqlite-"); err != nil {
			return nil, fmt.Errorf("store: temporary database: %w", err)
		}
		s.path = filepath.Join(s.tempDir, "tablecast.db")
	} else {
		// One process per database file (the service keeps state in
		// memory that only holds while it is the only writer): the lock
		// is taken before the database is opened and held until Close.
		lockPath := lockPathFor(s.path)
		if s.lock, err = lockFile(lockPath); errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s (its lock file %s is held: stop that process first; several nodes need PostgreSQL)",
				ErrLocked, s.path, lockPath)
		} else if err != nil {
			return nil, err
		}
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busy)
	// temp_store(2): the writer's statement journals (the pages a
	// multi-row statement or a savepoint may have to put back) stay in
	// memory; by default past 64 KiB they went to a temporary file, a
	// write system call per page. Commits still go to the WAL whole.
	s.wr, err = sql.Open("sqlite", s.path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+syncMode+")&_pragma=temp_store(2)&_txlock=immediate")
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("store: open %s: %w", s.path, err)
	}
	s.wr.SetMaxOpenConns(1)
	s.wr.SetMaxIdleConns(1)
	s.wr.SetConnMaxLifetime(0)
	s.wr.SetConnMaxIdleTime(0)
	// The writer's first connection creates the file and turns WAL on before
	// any reader opens it.
	var mode string
	if err := s.wr.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("store: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.cleanup()
		return nil, fmt.Errorf("store: open %s: journal mode is %q, WAL could not be set", s.path, mode)
	}
	s.rd, err = sql.Open("sqlite", s.path+"?"+common+"&_query_only=1")
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("store: open %s: %w", s.path, err)
	}
	s.rd.SetMaxOpenConns(readConns)
	s.rd.SetMaxIdleConns(readConns)
	s.rd.SetConnMaxIdleTime(0)
	s.wrStmts, s.rdStmts = newStmtCache(s.wr), newStmtCache(s.rd)
	s.sqlReader = sqlReader{q: cachedQuerier{cache: s.rdStmts}, d: sqliteDialect}
	s.sqlWebhooks = sqlWebhooks{whRead: s.q, whD: s.d, whTx: func(ctx context.Context, fn func(q querier) error) error {
		return retryTx(ctx, s.d.isRetryable, func() error { return s.inTx(ctx, s.wr, nil, fn) })
	}}
	return s, nil
}

func (s *SQLiteStore) cleanup() error {
	var errs []error
	for _, c := range []*stmtCache{s.rdStmts, s.wrStmts} {
		if c != nil {
			errs = append(errs, c.close())
		}
	}
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
	}
	if s.wr != nil {
		errs = append(errs, s.wr.Close())
	}
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
	}
	// Last: the database is closed before another process may open it.
	errs = append(errs, s.lock.release())
	return errors.Join(errs...)
}

// Close closes the connections (and removes a :memory: database), then
// releases the database's lock.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.cleanup() })
	return s.closeErr
}

// Ping checks both the writer and a reader.
func (s *SQLiteStore) Ping(ctx context.Context) error {
	if err := s.wr.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite writer: %w", err)
	}
	if err := s.rd.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite reader: %w", err)
	}
	return nil
}

// SingleWriter reports that SQLite runs one write transaction at a time.
func (s *SQLiteStore) SingleWriter() bool { return true }

// Update runs fn in a BEGIN IMMEDIATE transaction on the write connection.
func (s *SQLiteStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	return retryTx(ctx, s.d.isRetryable, func() error {
		return s.inTx(ctx, s.wr, nil, func(q querier) error {
			tx := newSQLTx(q, s.d)
			if err := fn(tx); err != nil {
				return err
			}
			return tx.failed()
		})
	})
}

// Read runs fn in a read transaction on the read pool: one WAL snapshot.
func (s *SQLiteStore) Read(ctx context.Context, fn func(r Reader) error) error {
	return s.inTx(ctx, s.rd, &sql.TxOptions{ReadOnly: true}, func(q querier) error {
		return fn(&sqlReader{q: q, d: s.d})
	})
}

// inTx runs fn in a transaction of db and commits it if fn returns nil; a
// panic in fn rolls back and goes on.
func (s *SQLiteStore) inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(q querier) error) (err error) {
	cache := s.rdStmts
	if db == s.wr {
		cache = s.wrStmts
	}
	var missed []string
	// Deferred first, so run last: after the commit or the rollback, when
	// the pool's connection is free to prepare on.
	defer func() { cache.prepare(context.WithoutCancel(ctx), missed) }()
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return s.d.mapErr(err, "begin transaction")
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	if err := fn(cachedQuerier{tx: tx, cache: cache, missed: &missed}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return s.d.mapErr(err, "commit")
	}
	return nil
}

// Unpublished reads from the read pool.
func (s *SQLiteStore) Unpublished(ctx context.Context, limit int) ([]Event, error) {
	return relay{q: s.q, d: s.d}.unpublished(ctx, limit)
}

// MarkPublished writes through the write connection, one statement.
func (s *SQLiteStore) MarkPublished(ctx context.Context, keys ...EventKey) error {
	return relay{q: sqlQuerier{s.wr}, d: s.d}.markPublished(ctx, keys)
}

// PruneEvents deletes in batches, each its own short write.
func (s *SQLiteStore) PruneEvents(ctx context.Context, olderThan, heldOlderThan time.Time, heldLead time.Duration) (int64, error) {
	return relay{q: sqlQuerier{s.wr}, d: s.d}.prune(ctx, olderThan, heldOlderThan, heldLead)
}

// Migrate applies the missing migrations; BEGIN IMMEDIATE keeps another
// process out while each one runs.
func (s *SQLiteStore) Migrate(ctx context.Context) error {
	return runMigrations(ctx, "sqlite", s.d, sqliteMigrator{s})
}

type sqliteMigrator struct{ s *SQLiteStore }

func (m sqliteMigrator) inMigrationTx(ctx context.Context, fn func(q querier) error) error {
	return retryTx(ctx, m.s.d.isRetryable, func() error { return m.s.inTx(ctx, m.s.wr, nil, fn) })
}

// sqlQuerier runs statements through database/sql: a *sql.DB or a *sql.Tx.
type sqlQuerier struct {
	c interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rowsIter, error) {
	rows, err := q.c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) scanner {
	return q.c.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

var sqliteDialect = func() *dialect {
	d := &dialect{
		name: "sqlite",
		macros: strings.NewReplacer(
			"{ord}", "ord AS ord_text",
			"{ordp}", "?",
			"{json}", "json(?)",
			"{id_in}", "id IN (SELECT value FROM json_each(?))",
			"{key_in}", `field_key IN (SELECT '"' || value || '"' FROM json_each(?))`,
			"{+}", "+",
			"{T}", "1",
			"{-us}", "- ?",
			"{F}", "0",
			"{override}", "",
			"{cellvalue}", "COALESCE(c.value, (SELECT b.value FROM cell_bodies b WHERE b.id = c.body))",
		),
		skipLocked: "",
		lockTable:  "SELECT fields_version FROM tables WHERE id = ?",
		ts:         func(t time.Time) any { return t.UnixMicro() },
		order:      func(n *big.Int) any { return paddedOrder(n) },
		ids: func(ids []int64) any {
			b, _ := json.Marshal(ids)
			return string(b)
		},
		shiftRows: `UPDATE table_rows SET ord = printf('%020d', CAST(substr(ord, 1, 20) AS INTEGER) + 1) || substr(ord, 21)
			WHERE table_id = ? AND (ord, id) >= (?, ?)`,
		// CROSS JOIN keeps the runs outside, each a range of the events'
		// unique index.
		markPublished: `DELETE FROM outbox WHERE seq IN (SELECT e.seq FROM json_each(?) AS k CROSS JOIN events e
			ON e.stream_kind = k.value ->> 0 AND e.stream_id = k.value ->> 1
			AND e.stream_offset BETWEEN k.value ->> 2 AND k.value ->> 3)`,
		markPublishedArgs: func(runs []keyRun) []any {
			a := make([][4]int64, len(runs))
			for i, r := range runs {
				a[i] = [4]int64{int64(r.s.Kind), r.s.ID, int64(r.from), int64(r.to)}
			}
			b, _ := json.Marshal(a)
			return []any{string(b)}
		},
		isUnique: func(err error) bool {
			c, ok := sqliteCode(err)
			return ok && (c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
		},
		isForeignKey: func(err error) bool {
			c, ok := sqliteCode(err)
			return ok && c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
		},
		isNoRows: func(err error) bool { return errors.Is(err, sql.ErrNoRows) },
		isRetryable: func(err error) bool {
			c, ok := sqliteCode(err)
			return ok && (c&0xff == sqlite3.SQLITE_BUSY || c&0xff == sqlite3.SQLITE_LOCKED)
		},
	}
	d.build()
	return d
}()

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func hasPrefixFold(s, prefix string) bool {
	_, ok := cutPrefixFold(s, prefix)
	return ok
}

// redactURL hides a password in a database URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// lockPathFor names the lock file of the database at path: beside the file
// the path leads to, as SQLite follows symbolic links to put its -wal and
// -shm files there. A link to a database not created yet is followed too
// (SQLite creates the file it points to). Two stores that reach one
// database through different links then meet at one lock file. Links in
// the path's directories need nothing: they lead to the same lock file
// whatever its name. A hard link is another name for the file, and is not
// recognised.
func lockPathFor(path string) string {
	for range maxLinks {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			return r + ".lock"
		}
		target, err := os.Readlink(path)
		if err != nil {
			break // not a link: a database not created yet
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return path + ".lock"
}

// maxLinks bounds lockPathFor's links to missing files: a longer chain is
// a loop, which SQLite refuses to open anyway.
const maxLinks = 40
