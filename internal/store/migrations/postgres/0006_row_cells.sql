-- A row's cells move out of table_rows.vals into a table of their own, one
-- line per cell. Keep its meaning identical to sqlite/0006_row_cells.sql,
-- which says why.

CREATE TABLE row_cells (
    row_id    BIGINT NOT NULL REFERENCES table_rows (id) ON DELETE CASCADE,
    field_key TEXT   NOT NULL,
    value     TEXT   NOT NULL,
    PRIMARY KEY (row_id, field_key)
);

INSERT INTO row_cells (row_id, field_key, value)
SELECT r.id, to_jsonb(j.key)::text, j.value::text
FROM table_rows r, jsonb_each(r.vals) j
ORDER BY r.id;

ALTER TABLE table_rows DROP COLUMN vals;
