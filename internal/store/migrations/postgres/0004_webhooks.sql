-- Webhooks: a cursor per webhook over its table's stream, and the dead
-- letters of the events it gave up on. Keep its meaning identical to
-- sqlite/0004_webhooks.sql.
--
-- delivered_offset: every event of the table's stream up to it has been
-- delivered (or was not one the webhook asked for, or went to the dead
-- letters). lease_owner / lease_until: the node delivering it, until when
-- ('' and NULL: none). events, headers, paused_attempts and attempts are
-- JSON, opaque to SQL. Deleting the table deletes its webhooks.

CREATE TABLE webhooks (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id         BIGINT      NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    url              TEXT        NOT NULL,
    events           TEXT        NOT NULL,
    headers          TEXT        NOT NULL,
    active           BOOLEAN     NOT NULL,
    on_failure       TEXT        NOT NULL CHECK (on_failure IN ('pause', 'skip')),
    batch            INTEGER     NOT NULL,
    secret           TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('active', 'paused')),
    paused_reason    TEXT        NOT NULL DEFAULT '',
    paused_attempts  TEXT        NOT NULL DEFAULT '[]',
    delivered_offset BIGINT      NOT NULL,
    created_by       TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    lease_owner      TEXT        NOT NULL DEFAULT '',
    lease_until      TIMESTAMPTZ
);

CREATE INDEX webhooks_table ON webhooks (table_id, id);

-- One dead letter per event: the body as it was sent (so that it can be
-- redelivered after the event has left the outbox) and every attempt.
CREATE TABLE webhook_dead_letters (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    BIGINT      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    stream_offset BIGINT      NOT NULL,
    event_type    TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    attempts      TEXT        NOT NULL,
    redeliver     BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_dead_letters_webhook ON webhook_dead_letters (webhook_id, stream_offset, id);
