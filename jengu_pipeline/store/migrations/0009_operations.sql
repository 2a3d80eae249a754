-- Operations: what each integrity run found and repaired, and the alert throttle. Runs on DuckDB and PostgreSQL:
-- $json and $now are filled per backend. Nothing references these tables, so their rows may be updated.

-- One row per (integrity run, rule): every rule is written, clean ones with count 0, so a missing rule is a bug.
-- mode is check (read only), dry_run or repair. Examples are ids only, never addresses or names.
CREATE TABLE integrity_findings (
    run_id        VARCHAR NOT NULL,
    rule          VARCHAR NOT NULL,
    mode          VARCHAR NOT NULL CHECK (mode IN ('check', 'dry_run', 'repair')),
    found         INTEGER NOT NULL CHECK (found >= 0),
    repaired      INTEGER NOT NULL DEFAULT 0 CHECK (repaired >= 0),
    repairable    BOOLEAN NOT NULL,
    examples      $json NOT NULL,
    actor         VARCHAR NOT NULL,
    checked_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, rule)
);

CREATE INDEX integrity_findings_checked ON integrity_findings (checked_at);

-- At most N alerts per key in a window; the ones held back are counted and summarised in the next one sent.
CREATE TABLE alert_throttle (
    alert_key           VARCHAR PRIMARY KEY,
    window_start        TIMESTAMPTZ NOT NULL,
    sent_in_window      INTEGER NOT NULL DEFAULT 0,
    suppressed          INTEGER NOT NULL DEFAULT 0,
    first_suppressed_at TIMESTAMPTZ,
    last_sent_at        TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT $now
);
