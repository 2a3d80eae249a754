-- Per inbox and sending day: sends, the day's cap and warm-up stage, hard and soft bounces, the hard-bounce rate
-- over the inbox's last 100 sends as of the end of that day, and pauses. A send counts on the day it was claimed
-- (as the caps count it); a late DSN's bounce counts on its send's day; a soft bounce on the day it arrived.
CREATE TABLE mart_inbox_health AS
WITH tz AS (SELECT schedule_timezone FROM src_params),
windowed AS (
    SELECT inbox, send_day AS day,
           CAST(sum(CAST(is_bounced AS INTEGER)) OVER w AS BIGINT) AS window_bounces,
           count(*) OVER w AS window_sends,
           row_number() OVER (PARTITION BY inbox, send_day ORDER BY claimed_at DESC, send_id DESC) AS from_end
    FROM fct_sends WHERE is_sent
    WINDOW w AS (PARTITION BY inbox ORDER BY claimed_at, send_id ROWS BETWEEN 99 PRECEDING AND CURRENT ROW)
), day_end AS (
    SELECT inbox, day, window_bounces, window_sends FROM windowed WHERE from_end = 1
), daily AS (
    SELECT inbox, send_day AS day,
           count(*) FILTER (WHERE is_sent) AS sent,
           count(*) FILTER (WHERE counts_against_cap) AS counted_against_cap,
           count(*) FILTER (WHERE is_sent AND risky) AS risky_sent,
           count(*) FILTER (WHERE is_bounced) AS hard_bounces
    FROM fct_sends GROUP BY inbox, send_day
), soft AS (
    SELECT inbox, received_day AS day, count(*) AS soft_bounces
    FROM fct_replies WHERE intent = 'bounce_soft' AND inbox IS NOT NULL GROUP BY inbox, received_day
), events AS (
    SELECT inbox, CAST(timezone((SELECT schedule_timezone FROM tz), created_at) AS DATE) AS day,
           count(*) FILTER (WHERE type = 'inbox_paused') AS pauses,
           count(*) FILTER (WHERE type = 'inbox_resumed') AS resumes,
           arg_max(type = 'inbox_paused', activity_id) AS paused_at_day_end
    FROM src_inbox_events GROUP BY 1, 2
), joined AS (
    SELECT d.inbox, d.day, d.host_provider, c.cap, c.warmup_stage,
           coalesce(y.sent, 0) AS sent, coalesce(y.counted_against_cap, 0) AS counted_against_cap,
           coalesce(y.risky_sent, 0) AS risky_sent, coalesce(y.hard_bounces, 0) AS hard_bounces,
           coalesce(s.soft_bounces, 0) AS soft_bounces,
           last_value(e2.window_bounces IGNORE NULLS) OVER running AS window_bounces,
           last_value(e2.window_sends IGNORE NULLS) OVER running AS window_sends,
           coalesce(ev.pauses, 0) AS pauses, coalesce(ev.resumes, 0) AS resumes,
           coalesce(last_value(ev.paused_at_day_end IGNORE NULLS) OVER running, FALSE) AS paused_at_day_end
    FROM stg_inbox_days d
    LEFT JOIN stg_inbox_caps c ON c.inbox = d.inbox AND c.day = d.day
    LEFT JOIN daily y ON y.inbox = d.inbox AND y.day = d.day
    LEFT JOIN soft s ON s.inbox = d.inbox AND s.day = d.day
    LEFT JOIN day_end e2 ON e2.inbox = d.inbox AND e2.day = d.day
    LEFT JOIN events ev ON ev.inbox = d.inbox AND ev.day = d.day
    WINDOW running AS (PARTITION BY d.inbox ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT inbox, day, host_provider, cap, warmup_stage, sent, counted_against_cap, risky_sent, hard_bounces,
       soft_bounces, coalesce(window_sends, 0) AS rolling_window_sends, coalesce(window_bounces, 0) AS rolling_hard_bounces,
       window_bounces / nullif(window_sends, 0) AS rolling_bounce_rate,
       counted_against_cap / nullif(cap, 0) AS cap_used_rate,
       pauses, resumes, paused_at_day_end
FROM joined
ORDER BY inbox, day;
