-- Prospects by the furthest stage they reached, per import batch, campaign (of the first send, else of the first
-- membership; NULL: in none) and import week (Monday). Every prospect is in exactly one row, so rows add up.
CREATE TABLE mart_funnel AS
SELECT batch_id, any_value(batch_name) AS batch_name, campaign_id, import_week,
       count(*) AS imported,
       count(*) FILTER (WHERE funnel_stage >= 1) AS website_found,
       count(*) FILTER (WHERE funnel_stage >= 2) AS email_verified,
       count(*) FILTER (WHERE funnel_stage >= 3) AS message_ready,
       count(*) FILTER (WHERE funnel_stage >= 4) AS sent,
       count(*) FILTER (WHERE funnel_stage >= 5) AS replied,
       count(*) FILTER (WHERE funnel_stage >= 6) AS interested,
       count(*) FILTER (WHERE email_status = 'ok') AS email_ok,
       count(*) FILTER (WHERE email_status = 'risky') AS email_risky,
       count(*) FILTER (WHERE archived) AS archived,
       count(*) FILTER (WHERE funnel_stage >= 4) / count(*) AS sent_rate,
       count(*) FILTER (WHERE funnel_stage >= 5) / nullif(count(*) FILTER (WHERE funnel_stage >= 4), 0) AS reply_rate,
       count(*) FILTER (WHERE funnel_stage >= 6)
           / nullif(count(*) FILTER (WHERE funnel_stage >= 4), 0) AS interested_rate
FROM dim_prospects
GROUP BY batch_id, campaign_id, import_week;
