"""The sending schedule: one tick every few minutes inside the sending window (inboxes.yaml's `schedule`)."""

from __future__ import annotations

import dagster as dg

from jengu_pipeline.domain.inboxes import InboxFileError, SendingRules, read_inbox_file
from jengu_pipeline.instance import PROJECT_ROOT

sending_job = dg.define_asset_job(
    name="sending_job",
    selection=dg.AssetSelection.assets("sends"),
    description="One sending tick: reconcile, plan by caps and business hours, claim, send, record.",
    tags={"jengu/lane": "send"},
)


def _schedule() -> tuple[str, str]:
    """The inbox file's cron and zone when it reads cleanly, else the defaults (the tick reports the file's errors)."""
    try:
        rules = read_inbox_file(PROJECT_ROOT / "inboxes.yaml").sending
    except InboxFileError:
        rules = SendingRules()
    return rules.schedule, rules.schedule_timezone


_CRON, _ZONE = _schedule()

sending_schedule = dg.ScheduleDefinition(
    name="sending_schedule",
    job=sending_job,
    cron_schedule=_CRON,
    execution_timezone=_ZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Sending ticks; off until an operator turns it on, since it sends real email from real inboxes.",
)
