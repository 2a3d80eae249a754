"""Send stage: one tick of the sender per run, on the sending schedule or by hand (`jengu send --once`).

Thin on purpose: the rules are in ``domain.sending``, the ledger and its guarantees in ``store.sending``, the
tick in ``resources.sending``. The table this asset owns is the send ledger, ``sends``.
"""

from datetime import datetime

import dagster as dg
from pydantic import Field

from jengu_pipeline.assets.ingest import OWNERS
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.sending import SendingConfigError, SendingResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import sending as ledger


class SendTickConfig(dg.Config):
    """Run config of one tick; ``at`` exists for the SANDBOX demo and tests only."""

    at: str = Field(default="", description="SANDBOX only: run the tick as if the clock read this ISO 8601 time")


@dg.asset(
    deps=["messages"],
    group_name="send",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="smtp",
    description=(
        "The send ledger: one row per (prospect, campaign, step), claimed before SMTP and settled after. Each "
        "materialisation is one sending tick: caps from the ledger, business hours per prospect, inbox rotation."
    ),
)
def sends(
    context: dg.AssetExecutionContext,
    config: SendTickConfig,
    store: CrmStoreResource,
    sending: SendingResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    at = datetime.fromisoformat(config.at) if config.at else None
    if at is not None and not sending.sandbox:
        raise dg.Failure("`at` (a simulated clock) is only allowed in the SANDBOX (JENGU_SANDBOX=1)")
    crm = store.open()
    try:
        sender = sending.sender(crm, alert=alerts.send, claimed_by=f"dagster run {context.run.run_id}", at=at)
    except SendingConfigError as error:
        raise dg.Failure(str(error)) from error
    report = sender.tick()
    if report.stopped:
        context.log.warning("sending is stopped (emergency stop): nothing was sent; `jengu sending resume` to go on")
    context.log.info(
        f"tick at {report.at.isoformat()}: {dict(report.outcomes)} sent/failed, "
        f"{sum(report.skipped.values())} left for later"
    )
    status = ledger.sending_status(crm)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(status["ledger"].values()),
            "sent": report.sent,
            "planned": report.planned,
            "outcomes": dg.MetadataValue.json(dict(report.outcomes)),
            "skipped": dg.MetadataValue.json(dict(report.skipped)),
            "paused_inboxes": dg.MetadataValue.json(report.paused_inboxes),
            "paused_campaigns": dg.MetadataValue.json(report.paused_campaigns),
            "sent_by_step": dg.MetadataValue.json(report.to_json()["sent_by_step"]),
            "reconciled": dg.MetadataValue.json(report.reconciled),
            "emergency_stop": report.stopped,
            "ledger_by_status": dg.MetadataValue.json(status["ledger"]),
            "inboxes": dg.MetadataValue.json(status["inboxes"]),
        }
    )


@dg.asset_check(
    asset=sends,
    blocking=False,
    description="No message went to an address after it was suppressed (bounce, unsubscribe, ...).",
)
def sends_never_after_suppression(store: CrmStoreResource) -> dg.AssetCheckResult:
    count = store.open().query(
        "SELECT count(*) AS n FROM sends s JOIN suppressions x ON x.email = s.recipient"
        " WHERE s.status IN ('sent', 'unknown') AND s.claimed_at > x.created_at"
    )["n"][0]
    return dg.AssetCheckResult(passed=count == 0, metadata={"sends_after_suppression": int(count)})


@dg.asset_check(
    asset=sends, blocking=False, description="No inbox went over its configured daily cap on any day, by the ledger."
)
def sends_within_daily_caps(store: CrmStoreResource) -> dg.AssetCheckResult:
    over = store.open().query(
        "SELECT s.inbox, CAST(s.claimed_at AS DATE) AS day, count(*) AS n, max(i.daily_cap) AS cap"
        " FROM sends s JOIN inboxes i ON i.inbox = s.inbox WHERE s.status IN ('claimed', 'sent', 'unknown', 'bounced')"
        " GROUP BY s.inbox, CAST(s.claimed_at AS DATE) HAVING count(*) > max(i.daily_cap)"
    )
    return dg.AssetCheckResult(passed=over.is_empty(), metadata={"inbox_days_over_cap": over.height})
