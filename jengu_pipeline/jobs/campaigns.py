"""Campaign membership from the Dagster UI: the same changes as ``jengu campaign assign/remove``, with run config.

No ``from __future__ import annotations`` here: Dagster reads the op's config and resource types at runtime.
"""

import dagster as dg
from pydantic import Field

from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store.campaigns import assign_by_rules, assign_manually, remove_manually

JOB_ACTOR = "dagster"
"""The actor recorded on activities (with the run id) of changes made by this job."""


class CampaignMembershipConfig(dg.Config):
    """Which campaign to change and how; removals run after additions, so an id in both ends up removed."""

    campaign: str = Field(description="campaign id (the file name in campaigns/ without .yaml)")
    add: list[str] = Field(default_factory=list, description="prospect ids to assign by hand")
    remove: list[str] = Field(default_factory=list, description="prospect ids to remove for good")
    by_rules: bool = Field(default=False, description="also add every eligible prospect the audience rules match")


@dg.op(
    description="Assign and remove campaign members; every change is an activity on the prospect.",
    tags={"jengu/lane": "campaigns"},
)
def change_campaign_membership(
    context: dg.OpExecutionContext, config: CampaignMembershipConfig, store: CrmStoreResource
) -> dg.Output[None]:
    crm = store.open()
    actor = f"{JOB_ACTOR} run {context.run_id}"
    added: dict[str, str | None] = {}
    if config.by_rules:
        added |= assign_by_rules(crm, config.campaign, actor=actor).added
    if config.add:
        added |= assign_manually(crm, config.campaign, config.add, actor=actor).added
    removed = remove_manually(crm, config.campaign, config.remove, actor=actor).removed if config.remove else []
    context.log.info(f"campaign {config.campaign}: {len(added)} added, {len(removed)} removed")
    return dg.Output(
        None,
        metadata={
            "campaign": config.campaign,
            "added": len(added),
            "removed": len(removed),
            "added_ids": dg.MetadataValue.json(added),
            "removed_ids": dg.MetadataValue.json(removed),
        },
    )


@dg.job(
    description="Change who is in a campaign: run config {campaign, add: [...], remove: [...], by_rules}.",
    tags={"jengu/lane": "campaigns"},
)
def campaign_membership_job() -> None:
    change_campaign_membership()
