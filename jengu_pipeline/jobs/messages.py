"""Message approval from the Dagster UI: the same change as ``jengu messages approve``, with run config.

No ``from __future__ import annotations`` here: Dagster reads the op's config and resource types at runtime.
"""

import dagster as dg
from pydantic import Field

from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store.messages import approve


class MessageApprovalConfig(dg.Config):
    """Approve the listed messages, or every message of the campaign that awaits approval."""

    campaign: str = Field(default="", description="campaign id: approve all its messages awaiting approval")
    message_ids: list[str] = Field(default_factory=list, description="or exactly these message ids")
    approved_by: str = Field(description="who approves (kept on each message and in its activity)")


@dg.op(
    description="Queue messages that wait for a person's approval; each approval is an activity.",
    tags={"jengu/lane": "compose"},
)
def approve_messages(
    context: dg.OpExecutionContext, config: MessageApprovalConfig, store: CrmStoreResource
) -> dg.Output[None]:
    if bool(config.campaign) == bool(config.message_ids):
        raise dg.Failure("give either campaign or message_ids in the run config")
    actor = f"{config.approved_by} (dagster run {context.run_id})"
    approved = approve(store.open(), actor=actor, campaign_id=config.campaign or None, message_ids=config.message_ids)
    context.log.info(f"{len(approved)} messages approved by {config.approved_by}")
    return dg.Output(None, metadata={"approved": len(approved), "message_ids": dg.MetadataValue.json(approved)})


@dg.job(
    description="Approve messages of campaigns with requires_approval: run config {campaign | message_ids, "
    "approved_by}.",
    tags={"jengu/lane": "compose"},
)
def message_approval_job() -> None:
    approve_messages()
