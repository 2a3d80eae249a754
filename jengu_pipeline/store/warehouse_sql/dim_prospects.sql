-- One row per prospect with the funnel stage it reached. A later stage implies the earlier ones (a prospect
-- whose address came with the import and was sent to counts as "website found" too), so each prospect sits
-- in exactly one cell of mart_funnel and the funnel can only narrow.
CREATE TABLE dim_prospects AS
WITH ready AS (
    SELECT prospect_id, count(*) AS ready_messages
    FROM src_messages WHERE status IN ('queued', 'awaiting_approval') GROUP BY prospect_id
), sent AS (
    SELECT prospect_id, count(*) AS sends_sent, min(coalesce(sent_at, claimed_at)) AS first_sent_at,
           arg_min(campaign_id, coalesce(sent_at, claimed_at)) AS first_sent_campaign
    FROM src_sends WHERE status IN ('sent', 'bounced') GROUP BY prospect_id
), replied AS (
    SELECT r.prospect_id, count(*) AS human_replies, bool_or(r.intent = 'interested') AS interested,
           min(r.received_at) AS first_reply_at
    FROM src_replies r JOIN src_intents i ON i.intent = r.intent
    WHERE i.is_human AND r.prospect_id IS NOT NULL GROUP BY r.prospect_id
), first_member AS (
    SELECT prospect_id, arg_min(campaign_id, added_at) AS campaign_id FROM src_campaign_members GROUP BY prospect_id
), flags AS (
    SELECT p.*,
           coalesce(w.sites, 0) > 0 AS has_website,
           w.best_confidence AS website_confidence,
           p.email_status IN ('ok', 'risky') AS has_verified_email,
           coalesce(m.ready_messages, 0) > 0 AS has_ready_message,
           coalesce(s.sends_sent, 0) AS sends_sent,
           s.first_sent_at,
           coalesce(r.human_replies, 0) AS human_replies,
           coalesce(r.interested, FALSE) AS is_interested,
           r.first_reply_at,
           coalesce(s.first_sent_campaign, f.campaign_id) AS campaign_id
    FROM src_prospects p
    LEFT JOIN src_websites w ON w.prospect_id = p.prospect_id
    LEFT JOIN ready m ON m.prospect_id = p.prospect_id
    LEFT JOIN sent s ON s.prospect_id = p.prospect_id
    LEFT JOIN replied r ON r.prospect_id = p.prospect_id
    LEFT JOIN first_member f ON f.prospect_id = p.prospect_id
)
SELECT
    f.prospect_id, f.batch_id, b.name AS batch_name, f.first_name, f.last_name, f.title, f.company, f.linkedin_url,
    f.email, lower(nullif(split_part(f.email, '@', 2), '')) AS email_domain, f.email_status, f.website,
    f.website_confidence, f.country, f.timezone, f.tier, f.score, f.stage, f.archived, f.campaign_id,
    f.created_at, f.updated_at, CAST(date_trunc('week', f.created_at) AS DATE) AS import_week,
    f.has_website, f.has_verified_email, f.has_ready_message, f.sends_sent, f.first_sent_at, f.human_replies,
    f.first_reply_at, f.is_interested,
    CASE WHEN f.is_interested THEN 6 WHEN f.human_replies > 0 THEN 5 WHEN f.sends_sent > 0 THEN 4
         WHEN f.has_ready_message THEN 3 WHEN f.has_verified_email THEN 2 WHEN f.has_website THEN 1 ELSE 0
    END AS funnel_stage
FROM flags f LEFT JOIN src_batches b ON b.batch_id = f.batch_id;
