-- A row's cells move out of table_rows.vals into a table of their own, one
-- line per cell. Keep its meaning identical to postgres/0006_row_cells.sql.
--
-- Until now a row's values were one JSON object in its table_rows line, so
-- every change of one cell rewrote the whole row (and, for a row of 100 KB,
-- its 25 overflow pages). Now a change writes the cells it changes and the
-- row's head (version, updated_at), whatever the row's width.
--
-- field_key is the cell's key as a JSON string, quotes included ("12" for
-- field 12), so that the row's values are read back as a JSON object by
-- joining the lines (store.rowCells), without parsing a value. value is the
-- cell's value as compact JSON text. A row reads its cells in the order
-- (length(field_key), field_key): numeric order for field ids. The cells
-- are clustered by row (WITHOUT ROWID): no second index.
--
-- table_rows is built again without vals rather than altered: DROP COLUMN
-- rewrites each line in place and leaves its pages as full as before. Its
-- AUTOINCREMENT counter is carried over, so that ids are never reused.
-- Nothing referred to table_rows before this migration.

ALTER TABLE table_rows RENAME TO table_rows_old;
DROP INDEX table_rows_order;

CREATE TABLE table_rows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id   INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    ord        TEXT    NOT NULL CHECK (length(ord) = 41),
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO table_rows (id, table_id, ord, version, created_at, updated_at)
SELECT id, table_id, ord, version, created_at, updated_at FROM table_rows_old ORDER BY id;

CREATE INDEX table_rows_order ON table_rows (table_id, ord, id);

DELETE FROM sqlite_sequence WHERE name = 'table_rows';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'table_rows', seq FROM sqlite_sequence WHERE name = 'table_rows_old';

CREATE TABLE row_cells (
    row_id    INTEGER NOT NULL REFERENCES table_rows (id) ON DELETE CASCADE,
    field_key TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (row_id, field_key)
) WITHOUT ROWID;

INSERT INTO row_cells (row_id, field_key, value)
SELECT r.id, json_quote(j.key), r.vals -> ('$.' || json_quote(j.key))
FROM table_rows_old r, json_each(r.vals) j
ORDER BY r.id;

DROP TABLE table_rows_old;
