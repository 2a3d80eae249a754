-- Replies: every inbound message stored once (by Message-ID and by its bytes), its raw bytes kept
-- content-addressed so that a classification can be redone, what it was classified as, which send it answers,
-- and the effects it had. Runs on DuckDB and PostgreSQL: $json, $blob and $now are filled per backend.

-- Nothing ever wrote the first draft of the table; it is rebuilt with the columns below.
DROP TABLE replies;

-- The raw bytes of every inbound message, append-only, keyed by their SHA-256.
CREATE TABLE reply_raw (
    sha256         VARCHAR PRIMARY KEY,
    size_bytes     INTEGER NOT NULL,
    raw            $blob NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- One row per stored inbound message. intent is the category (bounce_hard, bounce_soft, auto_reply,
-- unsubscribe, interested, not_interested, question, other); NULL until classified. processed_at is set once
-- the message's effects (suppression, stage, pause, bounce health) were applied in one transaction.
CREATE TABLE replies (
    reply_id          VARCHAR PRIMARY KEY,
    raw_sha256        VARCHAR NOT NULL UNIQUE REFERENCES reply_raw (sha256),
    rfc_message_id    VARCHAR UNIQUE,
    source            VARCHAR NOT NULL,
    source_key        VARCHAR NOT NULL,
    prospect_id       VARCHAR REFERENCES prospect_registry (prospect_id),
    send_id           VARCHAR,
    matched_by        VARCHAR NOT NULL DEFAULT 'none'
                      CHECK (matched_by IN ('in_reply_to', 'references', 'dsn_original', 'failed_recipient',
                                            'sender', 'unsubscribe_address', 'none')),
    from_address      VARCHAR,
    subject           VARCHAR,
    received_at       TIMESTAMPTZ NOT NULL,
    intent            VARCHAR CHECK (intent IN ('bounce_hard', 'bounce_soft', 'auto_reply', 'unsubscribe',
                                                'interested', 'not_interested', 'question', 'other')),
    detail            VARCHAR,
    return_date       DATE,
    new_text          VARCHAR,
    classifier        VARCHAR,
    classified_at     TIMESTAMPTZ,
    processed_at      TIMESTAMPTZ,
    forwarded_at      TIMESTAMPTZ,
    notified_at       TIMESTAMPTZ,
    handled_at        TIMESTAMPTZ,
    handled_by        VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE INDEX replies_prospect ON replies (prospect_id);
CREATE INDEX replies_send ON replies (send_id);

-- Every recipient a delivery status notification reports as failed (a DSN may report several).
CREATE TABLE reply_failed_recipients (
    reply_id       VARCHAR NOT NULL REFERENCES replies (reply_id),
    email          VARCHAR NOT NULL,
    hard           BOOLEAN NOT NULL,
    status         VARCHAR,
    action         VARCHAR,
    diagnostic     VARCHAR,
    PRIMARY KEY (reply_id, email)
);

CREATE INDEX reply_failed_recipients_email ON reply_failed_recipients (email);

-- What a mailbox folder has been read up to: IMAP by UIDVALIDITY + last UID; a Maildir by its file names
-- (mailbox_seen). A UIDVALIDITY change means the folder was rebuilt: it is read again from the start and
-- the store's Message-ID / SHA-256 uniqueness keeps every message stored once.
CREATE TABLE mailbox_watermarks (
    source         VARCHAR NOT NULL,
    folder         VARCHAR NOT NULL,
    uidvalidity    BIGINT NOT NULL,
    last_uid       BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT $now,
    PRIMARY KEY (source, folder)
);

CREATE TABLE mailbox_seen (
    source         VARCHAR NOT NULL,
    item_key       VARCHAR NOT NULL,
    seen_at        TIMESTAMPTZ NOT NULL DEFAULT $now,
    PRIMARY KEY (source, item_key)
);

-- A sequence can be paused (an out-of-office until its return date + 1 day) or stopped (a human reply, an
-- unsubscribe, a hard bounce) per campaign member, with the reason.
ALTER TABLE campaign_members ADD COLUMN paused_until TIMESTAMPTZ;
ALTER TABLE campaign_members ADD COLUMN stopped_at TIMESTAMPTZ;
ALTER TABLE campaign_members ADD COLUMN stop_reason VARCHAR;
