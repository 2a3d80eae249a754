-- Per provider, and once for all providers together (is_total): calls by outcome, cost units, and the cost of
-- what the pipeline got for them: per prospect with a website found, per prospect with a verified address
-- (ok or risky), per message the ledger counts as sent. Costs are not split per stage: every provider's units are
-- set against every output, so the total row is the one to read for "what did a sent message cost".
CREATE TABLE mart_provider_costs AS
WITH outputs AS (
    SELECT (SELECT count(*) FROM dim_prospects WHERE has_website) AS websites_found,
           (SELECT count(*) FROM dim_prospects WHERE has_verified_email) AS verified_emails,
           (SELECT count(*) FROM fct_sends WHERE is_sent) AS sent_messages
), per_provider AS (
    SELECT provider, FALSE AS is_total, count(*) AS calls,
           count(*) FILTER (WHERE is_ok) AS ok_calls, count(*) FILTER (WHERE is_cache_hit) AS cache_hits,
           count(*) FILTER (WHERE NOT is_ok AND NOT is_cache_hit) AS failed_calls,
           CAST(coalesce(sum(cost_units), 0) AS BIGINT) AS cost_units, avg(latency_ms) AS avg_latency_ms,
           min(created_at) AS first_call_at, max(created_at) AS last_call_at
    FROM fct_provider_calls GROUP BY provider
    UNION ALL
    SELECT '(all providers)', TRUE, count(*), count(*) FILTER (WHERE is_ok), count(*) FILTER (WHERE is_cache_hit),
           count(*) FILTER (WHERE NOT is_ok AND NOT is_cache_hit), CAST(coalesce(sum(cost_units), 0) AS BIGINT),
           avg(latency_ms),
           min(created_at), max(created_at)
    FROM fct_provider_calls
)
SELECT p.provider, p.is_total, p.calls, p.ok_calls, p.cache_hits, p.failed_calls,
       p.cache_hits / nullif(p.calls, 0) AS cache_hit_rate, p.cost_units, p.avg_latency_ms,
       o.websites_found, o.verified_emails, o.sent_messages,
       p.cost_units / nullif(o.websites_found, 0) AS cost_per_website_found,
       p.cost_units / nullif(o.verified_emails, 0) AS cost_per_verified_email,
       p.cost_units / nullif(o.sent_messages, 0) AS cost_per_sent_message,
       p.first_call_at, p.last_call_at
FROM per_provider p CROSS JOIN outputs o
ORDER BY p.is_total, p.provider;
