"""A campaign's lifecycle from the Dagster UI: the same changes as ``jengu campaign pause|resume|complete``.

No ``from __future__ import annotations`` here: Dagster reads the op's config and resource types at runtime.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from jengu_pipeline import clock
from jengu_pipeline.domain.campaign_lifecycle import LifecycleError
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store.campaign_lifecycle import change_status
from jengu_pipeline.store.engine import StoreError


class CampaignLifecycleConfig(dg.Config):
    """Which campaign, what to do, who and why (kept in the campaign's activity)."""

    campaign: str = Field(description="campaign id (the file name in campaigns/ without .yaml)")
    action: Literal["pause", "resume", "complete"]
    actor: str = Field(description="who (kept in the activity)")
    reason: str = Field(default="", description="why")


@dg.op(
    description="Pause, resume or complete a campaign; completing it stops every running sequence in it.",
    tags={"jengu/lane": "campaigns"},
)
def change_campaign_status(
    context: dg.OpExecutionContext, config: CampaignLifecycleConfig, store: CrmStoreResource
) -> dg.Output[None]:
    actor = f"{config.actor} (dagster run {context.run_id})"
    try:
        change = change_status(
            store.open(),
            config.campaign,
            config.action,
            actor=actor,
            reason=config.reason or "by an operator",
            now=clock.now(),
        )
    except (LifecycleError, StoreError) as error:
        raise dg.Failure(f"campaign {config.campaign}: {error}") from error
    context.log.info(f"campaign {config.campaign}: {change.before} -> {change.after}, {change.stopped} stopped")
    return dg.Output(
        None,
        metadata={"campaign": config.campaign, "from": change.before, "to": change.after, "stopped": change.stopped},
    )


@dg.job(
    description="Pause, resume or complete a campaign: run config {campaign, action, actor, reason}.",
    tags={"jengu/lane": "campaigns"},
)
def campaign_lifecycle_job() -> None:
    change_campaign_status()
