-- Campaigns loaded from campaigns/*.yaml, and who is in each. Runs on DuckDB and PostgreSQL: $json and $now
-- are filled per backend. campaigns rows are upserted when a file changes, so nothing references them (DuckDB
-- refuses updates of a referenced row); members point at the immutable campaign_registry instead.

-- Labels an operator or an import gives a prospect, for audience rules: a JSON array of strings kept as text, so
-- that `jengu export prospects` can still write it to CSV (a JSONB list arrives as a nested column).
ALTER TABLE prospects ADD COLUMN tags VARCHAR;

-- Every campaign id ever loaded. Immutable, so that foreign keys can point at it on both backends.
CREATE TABLE campaign_registry (
    campaign_id   VARCHAR PRIMARY KEY,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- The current definition of each campaign, as validated from its file.
CREATE TABLE campaigns (
    campaign_id   VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'completed')),
    starts_on     DATE NOT NULL,
    ends_on       DATE NOT NULL,
    definition    $json NOT NULL,
    source_file   VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    loaded_at     TIMESTAMPTZ NOT NULL DEFAULT $now,
    CHECK (ends_on >= starts_on)
);

-- Membership: a row per prospect ever in the campaign; removed_at set means out (and not re-added by rules).
CREATE TABLE campaign_members (
    campaign_id   VARCHAR NOT NULL REFERENCES campaign_registry (campaign_id),
    prospect_id   VARCHAR NOT NULL REFERENCES prospect_registry (prospect_id),
    variant       VARCHAR,
    source        VARCHAR NOT NULL CHECK (source IN ('rule', 'manual')),
    added_at      TIMESTAMPTZ NOT NULL DEFAULT $now,
    removed_at    TIMESTAMPTZ,
    PRIMARY KEY (campaign_id, prospect_id)
);

CREATE INDEX campaign_members_prospect ON campaign_members (prospect_id);
