"""Compose stage: the first message of every active campaign for the batch's members, checked before queueing.

Thin on purpose: membership comes from the campaigns' audience rules (``store.campaigns``), the writing chain
from ``resources.message_writer`` (LLM, second LLM, template), the rules a message must pass from
``domain.message_gate``; this module wires them and tells the operator what happened.
"""

import dataclasses
from typing import Any

import dagster as dg
import polars as pl

from jengu_pipeline import clock
from jengu_pipeline.assets.enrich import PROVIDER_STEP_RETRY
from jengu_pipeline.assets.ingest import OWNERS, markdown_preview
from jengu_pipeline.domain.messages import MessageRequest, WrittenMessage
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.resources.llm import LlmResource
from jengu_pipeline.resources.message_writer import write_messages
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import messages as message_store

PROGRESS_EVERY = 100
PREVIEW_MESSAGES = 3
PREVIEW_BODY_CHARS = 400


def _requests(crm: Any, batch_id: str, actor: str, log: Any) -> tuple[list[MessageRequest], dict[str, int]]:
    campaigns = message_store.active_campaigns(crm, clock.now().date())
    if not campaigns:
        log.info("no active campaign: nothing to compose (set a campaign's status to active and load it)")
    added = message_store.assign_members(crm, campaigns, actor=actor)
    requests = []
    for campaign in campaigns:
        step = campaign.steps[0]
        for recipient in message_store.recipients(crm, campaign.name, batch_id):
            facts = recipient.facts(campaign, message_store.FIRST_STEP)
            angle = step.variant_description(recipient.variant)
            if angle:
                facts = dataclasses.replace(facts, variant_description=angle)
            arm = step.for_variant(recipient.variant)
            requests.append(MessageRequest(facts, campaign, arm, recipient.gate_context(campaign, facts)))
    return requests, added


def _previews(written: list[WrittenMessage]) -> dg.MetadataValue:
    """A few finished messages as the recipient would read them (no addresses)."""
    shown = [w for w in written if w.gate.passed][:PREVIEW_MESSAGES]
    blocks = [
        f"**{w.draft.subject}** ({w.writer}, {w.request.campaign.name})\n\n```\n"
        f"{w.draft.body[:PREVIEW_BODY_CHARS]}\n```"
        for w in shown
    ]
    return dg.MetadataValue.md("\n\n".join(blocks) or "no message passed the gate")


def _metadata(
    written: list[WrittenMessage], counts: dict[str, int], added: dict[str, int], summary: dict[str, Any]
) -> dict[str, Any]:
    rejected = pl.DataFrame(
        [
            {
                "campaign": w.request.campaign.name,
                "writer": w.writer,
                "failed_rules": ", ".join(f.rule for f in w.gate.failures),
            }
            for w in written
            if not w.gate.passed
        ],
        schema={"campaign": pl.String, "writer": pl.String, "failed_rules": pl.String},
    )
    return {
        "dagster/partition_row_count": len(written),
        "queued": counts.get("queued", 0),
        "awaiting_approval": counts.get("awaiting_approval", 0),
        "rejected": counts.get("rejected", 0),
        "new_campaign_members": dg.MetadataValue.json(added),
        "written_by": dg.MetadataValue.json(summary["writers"]),
        "fallbacks": dg.MetadataValue.json(summary["fallbacks"]),
        "gate_failures_by_rule": dg.MetadataValue.json(summary["gate_failures"]),
        "batch_status": dg.MetadataValue.json(summary["status"]),
        "previews": _previews(written),
        "rejected_preview": markdown_preview(rejected),
    }


@dg.asset(
    partitions_def=prospect_batches,
    deps=["email_verifications"],
    group_name="compose",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="llm",
    description=(
        "The first step of every active campaign for the batch's members with a usable address: written by the "
        "primary LLM, the secondary LLM or the step's template, checked by the gate, then queued, held for "
        "approval, or rejected with the reasons."
    ),
    retry_policy=PROVIDER_STEP_RETRY,
)
def messages(context: dg.AssetExecutionContext, store: CrmStoreResource, llm: LlmResource) -> dg.MaterializeResult:
    batch_id = context.partition_key
    crm = store.open()
    requests, added = _requests(crm, batch_id, f"dagster run {context.run.run_id}", context.log)

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            context.log.info(f"messages for {batch_id}: {done}/{total} written")

    written = llm.run_with_models(lambda models: write_messages(models, requests, batch_id=batch_id, progress=progress))
    counts = message_store.replace_batch_messages(crm, batch_id, written)
    if counts.get("rejected"):
        context.log.warning(f"{counts['rejected']} messages failed the gate in every tier and were not queued")
    return dg.MaterializeResult(metadata=_metadata(written, counts, added, message_store.batch_summary(crm, batch_id)))


@dg.asset_check(
    asset=messages,
    blocking=True,
    description="Every unsent message that is queued or awaiting approval still passes the gate.",
)
def messages_cleared_pass_gate(store: CrmStoreResource) -> dg.AssetCheckResult:
    violations = message_store.gate_violations(store.open())
    return dg.AssetCheckResult(
        passed=not violations,
        metadata={
            "violations": len(violations),
            "examples": dg.MetadataValue.json(dict(list(violations.items())[:10])),
        },
    )
