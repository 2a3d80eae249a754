-- Email finding: every verification attempt with its cost, what is known per mail domain, the chosen
-- address's status on the prospect, and leases that keep two runs off the same prospect.

ALTER TABLE email_verifications ADD COLUMN batch_id VARCHAR;
ALTER TABLE email_verifications ADD COLUMN pattern VARCHAR;
ALTER TABLE email_verifications ADD COLUMN cost_units INTEGER DEFAULT 0;
CREATE INDEX email_verifications_prospect ON email_verifications (prospect_id);
CREATE INDEX email_verifications_email ON email_verifications (email);

-- ok (a mailbox answered for it) or risky (catch-all domain, unconfirmed); NULL until verified.
ALTER TABLE prospects ADD COLUMN email_status VARCHAR;

-- What one mail domain does, learned once: whether it takes mail and whether it accepts any address.
CREATE TABLE email_domains (
    domain        VARCHAR PRIMARY KEY,
    has_mx        BOOLEAN NOT NULL,
    mx_hosts      VARCHAR,
    catch_all     BOOLEAN,
    checked_at    TIMESTAMPTZ NOT NULL DEFAULT $now
);

-- A run holds a prospect while it enriches it; an expired lease is free to take (the holder died).
CREATE TABLE enrichment_leases (
    prospect_id   VARCHAR PRIMARY KEY REFERENCES prospect_registry (prospect_id),
    holder        VARCHAR NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
