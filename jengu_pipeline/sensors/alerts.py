"""Alerts: every failed run tells the alert webhook (throttled per job), and a daily digest says how the day went.

The sensor names the job, the run id, the failed step and the first line of its error; the throttle (store) lets
at most three alerts per job through an hour and the next one let through counts the rest, so a schedule
failing every five minutes is heard about without flooding the channel. Without a webhook configured, alerts
go to the log only (AlertsResource).
"""

from datetime import timedelta

import dagster as dg

from jengu_pipeline import clock
from jengu_pipeline.domain.alerting import (
    DEFAULT_LIMIT,
    DEFAULT_WINDOW,
    digest_text,
    first_line,
    run_failure_text,
    with_held_back,
)
from jengu_pipeline.domain.inboxes import SendingRules
from jengu_pipeline.domain.sending import sending_day
from jengu_pipeline.observability.quotas import configured_daily_quotas
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sensors.sending import sending_schedule
from jengu_pipeline.store import alerts as alert_store

RUN_FAILURE_KEY = "run_failure:{job}"
SCHEDULE_ZONE = sending_schedule.execution_timezone or "UTC"
"""The digest's day is the sending day, in the sending schedule's zone."""


def failure_alert(context: dg.RunFailureSensorContext) -> tuple[str, str]:
    """(throttle key, alert text) of a failed run: the first failed step and its error's first line, else the
    run's own failure message (a run can fail before any step, e.g. a resource that would not start)."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    step = steps[0].step_key if steps else None
    data = steps[0].step_failure_data if steps else None
    error = context.failure_event.message
    if data is not None and data.error is not None:
        cause = data.error
        while cause.cause is not None:  # Dagster wraps the op's own error: name that one
            cause = cause.cause
        error = cause.message
    return RUN_FAILURE_KEY.format(job=run.job_name), run_failure_text(run.job_name, run.run_id, step, first_line(error))


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Posts every failed run (job, run id, step, first line of the error) to the alert webhook, at most "
    f"{DEFAULT_LIMIT} per job an hour; the next alert let through counts the ones held back.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, alerts: AlertsResource, store: CrmStoreResource
) -> None:
    key, text = failure_alert(context)
    admission = alert_store.admit_alert(store.open(), key, clock.now(), limit=DEFAULT_LIMIT, window=DEFAULT_WINDOW)
    if not admission.allowed:
        context.log.info(f"alert for {key} held back by the throttle ({admission.state.suppressed} so far)")
        return
    alerts.send(with_held_back(text, admission))


@dg.op(
    description="Post yesterday's figures (sends, replies by category, bounces, pauses, quota use) to the "
    "alert webhook."
)
def post_daily_digest(context: dg.OpExecutionContext, store: CrmStoreResource, alerts: AlertsResource) -> str:
    end = clock.now()
    day = sending_day(end, SendingRules(schedule_timezone=SCHEDULE_ZONE))
    figures = alert_store.digest_figures(
        store.open(),
        end - timedelta(days=1),
        end,
        day_start=day.start,
        quota_limits=configured_daily_quotas(resources()),
    )
    text = digest_text(figures)
    context.log.info(text)
    alerts.send(text)
    return text


@dg.job(
    description="The daily digest: yesterday's sends, replies by category, bounces, pauses and quota use.",
    tags={"jengu/lane": "alerts"},
)
def daily_digest_job() -> None:
    post_daily_digest()


daily_digest_schedule = dg.ScheduleDefinition(
    name="daily_digest_schedule",
    job=daily_digest_job,
    cron_schedule="0 7 * * *",
    execution_timezone=SCHEDULE_ZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The daily digest at 07:00 in the sending schedule's zone; on by default (it only reads and posts).",
)
