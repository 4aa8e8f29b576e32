-- tablecast schema, SQLite. Keep its meaning identical to postgres/0001_init.sql.
--
-- Times are INTEGER unix microseconds (UTC); booleans INTEGER 0/1; JSON is TEXT.
-- AUTOINCREMENT keeps ids from ever being reused, as PostgreSQL identities do:
-- an id names one thing for good, in events and in clients' caches.

CREATE TABLE workspaces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE members (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;

CREATE INDEX members_user ON members (user_id, workspace_id);

CREATE TABLE tables (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX tables_workspace ON tables (workspace_id, position, id);

CREATE TABLE fields (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id   INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    position   INTEGER NOT NULL,
    options    TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX fields_table ON fields (table_id, position, id);
CREATE UNIQUE INDEX fields_name ON fields (table_id, name);
CREATE UNIQUE INDEX fields_primary ON fields (table_id) WHERE is_primary = 1;

-- ord: the row's order as fixed-width text, the integer part zero-padded to 20
-- digits, a dot and 20 fraction digits ("00000000000000000001.00000000000000000000"),
-- so that text order is numeric order. vals: a JSON object keyed by field id.
CREATE TABLE table_rows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id   INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    ord        TEXT    NOT NULL CHECK (length(ord) = 41),
    version    INTEGER NOT NULL,
    vals       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX table_rows_order ON table_rows (table_id, ord, id);

CREATE TABLE views (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id         INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    filter_type      TEXT    NOT NULL,
    filters          TEXT    NOT NULL,
    sorts            TEXT    NOT NULL,
    hidden_field_ids TEXT    NOT NULL,
    is_public        INTEGER NOT NULL CHECK (is_public IN (0, 1)),
    slug             TEXT UNIQUE,
    password_hash    TEXT    NOT NULL
);

CREATE INDEX views_table ON views (table_id, position, id);

-- One counter per event stream. kind 1 = a table's stream, kind 2 = a
-- workspace's stream: (kind, id) is the key, so table 5 and workspace 5 never
-- share offsets. No foreign key: a deleted table's last events (its deletion)
-- must outlive it, and ids are never reused.
CREATE TABLE streams (
    kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
    id          INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

-- The outbox. seq is the order of appending, which within a stream is offset
-- order; the relay reads unpublished events by seq.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    stream_kind   INTEGER NOT NULL,
    stream_id     INTEGER NOT NULL,
    stream_offset INTEGER NOT NULL,
    type          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    published     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (stream_kind, stream_id, stream_offset)
);

CREATE INDEX events_unpublished ON events (seq) WHERE published = 0;
CREATE INDEX events_unpublished_stream ON events (stream_kind, stream_id, stream_offset) WHERE published = 0;
