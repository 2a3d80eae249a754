-- Sending: inboxes as configured in inboxes.yaml (never their secrets), and a send ledger with the states an SMTP
-- conversation really has. Runs on DuckDB and PostgreSQL: $json and $now are filled per backend.

ALTER TABLE inboxes ADD COLUMN display_name VARCHAR;
ALTER TABLE inboxes ADD COLUMN warmup_start DATE;
-- The inbox's settings without secrets (password and DKIM key are env var names only).
ALTER TABLE inboxes ADD COLUMN config $json;
-- The last sender-domain check (MX, SPF, DKIM, DMARC): passed, failed or unknown, and its records.
ALTER TABLE inboxes ADD COLUMN preflight_status VARCHAR;
ALTER TABLE inboxes ADD COLUMN preflight $json;
-- Bounce health counts sends since the inbox was last resumed, so a resume is not undone by old bounces.
ALTER TABLE inboxes ADD COLUMN resumed_at TIMESTAMPTZ;

-- Nothing ever wrote the first draft of the ledger; it is rebuilt with the states below.
DROP TABLE sends;

-- The send ledger: one row per (prospect, campaign, step), claimed in a committed transaction before any SMTP
-- conversation, so a step can never go out twice. claimed -> sent | bounced | deferred (4xx or nothing sent,
-- retried at retry_at) | blocked (sender-side refusal, held) | failed (given up) | unknown (the server may have
-- accepted it: reconciled from the Sent folder, or held for the operator; never resent blindly).
CREATE TABLE sends (
    send_id        VARCHAR PRIMARY KEY,
    prospect_id    VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    campaign_id    VARCHAR NOT NULL,
    step           INTEGER NOT NULL,
    message_id     VARCHAR NOT NULL,
    inbox          VARCHAR NOT NULL,
    recipient      VARCHAR NOT NULL,
    rfc_message_id VARCHAR NOT NULL,
    risky          BOOLEAN NOT NULL DEFAULT FALSE,
    status         VARCHAR NOT NULL DEFAULT 'claimed'
                   CHECK (status IN ('claimed', 'sent', 'unknown', 'deferred', 'bounced', 'blocked', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 1,
    smtp_code      INTEGER,
    smtp_response  VARCHAR,
    claimed_by     VARCHAR,
    claimed_at     TIMESTAMPTZ NOT NULL,
    sent_at        TIMESTAMPTZ,
    retry_at       TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT $now,
    UNIQUE (prospect_id, campaign_id, step)
);

CREATE INDEX sends_inbox_claimed ON sends (inbox, claimed_at);
CREATE INDEX sends_status ON sends (status);

-- Every SMTP attempt of a send, append-only: which inbox, which Message-ID, what the server said.
CREATE TABLE send_attempts (
    send_id        VARCHAR NOT NULL,
    prospect_id    VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    attempt        INTEGER NOT NULL,
    inbox          VARCHAR NOT NULL,
    rfc_message_id VARCHAR NOT NULL,
    outcome        VARCHAR,
    smtp_code      INTEGER,
    smtp_response  VARCHAR,
    stage          VARCHAR,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    PRIMARY KEY (send_id, attempt)
);
