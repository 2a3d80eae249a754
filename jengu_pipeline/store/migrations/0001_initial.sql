-- The CRM store's first schema. Runs on DuckDB and PostgreSQL: $json and $now are filled per backend.
--
-- DuckDB checks a foreign key by deleting and re-inserting the parent row on every UPDATE, so a
-- referenced row can never change there. Child tables therefore point at immutable registries
-- (batches, prospect_registry) and never at rows that change (prospects, messages, inboxes).

CREATE TABLE batches (
    batch_id      VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    source_file   VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE TABLE raw_prospects (
    batch_id      VARCHAR NOT NULL REFERENCES batches (batch_id),
    line_number   BIGINT NOT NULL,
    raw           VARCHAR NOT NULL,
    error         VARCHAR,
    first_name    VARCHAR,
    last_name     VARCHAR,
    full_name     VARCHAR,
    title         VARCHAR,
    company       VARCHAR,
    website       VARCHAR,
    linkedin_url  VARCHAR,
    location      VARCHAR,
    city          VARCHAR,
    region        VARCHAR,
    country       VARCHAR,
    email         VARCHAR,
    phone         VARCHAR,
    PRIMARY KEY (batch_id, line_number)
);

CREATE TABLE rejected_rows (
    batch_id      VARCHAR NOT NULL REFERENCES batches (batch_id),
    line_number   BIGINT NOT NULL,
    reason        VARCHAR NOT NULL,
    raw           VARCHAR NOT NULL,
    PRIMARY KEY (batch_id, line_number)
);

-- Every prospect id ever issued. Immutable, so that foreign keys can point at it on both backends.
CREATE TABLE prospect_registry (
    prospect_id   VARCHAR PRIMARY KEY,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE TABLE prospects (
    prospect_id          VARCHAR PRIMARY KEY REFERENCES prospect_registry (prospect_id),
    batch_id             VARCHAR NOT NULL REFERENCES batches (batch_id),
    first_name           VARCHAR,
    last_name            VARCHAR,
    first_ascii          VARCHAR,
    last_ascii           VARCHAR,
    name_key             VARCHAR,
    title                VARCHAR,
    company              VARCHAR,
    company_key          VARCHAR,
    linkedin_url         VARCHAR,
    email                VARCHAR,
    website              VARCHAR,
    phone                VARCHAR,
    country              VARCHAR,
    timezone             VARCHAR,
    tier                 VARCHAR NOT NULL DEFAULT 'cold' CHECK (tier IN ('hot', 'warm', 'cold')),
    score                INTEGER NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 100),
    stage                VARCHAR NOT NULL DEFAULT 'new',
    archived             BOOLEAN NOT NULL DEFAULT FALSE,
    -- Copies of email / linkedin_url while the prospect is active, NULL once archived: a plain UNIQUE
    -- on them is "unique among active prospects" on both backends (DuckDB has no partial indexes).
    active_email         VARCHAR UNIQUE,
    active_linkedin_url  VARCHAR UNIQUE,
    version              INTEGER NOT NULL DEFAULT 1,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT $now,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT $now,
    CHECK ((archived AND active_email IS NULL) OR (NOT archived AND active_email IS NOT DISTINCT FROM email)),
    CHECK ((archived AND active_linkedin_url IS NULL)
           OR (NOT archived AND active_linkedin_url IS NOT DISTINCT FROM linkedin_url))
);

-- Provenance: which batch and line saw which prospect, and by which rule a duplicate was merged.
CREATE TABLE prospect_sources (
    batch_id      VARCHAR NOT NULL REFERENCES batches (batch_id),
    line_number   BIGINT NOT NULL,
    prospect_id   VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    match_rule    VARCHAR,
    PRIMARY KEY (batch_id, line_number)
);

CREATE TABLE websites (
    prospect_id   VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    url           VARCHAR NOT NULL,
    domain        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    confidence    DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now,
    PRIMARY KEY (prospect_id, url)
);

CREATE TABLE email_verifications (
    verification_id  VARCHAR PRIMARY KEY,
    prospect_id      VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    email            VARCHAR NOT NULL,
    provider         VARCHAR NOT NULL,
    result           VARCHAR NOT NULL,
    detail           VARCHAR,
    checked_at       TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE TABLE messages (
    message_id    VARCHAR PRIMARY KEY,
    prospect_id   VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    campaign_id   VARCHAR NOT NULL,
    step          INTEGER NOT NULL,
    variant       VARCHAR,
    subject       VARCHAR NOT NULL,
    body          VARCHAR NOT NULL,
    status        VARCHAR NOT NULL DEFAULT 'draft',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now,
    UNIQUE (prospect_id, campaign_id, step)
);

CREATE TABLE inboxes (
    inbox           VARCHAR PRIMARY KEY,
    host_provider   VARCHAR NOT NULL DEFAULT 'other',
    daily_cap       INTEGER NOT NULL DEFAULT 15 CHECK (daily_cap BETWEEN 0 AND 50),
    warmup_stage    INTEGER NOT NULL DEFAULT 0,
    status          VARCHAR NOT NULL DEFAULT 'active',
    paused_reason   VARCHAR,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT $now,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- The send ledger. The unique (prospect, campaign, step) key is claimed in a committed transaction before
-- any SMTP conversation, so a step can never go out twice.
CREATE TABLE sends (
    send_id        VARCHAR PRIMARY KEY,
    prospect_id    VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    campaign_id    VARCHAR NOT NULL,
    step           INTEGER NOT NULL,
    inbox          VARCHAR NOT NULL,
    message_id     VARCHAR NOT NULL,
    status         VARCHAR NOT NULL DEFAULT 'claimed'
                   CHECK (status IN ('claimed', 'sent', 'unknown', 'bounced', 'failed')),
    smtp_response  VARCHAR,
    claimed_at     TIMESTAMPTZ NOT NULL DEFAULT $now,
    sent_at        TIMESTAMPTZ,
    UNIQUE (prospect_id, campaign_id, step)
);

CREATE TABLE replies (
    reply_id      VARCHAR PRIMARY KEY,
    prospect_id   VARCHAR REFERENCES prospect_registry (prospect_id),
    send_id       VARCHAR,
    received_at   TIMESTAMPTZ NOT NULL,
    intent        VARCHAR NOT NULL,
    subject       VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- Append-only: one row per (address, reason); an address is suppressed while any row exists.
CREATE TABLE suppressions (
    email         VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    source        VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now,
    PRIMARY KEY (email, reason)
);

CREATE SEQUENCE activity_ids;
-- Append-only history of everything that happened to a prospect or a batch.
CREATE TABLE activities (
    activity_id   BIGINT PRIMARY KEY DEFAULT nextval('activity_ids'),
    prospect_id   VARCHAR REFERENCES prospect_registry (prospect_id),
    batch_id      VARCHAR REFERENCES batches (batch_id),
    type          VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    metadata      $json,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE SEQUENCE provider_call_ids;
-- The cost and outcome ledger of every external call, cache hits and refusals included.
CREATE TABLE provider_calls (
    call_id       BIGINT PRIMARY KEY DEFAULT nextval('provider_call_ids'),
    provider      VARCHAR NOT NULL,
    operation     VARCHAR NOT NULL,
    outcome       VARCHAR NOT NULL,
    latency_ms    DOUBLE PRECISION NOT NULL DEFAULT 0,
    cost_units    INTEGER NOT NULL DEFAULT 0,
    batch_id      VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- Units reserved per provider and UTC day; reserved before each paid call, shared by every process.
CREATE TABLE provider_quota (
    provider      VARCHAR NOT NULL,
    day           DATE NOT NULL,
    used          INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (provider, day)
);

CREATE TABLE provider_cache (
    namespace     VARCHAR NOT NULL,
    cache_key     VARCHAR NOT NULL,
    value         $json NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now,
    PRIMARY KEY (namespace, cache_key)
);

CREATE TABLE flags (
    name          VARCHAR PRIMARY KEY,
    value         VARCHAR NOT NULL,
    updated_by    VARCHAR,
    version       INTEGER NOT NULL DEFAULT 1,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

CREATE INDEX prospects_batch ON prospects (batch_id);
CREATE INDEX prospect_sources_prospect ON prospect_sources (prospect_id);
CREATE INDEX activities_prospect ON activities (prospect_id);
CREATE INDEX provider_calls_provider_day ON provider_calls (provider, created_at);
