"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import dagster as dg

from jengu_pipeline.assets.compose import messages, messages_cleared_pass_gate
from jengu_pipeline.assets.emails import email_verifications, email_verifications_chosen_addresses_verified
from jengu_pipeline.assets.enrich import websites, websites_domains_resolvable
from jengu_pipeline.assets.follow_ups import follow_up_messages
from jengu_pipeline.assets.ingest import (
    prospects_and_rejects,
    prospects_rows_conserved,
    prospects_unique_active_identity,
    raw_prospects,
)
from jengu_pipeline.assets.integrity import (
    integrity_asset_checks,
    integrity_findings,
    integrity_job,
    integrity_schedule,
)
from jengu_pipeline.assets.replies import (
    replies,
    replies_all_classified,
    replies_no_send_after_suppression,
    replies_processed_once,
)
from jengu_pipeline.assets.send import sends, sends_never_after_suppression, sends_within_daily_caps
from jengu_pipeline.assets.warehouse import warehouse, warehouse_automation_sensor
from jengu_pipeline.jobs.batches import ingest_job, prospect_batch_job
from jengu_pipeline.jobs.campaign_lifecycle import campaign_lifecycle_job
from jengu_pipeline.jobs.campaigns import campaign_membership_job
from jengu_pipeline.jobs.messages import message_approval_job
from jengu_pipeline.jobs.sending import sending_control_job
from jengu_pipeline.observability.sentry import init_sentry
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sensors.alerts import daily_digest_job, daily_digest_schedule, run_failure_alert_sensor
from jengu_pipeline.sensors.drop_folder import prospect_drop_sensor
from jengu_pipeline.sensors.follow_ups import follow_up_job, follow_up_schedule
from jengu_pipeline.sensors.replies import replies_job, reply_ingestion_sensor
from jengu_pipeline.sensors.sending import sending_job, sending_schedule

init_sentry()  # errors of the webserver, the daemon and every run go to Sentry when JENGU_SENTRY_DSN is set

defs = dg.Definitions(
    assets=[
        raw_prospects,
        prospects_and_rejects,
        websites,
        email_verifications,
        messages,
        sends,
        replies,
        integrity_findings,
        warehouse,
        follow_up_messages,
    ],
    asset_checks=[
        prospects_rows_conserved,
        prospects_unique_active_identity,
        websites_domains_resolvable,
        email_verifications_chosen_addresses_verified,
        messages_cleared_pass_gate,
        sends_never_after_suppression,
        sends_within_daily_caps,
        replies_all_classified,
        replies_no_send_after_suppression,
        replies_processed_once,
        *integrity_asset_checks,
    ],
    jobs=[
        ingest_job,
        prospect_batch_job,
        campaign_membership_job,
        message_approval_job,
        sending_job,
        sending_control_job,
        replies_job,
        integrity_job,
        daily_digest_job,
        follow_up_job,
        campaign_lifecycle_job,
    ],
    schedules=[sending_schedule, integrity_schedule, daily_digest_schedule, follow_up_schedule],
    sensors=[prospect_drop_sensor, reply_ingestion_sensor, run_failure_alert_sensor, warehouse_automation_sensor],
    resources=resources(),
    executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
)
