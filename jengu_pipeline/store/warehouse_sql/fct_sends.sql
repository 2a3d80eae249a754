-- One row per send-ledger row (prospect, campaign, step), with its A/B arm and the replies it drew.
-- is_sent: the ledger says it reached a mail server (sent, or bounced after acceptance or at RCPT/DATA).
CREATE TABLE fct_sends AS
WITH answers AS (
    SELECT r.send_id, count(*) AS replies,
           count(*) FILTER (WHERE i.is_human) AS human_replies,
           bool_or(r.intent = 'interested') AS interested,
           count(*) FILTER (WHERE r.intent = 'bounce_soft') AS soft_bounces,
           min(r.received_at) FILTER (WHERE i.is_human) AS first_reply_at,
           arg_min(r.intent, r.received_at) FILTER (WHERE i.is_human) AS first_reply_intent
    FROM src_replies r LEFT JOIN src_intents i ON i.intent = r.intent
    WHERE r.send_id IS NOT NULL GROUP BY r.send_id
)
SELECT s.send_id, s.prospect_id, s.campaign_id, s.step, coalesce(m.variant, cm.variant) AS variant, s.message_id,
       s.inbox, s.recipient_domain, s.risky, s.status,
       s.status IN ('sent', 'bounced') AS is_sent,
       s.status = 'bounced' AS is_bounced,
       s.status IN ('claimed', 'sent', 'unknown', 'bounced') AS counts_against_cap,
       s.attempts, s.smtp_code, s.claimed_at, s.sent_at, s.updated_at,
       CAST(timezone((SELECT schedule_timezone FROM src_params), s.claimed_at) AS DATE) AS send_day,
       m.provider AS writer, m.template,
       coalesce(a.replies, 0) AS replies, coalesce(a.human_replies, 0) > 0 AS human_replied,
       coalesce(a.interested, FALSE) AS interested, coalesce(a.soft_bounces, 0) AS soft_bounces,
       a.first_reply_at, a.first_reply_intent,
       epoch(a.first_reply_at - coalesce(s.sent_at, s.claimed_at)) / 3600.0 AS hours_to_first_reply
FROM src_sends s
LEFT JOIN src_messages m ON m.message_id = s.message_id
LEFT JOIN src_campaign_members cm ON cm.campaign_id = s.campaign_id AND cm.prospect_id = s.prospect_id
LEFT JOIN answers a ON a.send_id = s.send_id;
