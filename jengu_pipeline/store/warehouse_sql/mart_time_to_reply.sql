-- Hours from a send to its first human reply (interested, not_interested, question, other), per campaign and step,
-- and once over every campaign (is_total).
CREATE TABLE mart_time_to_reply AS
SELECT campaign_id, step, grouping(campaign_id, step) > 0 AS is_total,
       count(*) AS replied_sends,
       quantile_cont(hours_to_first_reply, 0.5) AS p50_hours,
       quantile_cont(hours_to_first_reply, 0.75) AS p75_hours,
       quantile_cont(hours_to_first_reply, 0.9) AS p90_hours,
       avg(hours_to_first_reply) AS mean_hours,
       min(hours_to_first_reply) AS min_hours,
       max(hours_to_first_reply) AS max_hours
FROM fct_sends
WHERE hours_to_first_reply IS NOT NULL
GROUP BY GROUPING SETS ((campaign_id, step), ())
ORDER BY is_total, campaign_id, step;
