-- Every day of every inbox from its first to its last day with a send, a bounce or a pause; the caps of these
-- days are computed by the sending rules (domain/sending.py warmup_cap).
CREATE TEMP TABLE stg_inbox_days AS
WITH tz AS (SELECT schedule_timezone FROM src_params),
active AS (
    SELECT inbox, send_day AS day FROM fct_sends
    UNION ALL SELECT inbox, received_day FROM fct_replies WHERE inbox IS NOT NULL AND intent = 'bounce_soft'
    UNION ALL SELECT inbox, CAST(timezone((SELECT schedule_timezone FROM tz), created_at) AS DATE) FROM src_inbox_events
), spans AS (
    SELECT inbox, min(day) AS first_day, max(day) AS last_day FROM active WHERE inbox IS NOT NULL GROUP BY inbox
)
SELECT s.inbox, CAST(d.day AS DATE) AS day, i.warmup_start, i.daily_cap, i.host_provider
FROM spans s
CROSS JOIN LATERAL generate_series(CAST(s.first_day AS TIMESTAMP), CAST(s.last_day AS TIMESTAMP), INTERVAL 1 DAY) AS d(day)
LEFT JOIN src_inboxes i ON i.inbox = s.inbox;
