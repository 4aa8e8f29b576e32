package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tablecast/tablecast/internal/jsonscan"
)

// A row's cells (migration 0006): one line of row_cells per cell, keyed by
// the row and the cell's key as a JSON string, its value as compact JSON
// text. A write touches the cells it changes only; a read joins a row's
// lines into its values object in SQL (rowCells), without parsing a value.

// rowCells is the expression of a row's values in a query of table_rows:
// its cells joined into a JSON object, "{}" when it has none. Both
// engines have string_agg with ORDER BY (SQLite since 3.44).
const rowCells = `COALESCE((SELECT ` + cellsObject + ` FROM row_cells c WHERE c.row_id = table_rows.id), '{}')`

// cellsObject joins the lines c of row_cells into their JSON object, in
// field order.
const cellsObject = `'{' || string_agg(c.field_key || ':' || {cellvalue}, ',' ORDER BY length(c.field_key), c.field_key) || '}'`

// cell is one cell to write: its key as a JSON string and its value as
// compact JSON text.
type cell struct {
	key, value string
}

// cellsOf splits a JSON object of values into cells, a new row's or what
// an update changes: each key once (the last of a key given twice, as a
// JSON object's reader takes it), in the order rowCells reads them.
// trusted says v is compact JSON the caller encoded itself
// (RowUpdate.Encoded): it is split without being checked, and must not be
// empty; an empty v otherwise is no cells.
func cellsOf(v json.RawMessage, trusted bool, what string) ([]cell, error) {
	t := bytes.Trim(v, jsonSpace)
	if len(t) == 0 && !trusted {
		return nil, nil
	}
	if len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, what)
	}
	if !trusted {
		var b bytes.Buffer
		b.Grow(len(t))
		if json.Compact(&b, t) != nil {
			return nil, fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, what)
		}
		t = b.Bytes()
	}
	cells, ok := splitPlain(t)
	if !ok {
		// Keys with escapes: read the ordinary way, and written again in
		// the one form a key has in row_cells.
		keys, values, err := objectMembers(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %s must be a JSON object", ErrInvalid, what)
		}
		cells = make([]cell, len(keys))
		for i, k := range keys {
			cells[i] = cell{key: string(jsonscan.AppendString(nil, k)), value: string(values[i])}
		}
	}
	return sortCells(cells), nil
}

// jsonSpace is JSON's white space (bytes.TrimSpace would take more).
const jsonSpace = " \t\n\r"

// splitPlain splits compact JSON object text whose keys have no escapes
// (field ids) into cells; ok is false for anything else. A key is written
// as jsonscan.AppendString writes it, the one form it has in row_cells.
func splitPlain(t []byte) ([]cell, bool) {
	s := jsonscan.New(t)
	if !s.Consume('{') {
		return nil, false
	}
	var cells []cell
	if s.Consume('}') {
		return cells, s.End()
	}
	for {
		k, ok := s.Key()
		if !ok {
			return nil, false
		}
		v, ok := s.Skip()
		if !ok {
			return nil, false
		}
		cells = append(cells, cell{key: string(jsonscan.AppendString(nil, string(k))), value: string(v)})
		if s.Consume('}') {
			return cells, s.End()
		}
		if !s.Consume(',') {
			return nil, false
		}
	}
}

// sortCells orders cells as rowCells reads them, keeping the last of each
// key.
func sortCells(cells []cell) []cell {
	slices.SortStableFunc(cells, func(a, b cell) int {
		if len(a.key) != len(b.key) {
			return len(a.key) - len(b.key)
		}
		return strings.Compare(a.key, b.key)
	})
	out := cells[:0]
	for i, c := range cells {
		if i+1 < len(cells) && cells[i+1].key == c.key {
			continue // a later one of the same key wins
		}
		out = append(out, c)
	}
	return out
}

// cellsJSON is the values object of cells as rowCells reads it back.
func cellsJSON(cells []cell) json.RawMessage {
	n := 2
	for _, c := range cells {
		n += len(c.key) + len(c.value) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, c.key...), ':'), c.value...)
	}
	return append(b, '}')
}

// writeCells sets the given cells of row rowID (an upsert: cells not
// given keep their value).
func (t *sqlTx) writeCells(ctx context.Context, rowID int64, cells []cell) error {
	return t.writeCellsOf(ctx, len(cells), func(i int) (int64, cell) { return rowID, cells[i] })
}

// writeCellsOf upserts n cells, the i-th of row at(i), in statements of
// 1<<k lines (cellRows), so that a few prepared texts serve every count
// and the rows of an insert share statements.
func (t *sqlTx) writeCellsOf(ctx context.Context, n int, at func(i int) (int64, cell)) error {
	if t.d.q.cellsBulk != "" {
		if n == 0 {
			return nil
		}
		rows, keys, values := make([]int64, n), make([]string, n), make([]string, n)
		for i := range n {
			row, c := at(i)
			rows[i], keys[i], values[i] = row, c.key, c.value
		}
		_, err := t.q.exec(ctx, t.d.q.cellsBulk, rows, keys, values)
		return err
	}
	for i := 0; i < n; {
		k := min(appendChunk(n-i), cellLevels-1)
		lines := 1 << k
		args := make([]any, 0, 4*lines)
		for j := i; j < i+lines; j++ {
			row, c := at(j)
			if len(c.value) <= cellInlineMax {
				args = append(args, row, c.key, c.value, nil)
				continue
			}
			var body int64
			if err := t.q.queryRow(ctx, t.d.q.cellBody, c.value).Scan(&body); err != nil {
				return err
			}
			args = append(args, row, c.key, nil, body)
		}
		if _, err := t.q.exec(ctx, t.d.q.cellRows[k], args...); err != nil {
			return err
		}
		i += lines
	}
	return nil
}

// cellLevels: the cell upserts carry 1, 2, 4... 1<<(cellLevels-1) lines.
const cellLevels = 6

// cellInlineMax is the longest value SQLite keeps in its cell's line of
// row_cells; a longer one goes to cell_bodies, and the line holds its id
// (migration 0009), so that a search among the lines reads a page at
// most for any line it compares.
const cellInlineMax = 4000

// cellRowsSQL is SQLite's upsert of n cells: (row, key, value, body), one
// of the last two NULL.
func cellRowsSQL(n int) string {
	return multiRow(`INSERT INTO row_cells (row_id, field_key, value, body) VALUES `, `(?, ?, ?, ?)`, n) +
		` ON CONFLICT (row_id, field_key) DO UPDATE SET value = excluded.value, body = excluded.body`
}
