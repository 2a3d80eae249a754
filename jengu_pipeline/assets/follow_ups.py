"""Follow-ups: step 2 and later of every running sequence, written when they fall due, checked before queueing.

Thin on purpose: who is due which step and the thread it continues come from ``store.sequences``, the writing
chain from ``resources.message_writer`` (LLM with the earlier messages as quoted data, second LLM, template),
the gate from ``domain.message_gate``. The send ledger's claim decides, at send time, whether a written
follow-up still goes (a reply, a pause, the campaign's status); this asset only writes what is due.
"""

from datetime import datetime, timedelta
from typing import Any

import dagster as dg

from jengu_pipeline import clock
from jengu_pipeline.assets.enrich import PROVIDER_STEP_RETRY
from jengu_pipeline.assets.ingest import OWNERS
from jengu_pipeline.domain.messages import MessageRequest, WrittenMessage
from jengu_pipeline.resources.llm import LlmResource
from jengu_pipeline.resources.message_writer import write_messages
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import messages as message_store
from jengu_pipeline.store.campaign_lifecycle import complete_ended_campaigns
from jengu_pipeline.store.sequences import due_follow_ups

LOOKAHEAD = timedelta(days=1)
"""Follow-ups due within this long are written now (queued with their due time), so one run a day suffices."""


@dg.asset(
    deps=["sends", "replies"],
    group_name="compose",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="llm",
    description=(
        "Step 2 and later of every running sequence, written once its previous step went out and it falls due "
        "(within a day): the same writing chain and gate as the first step, the earlier messages of the thread "
        "in the prompt as quoted data, the subject 'Re: <previous subject>' unless the step gives one, the "
        "prospect's A/B arm kept. Campaigns past their end date are completed first."
    ),
    retry_policy=PROVIDER_STEP_RETRY,
)
def follow_up_messages(
    context: dg.AssetExecutionContext, store: CrmStoreResource, llm: LlmResource
) -> dg.MaterializeResult:
    crm = store.open()
    now = clock.now()
    ended = complete_ended_campaigns(crm, now.date(), now)
    for change in ended:
        context.log.info(f"campaign {change.campaign_id} completed (end date): {change.stopped} sequences stopped")
    requests: list[MessageRequest] = []
    due_times: list[datetime] = []
    by_step: dict[str, int] = {}
    for campaign in message_store.active_campaigns(crm, now.date()):
        for follow_up in due_follow_ups(crm, campaign, until=now + LOOKAHEAD):
            requests.append(follow_up.request(campaign))
            due_times.append(follow_up.due_at)
            by_step[str(follow_up.step)] = by_step.get(str(follow_up.step), 0) + 1
    written = llm.run_with_models(lambda models: write_messages(models, requests)) if requests else []
    counts = message_store.add_follow_ups(crm, list(zip(written, due_times, strict=True)))
    if counts.get("rejected"):
        context.log.warning(f"{counts['rejected']} follow-ups failed the gate in every tier and were not queued")
    metadata: dict[str, Any] = {
        "dagster/row_count": sum(counts.values()),
        "queued": counts.get("queued", 0),
        "awaiting_approval": counts.get("awaiting_approval", 0),
        "rejected": counts.get("rejected", 0),
        "by_step": dg.MetadataValue.json(by_step),
        "written_by": dg.MetadataValue.json(_writers(written)),
        "campaigns_completed": dg.MetadataValue.json([change.campaign_id for change in ended]),
        "at": now.isoformat(),
    }
    return dg.MaterializeResult(metadata=metadata)


def _writers(written: list[WrittenMessage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in written:
        name = message.template or message.writer
        counts[name] = counts.get(name, 0) + 1
    return counts
