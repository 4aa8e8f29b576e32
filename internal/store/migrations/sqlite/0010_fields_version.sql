-- A table's fields_version counts the changes to its fields. Keep its
-- meaning identical to postgres/0010_fields_version.sql.
--
-- Every field insert, update and delete adds one, through the triggers
-- below, in the transaction that makes the change. LockTable returns the
-- number; SQLite's one writer does not need it (the service keeps its
-- schemas in memory), PostgreSQL's nodes do.
--
-- It starts at 1, for the tables there are and the new ones: LockTable
-- says 0 of a table that does not exist.

ALTER TABLE tables ADD COLUMN fields_version INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER fields_inserted AFTER INSERT ON fields
BEGIN
    UPDATE tables SET fields_version = fields_version + 1 WHERE id = new.table_id;
END;

CREATE TRIGGER fields_updated AFTER UPDATE ON fields
BEGIN
    UPDATE tables SET fields_version = fields_version + 1 WHERE id = new.table_id;
END;

CREATE TRIGGER fields_deleted AFTER DELETE ON fields
BEGIN
    UPDATE tables SET fields_version = fields_version + 1 WHERE id = old.table_id;
END;
