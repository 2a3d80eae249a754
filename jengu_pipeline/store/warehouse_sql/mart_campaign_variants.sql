-- Per campaign, step and arm: sends, human replies and interested replies with Wilson 95% intervals, and the
-- pooled two-proportion z-test of each arm against the campaign step's first arm (NULL on the first arm itself).
CREATE TABLE mart_campaign_variants AS
SELECT a.campaign_id, a.step, a.variant, a.arm_rank, a.arm_rank = 1 AS is_baseline, b.variant AS baseline_variant,
       a.sent, a.bounced, a.replies,
       a.replies / nullif(a.sent, 0) AS reply_rate, st.reply_rate_low, st.reply_rate_high,
       a.interested,
       a.interested / nullif(a.sent, 0) AS interested_rate, st.interested_rate_low, st.interested_rate_high,
       CASE WHEN a.arm_rank > 1 THEN a.replies / nullif(a.sent, 0) - b.replies / nullif(b.sent, 0) END
           AS reply_rate_diff,
       st.reply_z, st.reply_p_value,
       CASE WHEN a.arm_rank > 1 THEN a.interested / nullif(a.sent, 0) - b.interested / nullif(b.sent, 0) END
           AS interested_rate_diff,
       st.interested_z, st.interested_p_value
FROM stg_variant_arms a
JOIN stg_variant_arms b ON b.campaign_id = a.campaign_id AND b.step = a.step AND b.arm_rank = 1
JOIN stg_variant_stats st ON st.campaign_id = a.campaign_id AND st.step = a.step AND st.variant = a.variant
ORDER BY a.campaign_id, a.step, a.arm_rank;
