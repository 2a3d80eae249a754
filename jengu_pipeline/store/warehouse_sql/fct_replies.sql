-- One row per stored inbound message, with the send it answers (when matched) and that send's campaign and arm.
-- intent is NULL until classified; intent_label says 'unclassified' instead.
CREATE TABLE fct_replies AS
SELECT r.reply_id, r.prospect_id, r.send_id, s.campaign_id, s.step, s.variant, s.inbox, r.matched_by,
       r.received_at, CAST(timezone((SELECT schedule_timezone FROM src_params), r.received_at) AS DATE) AS received_day,
       r.intent, coalesce(r.intent, 'unclassified') AS intent_label, coalesce(i.is_human, FALSE) AS is_human,
       r.classifier, r.classified_at, r.processed_at, r.handled_at, r.failed_recipients, r.hard_failed_recipients,
       epoch(r.received_at - coalesce(s.sent_at, s.claimed_at)) / 3600.0 AS hours_after_send
FROM src_replies r
LEFT JOIN fct_sends s ON s.send_id = r.send_id
LEFT JOIN src_intents i ON i.intent = r.intent;
