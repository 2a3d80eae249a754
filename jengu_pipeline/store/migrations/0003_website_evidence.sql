-- Website discovery keeps its reasons: evidence per website, hotels it could not find, and homepage text.
-- Runs on DuckDB and PostgreSQL: $json is filled per backend. No row of a table referenced by a foreign key is
-- updated here or later (DuckDB refuses that): the new tables point at prospect_registry and are upserted.

-- What the confidence was computed from: domain/title/site_name similarity, city on the page, tiers tried.
ALTER TABLE websites ADD COLUMN evidence $json;

-- Prospects whose hotel has no confident website after every tier that could answer (current state: the
-- row goes when a later run finds the site, and is refreshed with the tiers tried on each retry).
CREATE TABLE website_not_found (
    prospect_id   VARCHAR PRIMARY KEY REFERENCES prospect_registry (prospect_id),
    batch_id      VARCHAR NOT NULL REFERENCES batches (batch_id),
    query         VARCHAR,
    tiers_tried   $json NOT NULL,
    evidence      $json,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT $now,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- The chosen sites' homepages as they read when checked: the words a personal message may quote.
CREATE TABLE website_pages (
    domain        VARCHAR PRIMARY KEY,
    url           VARCHAR NOT NULL,
    title         VARCHAR,
    site_name     VARCHAR,
    description   VARCHAR,
    excerpt       VARCHAR,
    language      VARCHAR,
    fetched_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);
