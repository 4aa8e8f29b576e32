-- Each row remembers its last event that held it whole: whole_version,
-- whole_at (microseconds since the epoch, as every time here) and
-- whole_bytes, the version, time and size of the row there. Keep its
-- meaning identical to postgres/0007_whole_rows.sql.
--
-- A submit's event may hold only the cells it changed; the renderers that
-- send whole rows complete it from the last event that held the row whole
-- (package rowimage), at most event.MaxCompactRun versions and
-- event.CompactSpan back. A submit that works in its transaction (no hot
-- document) reads these to decide whether its event holds the row whole
-- (event.WholeRowAfter), and writes them when it does
-- (store.RowUpdate.WholeVersion). A field deletion that takes a cell from a
-- row sets its whole_version to 0, none known: a row's events do not say
-- that the cell is gone, so the next one holds the row whole.
--
-- whole_version 0 (every row before this migration) means none known.
-- Adding columns with constant defaults rewrites no page.
ALTER TABLE table_rows ADD COLUMN whole_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE table_rows ADD COLUMN whole_at      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE table_rows ADD COLUMN whole_bytes   INTEGER NOT NULL DEFAULT 0;
