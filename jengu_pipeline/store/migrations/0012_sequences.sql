-- Follow-up sequences and the campaign lifecycle. Runs on DuckDB and PostgreSQL: $now is filled per backend.

-- When a follow-up may go: the previous step's send time plus the step's delay, counted in the prospect's own
-- calendar. NULL for a first step, which goes as soon as its campaign runs.
ALTER TABLE messages ADD COLUMN due_at TIMESTAMPTZ;

-- Who last moved the campaign through its lifecycle (an operator, the health guard, its end date), when and
-- why; NULL while the status is the one its file gave. From then on the store's status is the one that
-- counts: loading the file again does not resume a paused campaign or reopen a completed one.
ALTER TABLE campaigns ADD COLUMN status_changed_by VARCHAR;
ALTER TABLE campaigns ADD COLUMN status_changed_at TIMESTAMPTZ;
ALTER TABLE campaigns ADD COLUMN status_reason VARCHAR;
-- The health guard judges what was sent since the campaign was last resumed, so a resume is not undone at once.
ALTER TABLE campaigns ADD COLUMN resumed_at TIMESTAMPTZ;
