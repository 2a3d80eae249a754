-- Where each import batch stands, so that a killed or failed import is visible rather than a batch with raw rows
-- and no prospects that nothing calls incomplete. One row per batch, updated in place (nothing references it):
--   importing  a run is reading or writing the batch (run_id names it);
--   imported   its prospects and rejects are written: set in the same transaction as they are;
--   failed     the run failed or its process died; reason says why. Re-running the batch redoes it.

CREATE TABLE batch_states (
    batch_id      VARCHAR PRIMARY KEY REFERENCES batches (batch_id),
    state         VARCHAR NOT NULL CHECK (state IN ('importing', 'imported', 'failed')),
    run_id        VARCHAR,
    reason        VARCHAR,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Batches imported before this migration: complete when every raw row was accepted or rejected.
INSERT INTO batch_states (batch_id, state, reason, updated_at)
SELECT b.batch_id,
       CASE WHEN coalesce(r.n, 0) = coalesce(s.n, 0) + coalesce(j.n, 0) THEN 'imported' ELSE 'failed' END,
       CASE WHEN coalesce(r.n, 0) = coalesce(s.n, 0) + coalesce(j.n, 0) THEN NULL
            ELSE 'incomplete when batch states were introduced: import the file again' END,
       $now
FROM batches b
LEFT JOIN (SELECT batch_id, count(*) AS n FROM raw_prospects GROUP BY batch_id) r ON r.batch_id = b.batch_id
LEFT JOIN (SELECT batch_id, count(*) AS n FROM prospect_sources GROUP BY batch_id) s ON s.batch_id = b.batch_id
LEFT JOIN (SELECT batch_id, count(*) AS n FROM rejected_rows GROUP BY batch_id) j ON j.batch_id = b.batch_id;
