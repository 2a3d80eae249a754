-- One row per campaign as currently loaded, with its arms in definition order and its membership counts.
CREATE TABLE dim_campaigns AS
WITH members AS (
    SELECT campaign_id, count(*) AS members_ever,
           count(*) FILTER (WHERE removed_at IS NULL) AS members,
           count(*) FILTER (WHERE removed_at IS NULL AND stopped_at IS NOT NULL) AS members_stopped,
           count(*) FILTER (WHERE removed_at IS NULL AND paused_until IS NOT NULL) AS members_ever_paused
    FROM src_campaign_members GROUP BY campaign_id
)
SELECT c.campaign_id, c.name, c.status, c.starts_on, c.ends_on, d.steps, d.variants, d.requires_approval,
       c.source_file, c.loaded_at, coalesce(m.members_ever, 0) AS members_ever, coalesce(m.members, 0) AS members,
       coalesce(m.members_stopped, 0) AS members_stopped, coalesce(m.members_ever_paused, 0) AS members_ever_paused
FROM src_campaigns c
JOIN src_campaign_shape d ON d.campaign_id = c.campaign_id
LEFT JOIN members m ON m.campaign_id = c.campaign_id;
