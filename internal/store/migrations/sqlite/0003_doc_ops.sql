-- The op log: every change of a versioned document (a row, field, view or
-- table as the document dialects name it) with the version it applied to,
-- so that a stale submit is transformed against what happened since and a
-- resent one is recognised by (src, seq). Kept as long as events. Keep its
-- meaning identical to postgres/0003_doc_ops.sql.

CREATE TABLE doc_ops (
    collection    TEXT    NOT NULL,
    doc_id        INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    op            TEXT    NOT NULL,
    src           TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    stream_offset INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (collection, doc_id, version)
) WITHOUT ROWID;

CREATE INDEX doc_ops_created ON doc_ops (created_at);
