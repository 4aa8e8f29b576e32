-- A table's fields_version counts the changes to its fields. Keep its
-- meaning identical to sqlite/0010_fields_version.sql.
--
-- Every field insert, update and delete adds one, through the trigger
-- below, in the transaction that makes the change. A writer that locks
-- the table's row (LockTable returns the number) and finds the number it
-- last read the fields at knows they are unchanged, on any node, without
-- reading them: a field change needs the same row, so none can commit
-- between the lock and the writer's commit.
--
-- It starts at 1, for the tables there are and the new ones: LockTable
-- says 0 of a table that does not exist.

ALTER TABLE tables ADD COLUMN fields_version BIGINT NOT NULL DEFAULT 1;

CREATE FUNCTION fields_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tables SET fields_version = fields_version + 1
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.table_id ELSE NEW.table_id END;
    RETURN NULL;
END;
$$;

CREATE TRIGGER fields_changed AFTER INSERT OR UPDATE OR DELETE ON fields
    FOR EACH ROW EXECUTE FUNCTION fields_changed();
