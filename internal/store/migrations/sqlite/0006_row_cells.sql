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
-- (length(field_key), field_key): numeric order for field ids.

CREATE TABLE row_cells (
    row_id    INTEGER NOT NULL REFERENCES table_rows (id) ON DELETE CASCADE,
    field_key TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    UNIQUE (row_id, field_key)
);

INSERT INTO row_cells (row_id, field_key, value)
SELECT r.id, json_quote(j.key), r.vals -> ('$.' || json_quote(j.key))
FROM table_rows r, json_each(r.vals) j
ORDER BY r.id;

ALTER TABLE table_rows DROP COLUMN vals;
