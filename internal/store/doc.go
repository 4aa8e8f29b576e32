// Package store persists tablecast's table databases: workspaces, members,
// tables, fields, rows and views, and the outbox of events that every write
// appends in the same transaction.
//
// The Store interface (store.go) has two implementations that pass one
// contract suite (store_contract*_test.go): SQLite (store_sqlite.go, embedded,
// the default: sqlite://path) and PostgreSQL (store_postgres.go, pgx, for
// several nodes: postgres://...). Open picks one from the URL; Migrate applies
// the embedded, versioned migrations (migrations/<engine>/NNNN_name.sql,
// recorded in schema_migrations). Both engines run the same Go code
// (sql_reader.go, sql_writer.go, sql_events.go); what differs is a dialect
// (sql_dialect.go): placeholders, a few SQL fragments, argument encodings and
// error codes.
//
// The store persists; it does not interpret cell values (package table
// validates them against field types). Field options, view filters and
// sorts, and row values are JSON.
//
// # Schema choices (the same meaning on both engines)
//
//   - Ids are assigned by the store and never reused (AUTOINCREMENT on
//     SQLite, identity columns on PostgreSQL): an id names one thing for good,
//     in events and in clients' caches.
//   - Times are UTC with microsecond precision: INTEGER unix microseconds on
//     SQLite, TIMESTAMPTZ on PostgreSQL.
//   - Row order (order.go) is a non-negative decimal with 20 fraction digits,
//     canonical text "1.00000000000000000000". PostgreSQL stores
//     NUMERIC(40,20); SQLite stores fixed-width TEXT, the integer part
//     zero-padded to 20 digits ("00000000000000000001.00000000000000000000"),
//     whose byte order is numeric order. Either way ORDER BY ord, id lists
//     rows in order and the index (table_id, ord, id) serves keyset pages.
//     New rows at the end take the next integers; rows inserted before a row
//     take evenly spaced orders between it and its predecessor. When that gap
//     runs out (about 66 inserts before the same row), the row and all rows
//     after it move up by 1 in one UPDATE and InsertedRows.Shifted says so.
//   - Row values are a JSON object keyed by field id, stored one cell per
//     line of row_cells (row_id, field_key, value; migration 0006): the key
//     as a JSON string, the value as compact JSON text, TEXT on both
//     engines. A read joins a row's cells into its object in SQL
//     (rowCells, string_agg in field order) without parsing a value; a
//     merge upserts the cells it names and nothing else, so changing a cell
//     of a wide row costs that cell, not the row. A merge keeps JSON null as
//     a value (it is not RFC 7396's "delete"). Deleting a field deletes its cells; deleting a row
//     deletes its cells by foreign key. RowCells reads a row with a few of
//     its cells, for a caller that changes those only. On SQLite a value
//     over cellInlineMax (4,000 bytes) is kept in cell_bodies and its line
//     holds the body's id instead (migration 0009), so that no line of the
//     WITHOUT ROWID table overflows its page; triggers remove a body with
//     its line. {cellvalue} reads either.
//   - A row keeps its last event that held it whole (whole_version,
//     whole_at, whole_bytes; migration 0007), as the writer of that event
//     told (RowUpdate.WholeVersion). Deleting a field sets whole_version to
//     0, none known, on the rows it took a cell from.
//   - Field names are unique within a table, a table has at most one primary
//     field, view slugs are unique (NULL when none): ErrConflict.
//
// # Streams and the outbox
//
// Every event belongs to a stream: a table's (StreamTable) or a workspace's
// (StreamWorkspace, for table created/deleted and membership changes). The
// stream key is the pair (kind, id), so table 5 and workspace 5 are
// different streams. Table streams(kind, id, last_offset) holds one counter
// per stream; AppendEvent increments it with an upsert ... RETURNING inside
// the caller's transaction and writes the event row (events: seq, stream_kind,
// stream_id, stream_offset, type, payload, created_at) in the same
// transaction; the events_outbox trigger puts its seq in table outbox, still
// in that transaction, where it stays until MarkPublished deletes it (an
// event is published when its seq is not in outbox). The counter row stays locked until commit, so two writers on
// one stream get consecutive offsets; a rollback undoes the increment, so
// offsets are gapless and start at 1. Counters and events have no foreign
// key: a deleted table's last events (its deletion) outlive it; retention
// removes them.
//
// The relay (the publisher, outside this package) reads Unpublished events
// in append order (seq, which within a stream is offset order), hands them to
// the broker and calls MarkPublished in batches. An event row is written once
// (and deleted by PruneEvents): marking it touches only the small outbox. PruneEvents deletes published
// events older than the retention (TABLECAST_EVENT_RETENTION), in batches,
// and never an unpublished event or anything after one in the same stream:
// what is kept of a stream is always a contiguous run ending at its top, so
// OldestEventOffset tells "pruned" (since+1 < oldest) from "nothing missed".
//
// # Transactions
//
// Update runs a function in one write transaction and retries it (a bounded
// number of times, with jittered backoff) on SQLite busy/locked and on
// PostgreSQL serialization failures and deadlocks. SQLite writes through one
// connection (BEGIN IMMEDIATE) and reads through a pool of read-only
// connections (WAL); PostgreSQL writes at READ COMMITTED (writers to one
// stream queue on its counter row rather than fail) and Read uses REPEATABLE
// READ, READ ONLY for one snapshot. On both engines a statement that fails
// aborts the transaction, as PostgreSQL does by nature.
package store
