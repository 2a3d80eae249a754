-- Counts per campaign, step and A/B arm, arms ranked by their order in the campaign's definition (then by name);
-- rank 1 is the baseline every other arm is tested against. Its statistics are computed by domain/stats.py.
CREATE TEMP TABLE stg_variant_arms AS
WITH arms AS (
    SELECT campaign_id, step, coalesce(variant, '(none)') AS variant,
           count(*) FILTER (WHERE is_sent) AS sent,
           count(*) FILTER (WHERE is_sent AND human_replied) AS replies,
           count(*) FILTER (WHERE is_sent AND interested) AS interested,
           count(*) FILTER (WHERE is_bounced) AS bounced
    FROM fct_sends GROUP BY campaign_id, step, coalesce(variant, '(none)')
)
SELECT a.*, row_number() OVER (PARTITION BY a.campaign_id, a.step
                               ORDER BY coalesce(v.position, 2147483647), a.variant) AS arm_rank
FROM arms a LEFT JOIN src_campaign_variants v ON v.campaign_id = a.campaign_id AND v.variant = a.variant;
