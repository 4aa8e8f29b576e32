-- The outbox moves out of events into a table of its own. Keep its meaning
-- identical to postgres/0005_outbox.sql.
--
-- Until now an event carried a published flag, with two partial indexes of
-- its unpublished events: each event went into four B-trees, and marking it
-- published rewrote its row (and the page holding it, which had just been
-- written) and took it out of both indexes. Now an event's seq is in outbox
-- from its insert (the trigger below, in the same transaction) until it is
-- marked published, which deletes it from there: one small B-tree, written
-- at its end and emptied from its front, and events rows are written once.
--
-- An event is published when its seq is not in outbox. Dropping the column
-- rewrites the events table once, at this migration.

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY -- events.seq
);

INSERT INTO outbox (seq) SELECT seq FROM events WHERE published = 0;

DROP INDEX events_unpublished;
DROP INDEX events_unpublished_stream;
ALTER TABLE events DROP COLUMN published;

CREATE TRIGGER events_outbox AFTER INSERT ON events
BEGIN
    INSERT INTO outbox (seq) VALUES (new.seq);
END;
