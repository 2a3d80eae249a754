"""Follow-up writing: a job for the ``follow_up_messages`` asset and the hourly schedule that runs it.

Writing is not sending: a written follow-up waits in the queue for its due time and goes out on a sending tick,
through the same claim as every message, so this schedule is on by default while sending stays off.
"""

from __future__ import annotations

import dagster as dg

follow_up_job = dg.define_asset_job(
    name="follow_up_job",
    selection=dg.AssetSelection.assets("follow_up_messages"),
    description="Write every follow-up that falls due within a day, and complete campaigns past their end date.",
    tags={"jengu/lane": "compose"},
)

follow_up_schedule = dg.ScheduleDefinition(
    name="follow_up_schedule",
    job=follow_up_job,
    cron_schedule="50 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: follow-ups due within a day are written and queued with their due time.",
)
