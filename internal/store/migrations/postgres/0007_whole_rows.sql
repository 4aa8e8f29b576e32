-- Each row remembers its last event that held it whole. Keep its meaning
-- identical to sqlite/0007_whole_rows.sql, which says why.
ALTER TABLE table_rows ADD COLUMN whole_version BIGINT      NOT NULL DEFAULT 0;
ALTER TABLE table_rows ADD COLUMN whole_at      TIMESTAMPTZ NOT NULL DEFAULT 'epoch';
ALTER TABLE table_rows ADD COLUMN whole_bytes   INTEGER     NOT NULL DEFAULT 0;
