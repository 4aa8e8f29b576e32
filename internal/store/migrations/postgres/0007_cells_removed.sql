-- table_rows.cells_removed marks the rows a field deletion took a cell
-- from, until the row's next update. Keep its meaning identical to
-- sqlite/0007_cells_removed.sql, which says why.
ALTER TABLE table_rows ADD COLUMN cells_removed BOOLEAN NOT NULL DEFAULT FALSE;
