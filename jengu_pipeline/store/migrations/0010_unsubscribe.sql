-- One-click unsubscribe (RFC 8058): every POST that carried a genuine signed token, without personal data (the
-- send id leads to the address through sends; no IP address, user agent or body is kept). Forged or broken
-- tokens write nothing. Runs on DuckDB and PostgreSQL.

CREATE SEQUENCE unsubscribe_event_ids;
CREATE TABLE unsubscribe_events (
    event_id      BIGINT PRIMARY KEY DEFAULT nextval('unsubscribe_event_ids'),
    send_id       VARCHAR NOT NULL,
    method        VARCHAR NOT NULL CHECK (method IN ('one_click', 'confirm_page')),
    outcome       VARCHAR NOT NULL CHECK (outcome IN ('suppressed', 'already_suppressed', 'unknown_send')),
    received_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX unsubscribe_events_send ON unsubscribe_events (send_id);
