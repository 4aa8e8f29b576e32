-- Versions of fields, views and tables, as rows have: 1 when created, +1 on
-- each update (the native protocol's document version `v`). Keep its meaning
-- identical to sqlite/0002_versions.sql.

ALTER TABLE fields ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE views  ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tables ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
