package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of one *sql.DB by their text, so
// that SQLite does not parse a statement again on each call (parsing was a
// fifth of a small write's CPU). database/sql prepares a cached statement
// once per connection and, in a transaction, Tx.StmtContext reuses the
// connection's. Statements built with a varying number of rows (multi-row
// INSERTs) are many distinct texts: past maxCachedStmts, new texts run
// unprepared.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

const maxCachedStmts = 256

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement of query, or nil when it is not
// cached yet.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// prepare caches the statements of queries that are not cached yet,
// while there is room. It must run outside a transaction of the pool:
// preparing takes a connection (the writer pool has one). No lock is held
// while preparing: a transaction holding the connection must be able to
// read the cache and finish.
func (c *stmtCache) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		c.mu.RLock()
		_, ok := c.m[q]
		full := len(c.m) >= maxCachedStmts
		c.mu.RUnlock()
		if ok || full {
			continue
		}
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok || len(c.m) >= maxCachedStmts {
			_ = s.Close()
		} else {
			c.m[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for k, s := range c.m {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, k)
	}
	return first
}

// cachedQuerier runs statements through the cache, in a transaction (tx)
// or on the cache's pool (tx nil). Statements it does not find run as
// text and are noted in missed, for the cache to prepare after the
// transaction.
type cachedQuerier struct {
	tx     *sql.Tx
	cache  *stmtCache
	missed *[]string
}

// direct is where a statement the cache does not hold runs.
func (q cachedQuerier) direct() interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
} {
	if q.tx != nil {
		return q.tx
	}
	return q.cache.db
}

func (q cachedQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	s := q.cache.get(query)
	if s == nil {
		switch {
		case q.tx == nil: // on the pool: prepare now, use next time
			q.cache.prepare(ctx, []string{query})
		case len(*q.missed) < 64:
			*q.missed = append(*q.missed, query)
		}
		return nil
	}
	if q.tx == nil {
		return s
	}
	return q.tx.StmtContext(ctx, s)
}

func (q cachedQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if s := q.stmt(ctx, query); s != nil {
		res, err = s.ExecContext(ctx, args...)
	} else {
		res, err = q.direct().ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q cachedQuerier) query(ctx context.Context, query string, args ...any) (rowsIter, error) {
	var rows *sql.Rows
	var err error
	if s := q.stmt(ctx, query); s != nil {
		rows, err = s.QueryContext(ctx, args...)
	} else {
		rows, err = q.direct().QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q cachedQuerier) queryRow(ctx context.Context, query string, args ...any) scanner {
	if s := q.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return q.direct().QueryRowContext(ctx, query, args...)
}
