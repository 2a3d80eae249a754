"""Sending controls from the Dagster UI: the emergency stop and per-inbox pause, as ``jengu sending`` does.

No ``from __future__ import annotations`` here: Dagster reads the op's config and resource types at runtime.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import sending as ledger


class SendingControlConfig(dg.Config):
    """stop / resume all sending, or pause / resume one inbox."""

    action: Literal["stop", "resume", "pause_inbox", "resume_inbox"]
    inbox: str = Field(default="", description="the inbox address, for pause_inbox and resume_inbox")
    reason: str = Field(default="", description="why (kept with the change)")
    actor: str = Field(description="who (kept in the activity)")


@dg.op(
    description="Flip the emergency stop or one inbox's pause; a running tick sees it before its next send.",
    tags={"jengu/lane": "send"},
)
def change_sending(
    context: dg.OpExecutionContext, config: SendingControlConfig, store: CrmStoreResource
) -> dg.Output[None]:
    crm = store.open()
    actor = f"{config.actor} (dagster run {context.run_id})"
    if config.action in ("stop", "resume"):
        ledger.set_sending_stopped(crm, config.action == "stop", actor=actor)
    else:
        if not config.inbox:
            raise dg.Failure(f"{config.action} needs the inbox address in the run config")
        ledger.set_inbox_paused(
            crm, config.inbox, config.action == "pause_inbox", reason=config.reason or "by an operator", actor=actor
        )
    status = ledger.sending_status(crm)
    return dg.Output(None, metadata={"stopped": status["stopped"], "inboxes": dg.MetadataValue.json(status["inboxes"])})


@dg.job(
    description="Emergency stop / resume of all sending, or pause / resume of one inbox (run config).",
    tags={"jengu/lane": "send"},
)
def sending_control_job() -> None:
    change_sending()
