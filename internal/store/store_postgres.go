package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore is the shared store of several nodes, on a pgx pool. The URL
// is a libpq URL (postgres:// or postgresql://) and takes pgx's pool options
// (pool_max_conns and others).
//
// Update runs at READ COMMITTED: the stream counter's UPDATE waits for a
// concurrent writer of the same stream and then increments what it
// committed, so writers to one table queue on that row instead of failing
// and retrying as they would under REPEATABLE READ. Row updates merge and
// check versions in the UPDATE itself, so they need no stronger level.
// Read runs at REPEATABLE READ, READ ONLY: one snapshot.
type PostgresStore struct {
	sqlReader   // reads on the pool
	sqlWebhooks // webhooks, on the pool

	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgres connects to the database that url names and checks that it
// answers. It does not migrate.
func OpenPostgres(ctx context.Context, url string) (*PostgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres URL %s: %w", redactURL(url), err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", redactURL(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redactURL(url), err)
	}
	s := &PostgresStore{sqlReader: sqlReader{q: pgQuerier{pool}, d: postgresDialect}, pool: pool}
	s.sqlWebhooks = sqlWebhooks{whRead: s.q, whD: s.d, whTx: func(ctx context.Context, fn func(q querier) error) error {
		return retryTx(ctx, s.d.isRetryable, func() error {
			return s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		})
	}}
	return s, nil
}

// Pool is the connection pool, for callers that need PostgreSQL itself
// (LISTEN/NOTIFY, tests).
func (s *PostgresStore) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool, waiting for connections in use to be released.
func (s *PostgresStore) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

func (s *PostgresStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	return nil
}

func (s *PostgresStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	return retryTx(ctx, s.d.isRetryable, func() error {
		return s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(q querier) error {
			tx := newSQLTx(q, s.d)
			if err := fn(tx); err != nil {
				return err
			}
			return tx.failed()
		})
	})
}

func (s *PostgresStore) Read(ctx context.Context, fn func(r Reader) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.inTx(ctx, opts, func(q querier) error { return fn(&sqlReader{q: q, d: s.d}) })
}

// inTx runs fn in a transaction and commits it if fn returns nil; a panic in
// fn rolls back and goes on.
func (s *PostgresStore) inTx(ctx context.Context, opts pgx.TxOptions, fn func(q querier) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return s.d.mapErr(err, "begin transaction")
	}
	done := false
	defer func() {
		if !done {
			// A rollback must run even when ctx is done.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(pgQuerier{tx}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(ctx); err != nil {
		return s.d.mapErr(err, "commit")
	}
	return nil
}

func (s *PostgresStore) Unpublished(ctx context.Context, limit int) ([]Event, error) {
	return relay{q: s.q, d: s.d}.unpublished(ctx, limit)
}

func (s *PostgresStore) MarkPublished(ctx context.Context, keys ...EventKey) error {
	return relay{q: s.q, d: s.d}.markPublished(ctx, keys)
}

func (s *PostgresStore) PruneEvents(ctx context.Context, olderThan, heldOlderThan time.Time, heldLead time.Duration) (int64, error) {
	return relay{q: s.q, d: s.d}.prune(ctx, olderThan, heldOlderThan, heldLead)
}

// migrationLockKey is the advisory lock held while a migration runs: a fixed
// number ("tablecast" in ASCII, truncated to 63 bits).
const migrationLockKey int64 = 0x7461626c65636173

// Migrate applies the missing migrations, each in a transaction that first
// takes a transaction-level advisory lock, so two processes starting at once
// apply each migration once.
func (s *PostgresStore) Migrate(ctx context.Context) error {
	return runMigrations(ctx, "postgres", s.d, pgMigrator{s})
}

type pgMigrator struct{ s *PostgresStore }

func (m pgMigrator) inMigrationTx(ctx context.Context, fn func(q querier) error) error {
	return m.s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(q querier) error {
		if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return err
		}
		return fn(q)
	})
}

