-- tablecast schema, PostgreSQL. Keep its meaning identical to sqlite/0001_init.sql.

CREATE TABLE workspaces (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE members (
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE INDEX members_user ON members (user_id, workspace_id);

CREATE TABLE tables (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT        NOT NULL,
    position     INTEGER     NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX tables_workspace ON tables (workspace_id, position, id);

CREATE TABLE fields (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id   BIGINT  NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    position   INTEGER NOT NULL,
    options    JSONB   NOT NULL DEFAULT '{}'
);

CREATE INDEX fields_table ON fields (table_id, position, id);
CREATE UNIQUE INDEX fields_name ON fields (table_id, name);
CREATE UNIQUE INDEX fields_primary ON fields (table_id) WHERE is_primary;

-- ord: the row's order, up to 20 integer and exactly 20 fraction digits.
-- vals: a JSON object keyed by field id.
CREATE TABLE table_rows (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id   BIGINT         NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    ord        NUMERIC(40, 20) NOT NULL CHECK (ord >= 0),
    version    BIGINT         NOT NULL,
    vals       JSONB          NOT NULL,
    created_at TIMESTAMPTZ    NOT NULL,
    updated_at TIMESTAMPTZ    NOT NULL
);

CREATE INDEX table_rows_order ON table_rows (table_id, ord, id);

CREATE TABLE views (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id         BIGINT  NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    filter_type      TEXT    NOT NULL,
    filters          JSONB   NOT NULL,
    sorts            JSONB   NOT NULL,
    hidden_field_ids JSONB   NOT NULL,
    is_public        BOOLEAN NOT NULL,
    slug             TEXT UNIQUE,
    password_hash    TEXT    NOT NULL
);

CREATE INDEX views_table ON views (table_id, position, id);

-- One counter per event stream: kind 1 = a table's stream, kind 2 = a
-- workspace's stream. No foreign key: a deleted table's last events must
-- outlive it, and ids are never reused.
CREATE TABLE streams (
    kind        SMALLINT NOT NULL CHECK (kind IN (1, 2)),
    id          BIGINT   NOT NULL,
    last_offset BIGINT   NOT NULL,
    PRIMARY KEY (kind, id)
);

-- The outbox. seq is the order of appending, which within a stream is offset
-- order (the counter row's lock serialises a stream's writers); the relay reads
-- unpublished events by seq. payload is JSON kept byte for byte.
CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_kind   SMALLINT    NOT NULL,
    stream_id     BIGINT      NOT NULL,
    stream_offset BIGINT      NOT NULL,
    type          TEXT        NOT NULL,
    payload       JSON        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    published     BOOLEAN     NOT NULL DEFAULT FALSE,
    UNIQUE (stream_kind, stream_id, stream_offset)
);

CREATE INDEX events_unpublished ON events (seq) WHERE NOT published;
CREATE INDEX events_unpublished_stream ON events (stream_kind, stream_id, stream_offset) WHERE NOT published;
