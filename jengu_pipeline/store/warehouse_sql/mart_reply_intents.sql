-- Replies per campaign (of the send they answer; NULL: not matched to a send) and intent ('unclassified' until
-- the classifier has run), with each intent's share of the campaign's replies.
CREATE TABLE mart_reply_intents AS
SELECT campaign_id, intent_label AS intent, is_human, count(*) AS replies, count(DISTINCT prospect_id) AS prospects,
       count(*) / sum(count(*)) OVER (PARTITION BY campaign_id) AS intent_share,
       min(received_at) AS first_received_at, max(received_at) AS last_received_at
FROM fct_replies
GROUP BY campaign_id, intent_label, is_human
ORDER BY campaign_id, replies DESC, intent;