// pgQuerier runs statements through pgx: the pool or a transaction.
type pgQuerier struct {
	c interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) query(ctx context.Context, sql string, args ...any) (rowsIter, error) {
	return q.c.Query(ctx, sql, args...)
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args ...any) scanner {
	return q.c.QueryRow(ctx, sql, args...)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var postgresDialect = func() *dialect {
	d := &dialect{
		name: "postgres",
		macros: strings.NewReplacer(
			"{ord}", "ord::text AS ord_text",
			"{ordp}", "?::text::numeric",
			"{json}", "?::jsonb",
			"{id_in}", "id = ANY(?::bigint[])",
			"{key_in}", `field_key IN (SELECT '"' || k || '"' FROM unnest(?::bigint[]) AS k)`,
			"{+}", "",
			"{T}", "TRUE",
			"{-us}", "- (?::bigint * interval '1 microsecond')",
			"{F}", "FALSE",
			"{override}", "OVERRIDING SYSTEM VALUE",
			"{cellvalue}", "c.value",
		),
		skipLocked:  "FOR UPDATE SKIP LOCKED",
		lazyRelease: true,
		bumpRowID: `SELECT setval(pg_get_serial_sequence('table_rows', 'id'),
			GREATEST(?::bigint, (SELECT last_value FROM table_rows_id_seq)))`,
		rebind: true,
		ts:     func(t time.Time) any { return t },
		order:  func(n *big.Int) any { return formatOrder(n) },
		ids:    func(ids []int64) any { return ids },
		shiftRows: `UPDATE table_rows SET ord = ord + 1
			WHERE table_id = ? AND (ord, id) >= (?::text::numeric, ?)`,
		lockTable: `SELECT fields_version FROM tables WHERE id = $1 FOR UPDATE`,
		eventsBulk: `INSERT INTO events (stream_kind, stream_id, stream_offset, type, payload, created_at)
			SELECT k, i, o, t, p::json, ?::timestamptz FROM unnest(?::smallint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[]) AS e (k, i, o, t, p)`,
		docOpsBulk: `INSERT INTO doc_ops (collection, doc_id, version, op, src, seq, stream_offset, created_at)
			SELECT c, d, v, op::json, s, q, o, ?::timestamptz FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
				AS e (c, d, v, op, s, q, o)`,
		cellsBulk: `INSERT INTO row_cells (row_id, field_key, value) SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[])
			ON CONFLICT (row_id, field_key) DO UPDATE SET value = excluded.value`,
		writeHeads: `UPDATE table_rows AS t SET version = v.version, updated_at = v.at,
				whole_version = CASE WHEN v.wv = 0 THEN t.whole_version ELSE v.wv END,
				whole_at = CASE WHEN v.wv = 0 THEN t.whole_at ELSE v.wat END,
				whole_bytes = CASE WHEN v.wv = 0 THEN t.whole_bytes ELSE v.wb END
			FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::timestamptz[], ?::bigint[], ?::timestamptz[], ?::integer[])
				AS v (id, expected, version, at, wv, wat, wb)
			WHERE t.table_id = ? AND t.id = v.id AND t.version = v.expected`,
		appendEvent: `WITH next AS (
				INSERT INTO streams (kind, id, last_offset) VALUES (?::smallint, ?::bigint, 1)
				ON CONFLICT (kind, id) DO UPDATE SET last_offset = streams.last_offset + 1
				RETURNING last_offset)
			INSERT INTO events (stream_kind, stream_id, stream_offset, type, payload, created_at)
			SELECT ?::smallint, ?::bigint, next.last_offset, ?::text, ?::json, ?::timestamptz FROM next
			RETURNING stream_offset`,
		markPublished: `DELETE FROM outbox o USING events e,
			unnest(?::smallint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS k (kind, id, first, last)
			WHERE o.seq = e.seq AND e.stream_kind = k.kind AND e.stream_id = k.id
			AND e.stream_offset BETWEEN k.first AND k.last`,
		markPublishedArgs: func(runs []keyRun) []any {
			kinds := make([]int16, len(runs))
			ids := make([]int64, len(runs))
			firsts := make([]int64, len(runs))
			lasts := make([]int64, len(runs))
			for i, r := range runs {
				kinds[i], ids[i], firsts[i], lasts[i] = int16(r.s.Kind), r.s.ID, int64(r.from), int64(r.to)
			}
			return []any{kinds, ids, firsts, lasts}
		},
		isUnique:     func(err error) bool { return pgCode(err) == "23505" },
		isForeignKey: func(err error) bool { return pgCode(err) == "23503" },
		isNoRows:     func(err error) bool { return errors.Is(err, pgx.ErrNoRows) },
		isRetryable: func(err error) bool {
			c := pgCode(err)
			return c == "40001" || c == "40P01" // serialization_failure, deadlock_detected
		},
	}
	d.build()
	return d
}()
