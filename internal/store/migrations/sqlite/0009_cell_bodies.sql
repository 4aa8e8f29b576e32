-- A long cell's value moves out of row_cells into cell_bodies. Keep its
-- meaning identical to postgres/0009_cell_bodies.sql.
--
-- row_cells is a WITHOUT ROWID table: its lines are the records of a B-tree
-- ordered by (row_id, field_key). SQLite compares a record too large for its
-- page (over about 1,000 bytes at 4 KiB pages) by reading all of it,
-- overflow pages included, so writing one short cell of a row beside long
-- ones read the long ones again at each step of the search (twice the cost
-- beside 20 KB cells: BenchmarkWriteCellBesideLargeCells). Now a value over
-- 4,000 bytes is kept in cell_bodies, a rowid table, and its line in
-- row_cells holds the body's id instead (value NULL). A shorter value stays
-- in its line: reading a row costs a lookup per long cell only, and writing
-- a value kept apart costs a statement more, which a value of a page or
-- more outweighs (one of 800 bytes to a page still overflows its line, by
-- one page at most; keeping those apart made bench ops 3% dearer, its
-- edited cells growing past 800 bytes). The triggers remove a body with
-- its line, whether the line is replaced, deleted or cascaded away with its
-- row.

CREATE TABLE cell_bodies (
    id    INTEGER PRIMARY KEY,
    value TEXT    NOT NULL
);

CREATE TABLE row_cells_split (
    row_id    INTEGER NOT NULL REFERENCES table_rows (id) ON DELETE CASCADE,
    field_key TEXT    NOT NULL,
    value     TEXT,    -- the value, when at most 4,000 bytes
    body      INTEGER, -- else its cell_bodies.id
    PRIMARY KEY (row_id, field_key),
    CHECK ((value IS NULL) <> (body IS NULL))
) WITHOUT ROWID;

INSERT INTO row_cells_split (row_id, field_key, value, body)
SELECT row_id, field_key, value, NULL FROM row_cells WHERE octet_length(value) <= 4000;

-- The long values, numbered in one order for both statements.
INSERT INTO cell_bodies (id, value)
SELECT row_number() OVER (ORDER BY row_id, field_key), value FROM row_cells WHERE octet_length(value) > 4000;

INSERT INTO row_cells_split (row_id, field_key, value, body)
SELECT row_id, field_key, NULL, row_number() OVER (ORDER BY row_id, field_key)
FROM row_cells WHERE octet_length(value) > 4000;

DROP TABLE row_cells;
ALTER TABLE row_cells_split RENAME TO row_cells;

CREATE TRIGGER row_cells_body_replaced AFTER UPDATE OF body ON row_cells
WHEN old.body IS NOT NULL AND old.body IS NOT new.body
BEGIN
    DELETE FROM cell_bodies WHERE id = old.body;
END;

CREATE TRIGGER row_cells_body_deleted AFTER DELETE ON row_cells
WHEN old.body IS NOT NULL
BEGIN
    DELETE FROM cell_bodies WHERE id = old.body;
END;
