package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Both engines run the same Go code (sql_reader.go, sql_writer.go,
// sql_events.go) through a querier and a dialect. Most statements are written
// once, in SQLite's syntax with ? placeholders and a few macros that the
// dialect expands:
//
//	{ord}   the row order column as read, named ord_text: ord (SQLite, padded
//	        text) / ord::text (PostgreSQL). The alias matters: PostgreSQL's
//	        ORDER BY ord would otherwise sort by the text output column.
//	{ordp}  an order parameter: ? / ?::text::numeric
//	{json}  a JSON parameter stored as queryable JSON: json(?) / ?::jsonb
//	{id_in} id is in a list given as one parameter (the dialect's ids):
//	        id IN (SELECT value FROM json_each(?)) / id = ANY(?::bigint[])
//	{+}     + / nothing: in SQLite a unary plus keeps a column's index out of
//	        the plan, so that rows are looked up by id, not by scanning the
//	        table's index
//	{key_in} field_key is the key of a field in a list of ids given as one
//	        parameter (the dialect's ids), keys being JSON strings ("12")
//	{T} {F} boolean literals: 1 0 / TRUE FALSE
//	{-us}   minus a parameter in microseconds, after a time column:
//	        - ? / - (?::bigint * interval '1 microsecond')
//	{cellvalue} the value of the row_cells line c: its value or, for a
//	        long one, its body (SQLite, migration 0009) / c.value
//
// and PostgreSQL's placeholders are then renumbered $1, $2... Statements whose
// shape differs (merging values, removing a key from every row, marking
// events published) are the dialect's own.

// scanner is what database/sql and pgx rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// rowsIter is a result set of either driver.
type rowsIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// querier runs statements on a pool, a connection or a transaction.
type querier interface {
	exec(ctx context.Context, sql string, args ...any) (int64, error)
	query(ctx context.Context, sql string, args ...any) (rowsIter, error)
	queryRow(ctx context.Context, sql string, args ...any) scanner
}

// dialect is what differs between the engines.
type dialect struct {
	name   string
	macros *strings.Replacer
	rebind bool // ? -> $n

	ts    func(time.Time) any // a time parameter
	order func(*big.Int) any  // an order parameter, for {ordp}
	ids   func([]int64) any   // an id list parameter, for {id_in}
	// shiftRows: parameters (table_id, order, id); adds 1 to the order of the
	// rows at or after (order, id).
	shiftRows string
	// appendEvent, when set, takes the next offset and writes the event in
	// one statement (one round trip); parameters (kind, id, kind, id, type,
	// payload, created_at), result the offset. Otherwise streamNext and
	// eventInsert run one after the other.
	appendEvent string
	// lockTable reads a table's fields version (parameter: table id) and,
	// on PostgreSQL, locks its row until the transaction ends, so that
	// writes to one table see its fields as they are; SQLite's single
	// writer needs no lock.
	lockTable string
	// writeHeads, when set, updates the heads of several rows at their
	// expected versions in one statement (WriteRows); parameters: arrays
	// of ids, expected versions, versions, times, whole versions, whole
	// times and whole sizes (a whole version of 0 keeps the row's), then
	// the table. SQLite updates them one by one (a call in the process).
	writeHeads string
	// eventsBulk, docOpsBulk and cellsBulk, when set, append events and op
	// log entries, and upsert cells, in one statement whatever their
	// number (arrays, one per column, then the time where it is one for
	// all); else eventRows, docOpRows and cellRows of a few fixed sizes
	// serve. PostgreSQL: one round trip for a batch's entries.
	eventsBulk, docOpsBulk, cellsBulk string
	// bumpRowID, when set, moves the row id sequence to at least its
	// parameter, before rows are inserted with ids of their own (SQLite's
	// AUTOINCREMENT follows by itself).
	bumpRowID string
	// markPublished and its parameters: the keys as runs of offsets
	// (keyRuns).
	markPublished     string
	markPublishedArgs func([]keyRun) []any

	// skipLocked ends the subquery of a webhook claim: FOR UPDATE SKIP
	// LOCKED on PostgreSQL (nodes claim different webhooks at once);
	// nothing on SQLite (one writer).
	skipLocked string

	// lazyRelease: a savepoint whose writes succeeded is released by the
	// next one's first statement, or by the commit (sqlTx.Savepoint), not
	// in a round trip of its own: PostgreSQL, over the network. SQLite
	// releases at once (a call in the process costs nothing).
	lazyRelease bool

	isUnique     func(error) bool
	isForeignKey func(error) bool
	isNoRows     func(error) bool
	isRetryable  func(error) bool

	q  queries
	wh webhookQueries
}

// sql expands a statement for this dialect.
func (d *dialect) sql(s string) string {
	s = d.macros.Replace(s)
	if !d.rebind {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// queries holds the expanded shared statements.
type queries struct {
	wsInsert, wsGet, wsOfUser, wsRename, wsDelete                 string
	memberInsert, memberUpdate, memberDelete, memberRole, members string

	tableNextPos, tableInsert, tableGet, tables, tableUpdate, tableDelete string

	fieldNextPos, fieldInsert, fieldGet, fields, fieldUpdate, fieldDelete string

	viewNextPos, viewInsert, viewGet, viewBySlug, views, viewUpdate, viewDelete string

	rowGet, rowGetCells, rowsAfter, rowsByIDs, rowLast, rowOrder, rowPrev, rowVersions, rowsDelete string

	streamTop, streamNext, eventInsert, events, eventOldest string
	unpublished, pruneBoundary, prune                       string
	forgetWhole, removeValue, shiftRows, markPublished      string
	appendEvent, docOps, pruneDocOps, bumpRowID, writeHeads string
	eventsBulk, docOpsBulk, cellsBulk                       string

	// streamAdd moves a stream's counter by its third parameter and
	// returns the new top (AppendEvents); eventRows[k] and docOpRows[k]
	// insert 1<<k events and op log entries (appendChunk).
	streamAdd string
	eventRows [appendLevels]string
	docOpRows [appendLevels]string
	// cellRows[k] upserts 1<<k cells (writeCells), and cellBody keeps a
	// long value and returns its id (SQLite, cellInlineMax).
	cellRows [cellLevels]string
	cellBody string
}

const (
	wsCols    = `id, name, created_at`
	tableCols = `id, workspace_id, name, position, created_at, version`
	fieldCols = `id, table_id, name, type, is_primary, position, options, version`
	viewCols  = `id, table_id, name, type, position, filter_type, filters, sorts, hidden_field_ids, is_public, COALESCE(slug, ''), password_hash, version`
	rowCols   = `id, table_id, {ord}, version, ` + rowCells + `, created_at, updated_at, ` + rowWholeCols
	// rowWholeCols are a row's last event holding it whole (Row.WholeVersion).
	rowWholeCols = `whole_version, whole_at, whole_bytes`
	// eventCols is followed by the event's published flag: it is published
	// when its seq is not in the outbox.
	eventCols = `e.stream_kind, e.stream_id, e.stream_offset, e.type, e.payload, e.created_at`
)

func (d *dialect) build() {
	x := d.sql
	d.q = queries{
		wsInsert: x(`INSERT INTO workspaces (name, created_at) VALUES (?, ?) RETURNING ` + wsCols),
		wsGet:    x(`SELECT ` + wsCols + ` FROM workspaces WHERE id = ?`),
		wsOfUser: x(`SELECT w.id, w.name, w.created_at FROM workspaces w
			JOIN members m ON m.workspace_id = w.id WHERE m.user_id = ? ORDER BY w.id`),
		wsRename: x(`UPDATE workspaces SET name = ? WHERE id = ? RETURNING ` + wsCols),
		wsDelete: x(`DELETE FROM workspaces WHERE id = ?`),

		memberInsert: x(`INSERT INTO members (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`),
		memberUpdate: x(`UPDATE members SET role = ? WHERE workspace_id = ? AND user_id = ?`),
		memberDelete: x(`DELETE FROM members WHERE workspace_id = ? AND user_id = ?`),
		memberRole:   x(`SELECT role FROM members WHERE workspace_id = ? AND user_id = ?`),
		members:      x(`SELECT workspace_id, user_id, role FROM members WHERE workspace_id = ? ORDER BY user_id`),

		tableNextPos: x(`SELECT COALESCE(MAX(position), 0) + 1 FROM tables WHERE workspace_id = ?`),
		tableInsert: x(`INSERT INTO tables (workspace_id, name, position, created_at) VALUES (?, ?, ?, ?)
			RETURNING ` + tableCols),
		tableGet: x(`SELECT ` + tableCols + ` FROM tables WHERE id = ?`),
		tables:   x(`SELECT ` + tableCols + ` FROM tables WHERE workspace_id = ? ORDER BY position, id`),
		tableUpdate: x(`UPDATE tables SET name = ?, position = CASE WHEN ? > 0 THEN ? ELSE position END,
			version = version + 1 WHERE id = ? RETURNING ` + tableCols),
		tableDelete: x(`DELETE FROM tables WHERE id = ?`),

		fieldNextPos: x(`SELECT COALESCE(MAX(position), 0) + 1 FROM fields WHERE table_id = ?`),
		fieldInsert: x(`INSERT INTO fields (table_id, name, type, is_primary, position, options)
			VALUES (?, ?, ?, ?, ?, {json}) RETURNING ` + fieldCols),
		fieldGet: x(`SELECT ` + fieldCols + ` FROM fields WHERE id = ?`),
		fields:   x(`SELECT ` + fieldCols + ` FROM fields WHERE table_id = ? ORDER BY position, id`),
		fieldUpdate: x(`UPDATE fields SET name = ?, type = ?, is_primary = ?, options = {json},
			position = CASE WHEN ? > 0 THEN ? ELSE position END, version = version + 1
			WHERE id = ? RETURNING ` + fieldCols),
		fieldDelete: x(`DELETE FROM fields WHERE id = ?`),

		viewNextPos: x(`SELECT COALESCE(MAX(position), 0) + 1 FROM views WHERE table_id = ?`),
		viewInsert: x(`INSERT INTO views (table_id, name, type, position, filter_type, filters, sorts,
			hidden_field_ids, is_public, slug, password_hash)
			VALUES (?, ?, ?, ?, ?, {json}, {json}, {json}, ?, NULLIF(?, ''), ?) RETURNING ` + viewCols),
		viewGet:    x(`SELECT ` + viewCols + ` FROM views WHERE id = ?`),
		viewBySlug: x(`SELECT ` + viewCols + ` FROM views WHERE slug = ?`),
		views:      x(`SELECT ` + viewCols + ` FROM views WHERE table_id = ? ORDER BY position, id`),
		viewUpdate: x(`UPDATE views SET name = ?, type = ?, position = CASE WHEN ? > 0 THEN ? ELSE position END,
			filter_type = ?, filters = {json}, sorts = {json}, hidden_field_ids = {json}, is_public = ?,
			slug = NULLIF(?, ''), password_hash = ?, version = version + 1 WHERE id = ? RETURNING ` + viewCols),
		viewDelete: x(`DELETE FROM views WHERE id = ?`),

		rowGet: x(`SELECT ` + rowCols + ` FROM table_rows WHERE table_id = ? AND id = ?`),
		// A row with some of its cells: rowCols but for the cells'
		// expression (parameters: the fields' ids, the table, the row).
		rowGetCells: x(`SELECT id, table_id, {ord}, version,
			COALESCE((SELECT ` + cellsObject + ` FROM row_cells c WHERE c.row_id = table_rows.id AND c.{key_in}), '{}'),
			created_at, updated_at, ` + rowWholeCols + ` FROM table_rows WHERE table_id = ? AND id = ?`),
		rowsAfter: x(`SELECT ` + rowCols + ` FROM table_rows
			WHERE table_id = ? AND (ord, id) > ({ordp}, ?) ORDER BY ord, id LIMIT ?`),
		rowsByIDs: x(`SELECT ` + rowCols + ` FROM table_rows
			WHERE {id_in} AND {+}table_id = ? ORDER BY ord, id`),
		rowLast:  x(`SELECT {ord} FROM table_rows WHERE table_id = ? ORDER BY ord DESC, id DESC LIMIT 1`),
		rowOrder: x(`SELECT {ord} FROM table_rows WHERE table_id = ? AND id = ?`),
		rowPrev: x(`SELECT {ord} FROM table_rows WHERE table_id = ? AND (ord, id) < ({ordp}, ?)
			ORDER BY ord DESC, id DESC LIMIT 1`),
		rowVersions: x(`SELECT id, version FROM table_rows WHERE {id_in} AND {+}table_id = ?`),
		rowsDelete:  x(`DELETE FROM table_rows WHERE {id_in} AND {+}table_id = ? RETURNING id`),

		streamTop: x(`SELECT last_offset FROM streams WHERE kind = ? AND id = ?`),
		streamNext: x(`INSERT INTO streams (kind, id, last_offset) VALUES (?, ?, 1)
			ON CONFLICT (kind, id) DO UPDATE SET last_offset = streams.last_offset + 1
			RETURNING last_offset`),
		// An event enters the outbox with its insert, by the events_outbox
		// trigger (migration 0005).
		eventInsert: x(`INSERT INTO events (stream_kind, stream_id, stream_offset, type, payload, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`),
		events: x(`SELECT ` + eventCols + `, NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = e.seq) FROM events e
			WHERE e.stream_kind = ? AND e.stream_id = ? AND e.stream_offset > ? ORDER BY e.stream_offset LIMIT ?`),
		eventOldest: x(`SELECT COALESCE(
			(SELECT MIN(stream_offset) FROM events WHERE stream_kind = ? AND stream_id = ?),
			(SELECT last_offset + 1 FROM streams WHERE kind = ? AND id = ?),
			1)`),
		unpublished: x(`SELECT ` + eventCols + `, {F} FROM outbox o JOIN events e ON e.seq = o.seq
			ORDER BY o.seq LIMIT ?`),
		// The first event, in append order, that is too young to prune: every
		// event before it is a candidate (in each stream, a run of offsets
		// from the front).
		pruneBoundary: x(`SELECT COALESCE(
			(SELECT seq FROM events WHERE created_at >= ? ORDER BY seq LIMIT 1),
			(SELECT MAX(seq) + 1 FROM events),
			0)`),
		// Candidates that are published and have no unpublished event before
		// them in their stream (no event of their stream in the outbox at or
		// before their seq: within a stream, seq order is offset order; the
		// outbox is read first, SQLite's CROSS JOIN keeping it so), a batch
		// at a time; an event a webhook of its table has not delivered
		// is kept unless created before the second parameter, and so is
		// one created up to the third parameter (microseconds) before the
		// first event the webhook has not delivered (a compact event is
		// completed from an event up to that much older). What a webhook
		// holds is the end of its stream, so what is kept stays contiguous.
		prune: x(`DELETE FROM events WHERE seq IN (
			SELECT e.seq FROM events e
			WHERE e.seq < ? AND NOT EXISTS (
				SELECT 1 FROM outbox o CROSS JOIN events u
				WHERE u.seq = o.seq AND o.seq <= e.seq AND u.stream_kind = e.stream_kind AND u.stream_id = e.stream_id)
			AND (e.created_at < ? OR e.stream_kind <> 1 OR NOT EXISTS (
				SELECT 1 FROM webhooks w
				WHERE w.table_id = e.stream_id AND (w.delivered_offset < e.stream_offset OR EXISTS (
					SELECT 1 FROM events f
					WHERE f.stream_kind = 1 AND f.stream_id = w.table_id AND f.stream_offset = w.delivered_offset + 1
					AND e.created_at >= f.created_at {-us}))))
			ORDER BY e.seq LIMIT ?)`),

		streamAdd: x(`INSERT INTO streams (kind, id, last_offset) VALUES (?, ?, ?)
			ON CONFLICT (kind, id) DO UPDATE SET last_offset = streams.last_offset + excluded.last_offset
			RETURNING last_offset`),
		docOps: x(`SELECT collection, doc_id, version, op, src, seq, stream_offset, created_at FROM doc_ops
			WHERE collection = ? AND doc_id = ? AND version >= ? ORDER BY version LIMIT ?`),
		// The op log goes with the events, but a record's entries a
		// webhook's held events may be completed from (those created up to
		// the third parameter before the first event it has not
		// delivered) are kept unless created before the second.
		pruneDocOps: x(`DELETE FROM doc_ops WHERE created_at < ? AND NOT (created_at >= ? AND EXISTS (
			SELECT 1 FROM webhooks w JOIN events f
				ON f.stream_kind = 1 AND f.stream_id = w.table_id AND f.stream_offset = w.delivered_offset + 1
			WHERE doc_ops.collection = 'record_' || w.table_id AND doc_ops.created_at >= f.created_at {-us}))`),
		bumpRowID:  x(d.bumpRowID),
		writeHeads: x(d.writeHeads),
		eventsBulk: x(d.eventsBulk),
		docOpsBulk: x(d.docOpsBulk),
		cellsBulk:  x(d.cellsBulk),
		cellBody:   x(`INSERT INTO cell_bodies (value) VALUES (?) RETURNING id`),

		// A deleted field's rows and cells (parameters: its table, its key
		// as row_cells holds it; removeValue the other way round):
		// forgetWhole forgets the whole events of the rows holding a cell
		// of it (Row.WholeVersion), removeValue removes the cells.
		forgetWhole: x(`UPDATE table_rows SET whole_version = 0 WHERE table_id = ? AND EXISTS (
			SELECT 1 FROM row_cells c WHERE c.row_id = table_rows.id AND c.field_key = ?)`),
		removeValue:   x(`DELETE FROM row_cells WHERE field_key = ? AND row_id IN (SELECT id FROM table_rows WHERE table_id = ?)`),
		shiftRows:     x(d.shiftRows),
		markPublished: x(d.markPublished),
		appendEvent:   x(d.appendEvent),
	}
	for k := range appendLevels {
		d.q.eventRows[k] = x(multiRow(`INSERT INTO events (stream_kind, stream_id, stream_offset, type, payload, created_at) VALUES `,
			`(?, ?, ?, ?, ?, ?)`, 1<<k))
		d.q.docOpRows[k] = x(multiRow(`INSERT INTO doc_ops (collection, doc_id, version, op, src, seq, stream_offset, created_at) VALUES `,
			`(?, ?, ?, ?, ?, ?, ?, ?)`, 1<<k))
	}
	for k := range cellLevels {
		if d.cellsBulk != "" {
			break // row_cells has no body column there
		}
		d.q.cellRows[k] = x(cellRowsSQL(1 << k))
	}
	d.buildWebhooks()
}

// appendLevels: the multi-row INSERTs of events and op log entries carry
// 1, 2, 4... 1<<(appendLevels-1) rows. A run of n rows goes out as the
// binary digits of n (appendChunk), so that a few statement texts,
// prepared once, serve every count.
const appendLevels = 7

// appendChunk returns the level k of the largest statement, 1<<k rows,
// that n rows fill.
func appendChunk(n int) int {
	k := appendLevels - 1
	for 1<<k > n {
		k--
	}
	return k
}

// multiRow is head followed by n copies of row, comma separated.
func multiRow(head, row string, n int) string {
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// jsonObject checks that v is a JSON object and returns it as a string, {} for
// an empty v. what names it in the error.
func jsonObject(v json.RawMessage, what string) (string, error) {
	s, ok := objectText(v)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, what)
	}
	return s, nil
}

// objectText is jsonObject without the error: ok is false when v is not
// a JSON object.
func objectText(v json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "{}", true
	}
	if t[0] != '{' || !json.Valid(t) {
		return "", false
	}
	return string(t), true
}

// jsonArray checks that v is a JSON array and returns it as a string, [] for
// an empty v.
func jsonArray(v json.RawMessage, what string) (string, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "[]", nil
	}
	if t[0] != '[' || !json.Valid(t) {
		return "", fmt.Errorf("%w: %s must be a JSON array", ErrInvalid, what)
	}
	return string(t), nil
}

// objectMembers returns the members of a validated JSON object, in order.
func objectMembers(obj json.RawMessage) (keys []string, values []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return nil, nil, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, key)
		values = append(values, v)
	}
	return keys, values, nil
}

// mapErr turns a driver error into the store's vocabulary: a unique violation
// is ErrConflict, a foreign key violation ErrNotFound, each with what (which
// the caller words as "field name \"x\" in table 3"); other errors keep their
// cause. All of them keep the driver's error in the chain.
func (d *dialect) mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrInvalid):
		return err
	case d.isNoRows(err):
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case d.isUnique(err):
		return fmt.Errorf("%w: %s: already taken: %w", ErrConflict, what, err)
	case d.isForeignKey(err):
		return fmt.Errorf("%w: %s: what it refers to does not exist: %w", ErrNotFound, what, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
