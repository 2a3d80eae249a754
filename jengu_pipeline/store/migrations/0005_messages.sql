-- Composed messages keep how they were written and why they may (or may not) be sent. Runs on DuckDB and
-- PostgreSQL: $json and $now are filled per backend. Nothing references messages, so its rows may be updated.

-- The batch whose materialisation wrote the message (re-materialising replaces that batch's unsent messages).
ALTER TABLE messages ADD COLUMN batch_id VARCHAR;
-- Who wrote the final text: an LLM provider name (xai, anthropic, ...) or 'template'.
ALTER TABLE messages ADD COLUMN provider VARCHAR;
ALTER TABLE messages ADD COLUMN model VARCHAR;
-- The prompt id and a hash of its text, or the template file name, so a change of wording can be analysed.
ALTER TABLE messages ADD COLUMN prompt_version VARCHAR;
ALTER TABLE messages ADD COLUMN template VARCHAR;
-- Every tier tried, in order: provider, outcome (written / error / gate failures), so a fallback is explained.
ALTER TABLE messages ADD COLUMN attempts $json;
-- The gate's verdict on the final text: failure rules and details (empty when it passed), spam score.
ALTER TABLE messages ADD COLUMN gate_failures $json;
ALTER TABLE messages ADD COLUMN spam_score DOUBLE PRECISION;
ALTER TABLE messages ADD COLUMN approved_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN approved_by VARCHAR;
ALTER TABLE messages ADD COLUMN updated_at TIMESTAMPTZ;

CREATE INDEX messages_batch ON messages (batch_id);
CREATE INDEX messages_status ON messages (status);
