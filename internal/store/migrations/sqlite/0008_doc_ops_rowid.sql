-- The op log keeps each op in a rowid table, its key in an index of its
-- own. Keep its meaning identical to postgres/0008_doc_ops_rowid.sql.
--
-- Until now doc_ops was a WITHOUT ROWID table: every entry, op included,
-- lived in the B-tree ordered by (collection, doc_id, version). SQLite
-- compares an entry whose record overflows its page (over about 1,000
-- bytes at 4 KiB pages) by reading the whole record, overflow pages and
-- all. A REST write that sets large cells logs a large op, and from then
-- on every op appended to that document's entries, however small, could
-- read it once per comparison: 100 KB per step of the search where it sat
-- on the path. Now the index holds the key alone, and the ops themselves
-- are appended by rowid, which never reads an existing record.

CREATE TABLE doc_ops_rowid (
    id            INTEGER PRIMARY KEY,
    collection    TEXT    NOT NULL,
    doc_id        INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    op            TEXT    NOT NULL,
    src           TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    stream_offset INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (collection, doc_id, version)
);

INSERT INTO doc_ops_rowid (collection, doc_id, version, op, src, seq, stream_offset, created_at)
SELECT collection, doc_id, version, op, src, seq, stream_offset, created_at FROM doc_ops
ORDER BY created_at, collection, doc_id, version;

DROP TABLE doc_ops;
ALTER TABLE doc_ops_rowid RENAME TO doc_ops;
CREATE INDEX doc_ops_created ON doc_ops (created_at);
