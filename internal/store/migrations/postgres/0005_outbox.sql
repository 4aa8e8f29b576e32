-- The outbox moves out of events into a table of its own. Keep its meaning
-- identical to sqlite/0005_outbox.sql.
--
-- Until now an event carried a published flag, with two partial indexes of
-- its unpublished events: each event went into four B-trees, and marking it
-- published wrote a new version of its row (payload and all) and of both
-- indexes' entries. Now an event's seq is in outbox from its insert (the
-- trigger below, once per statement, in the same transaction) until it is
-- marked published, which deletes it from there.
--
-- An event is published when its seq is not in outbox. Nodes still running
-- a binary from before this migration cannot write events after it: upgrade
-- every node together.

CREATE TABLE outbox (
    seq BIGINT PRIMARY KEY -- events.seq
);

INSERT INTO outbox (seq) SELECT seq FROM events WHERE NOT published;

DROP INDEX events_unpublished;
DROP INDEX events_unpublished_stream;
ALTER TABLE events DROP COLUMN published;

CREATE FUNCTION events_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (seq) SELECT seq FROM new_events;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_outbox AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox();
