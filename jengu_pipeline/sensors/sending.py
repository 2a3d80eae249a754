"""The sending schedule: one tick every few minutes inside the sending window (the inbox file's `schedule`)."""

from __future__ import annotations

import dagster as dg

from jengu_pipeline.domain.inboxes import InboxFileError, SendingRules
from jengu_pipeline.resources.sending import SendingConfigError, SendingResource
from jengu_pipeline.resources.wiring import resources

sending_job = dg.define_asset_job(
    name="sending_job",
    selection=dg.AssetSelection.assets("sends"),
    description="One sending tick: reconcile, plan by caps and business hours, claim, send, record.",
    tags={"jengu/lane": "send"},
)


def _schedule() -> tuple[str, str]:
    """The cron and zone of the inbox file the sending resource reads (``JENGU_INBOX_FILE``, else inboxes.yaml) when
    it reads cleanly, else the defaults (the tick reports the file's errors)."""
    sending = resources()["sending"]
    assert isinstance(sending, SendingResource)
    try:
        rules = sending.inbox_config().sending
    except (InboxFileError, SendingConfigError):
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
