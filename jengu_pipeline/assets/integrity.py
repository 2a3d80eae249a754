"""Integrity stage: a daily run that repairs what is safe and reports what needs a person, and every rule as an
asset check on the asset it concerns.

Thin on purpose: the rules are in ``domain.integrity``, their SQL in ``store.integrity``. The table this asset
owns is ``integrity_findings`` (one row per rule per run). The checks read only; they depend on
``integrity_findings`` so that, inside ``integrity_job``, they report what is left after the repair.
"""

from collections.abc import Collection
from datetime import timedelta

import dagster as dg
from pydantic import Field

from jengu_pipeline import clock
from jengu_pipeline.assets.ingest import OWNERS
from jengu_pipeline.domain.integrity import RULES, IntegrityPolicy, Rule, needs_a_person, summary_line
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sensors.sending import sending_schedule
from jengu_pipeline.store import integrity as integrity_store

FINDINGS_ASSET = "integrity_findings"
PIPELINE_ASSETS = frozenset({"prospects", "sends", "messages", "email_verifications", "replies", FINDINGS_ASSET})
"""The rules' tables that are assets of the code location (a test compares this with the Definitions)."""
CHECK_NAMES = {
    "orphan_rows": "prospects_no_orphan_rows",
    "duplicate_active_email": "prospects_no_duplicate_active_email",
    "duplicate_active_linkedin_url": "prospects_no_duplicate_active_linkedin_url",
    "stale_claims": "sends_no_stale_claims",
    "unknown_sends": "sends_unknown_reconciled",
    "messages_to_suppressed_or_archived": "messages_none_to_suppressed_or_archived",
    "messages_in_inactive_campaigns": "messages_none_in_inactive_campaigns",
    "provider_quota_behind_ledger": "provider_quota_matches_ledger",
    "prospect_stage_behind_ledger": "prospects_stage_matches_ledger",
    "hard_bounce_not_suppressed": "sends_hard_bounces_suppressed",
    "expired_leases": "enrichment_leases_none_expired",
    "stale_new_prospects": "prospects_no_stale_new",
    "unclassified_replies": "replies_classified_in_time",
}
"""One stable check name per rule (an operator's habit and the snapshot test rely on them)."""
SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


class IntegrityConfig(dg.Config):
    """Run config of the integrity run; the defaults are the daily schedule's."""

    dry_run: bool = Field(default=False, description="Report what a repair would do, change nothing.")
    stale_after_days: int = Field(
        default=90, ge=1, description="Days without activity before a `new` prospect is archived."
    )


@dg.asset(
    name=FINDINGS_ASSET,
    group_name="integrity",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="crm_writer",
    description=(
        "What each integrity run found and repaired, one row per rule (clean rules included). The run repairs "
        "what is safe (expired leases, stale claims, messages to suppressed or archived prospects, counters and "
        "stages behind the ledger, stale new prospects) and lists what needs a person (unknown sends, duplicates, "
        "orphans, paused campaigns' messages, unclassified replies)."
    ),
)
def integrity_findings(
    context: dg.AssetExecutionContext, config: IntegrityConfig, store: CrmStoreResource
) -> dg.MaterializeResult:
    crm = store.open()
    at = clock.now()
    actor = f"dagster run {context.run.run_id}"
    policy = IntegrityPolicy(stale_after=timedelta(days=config.stale_after_days))
    findings = integrity_store.repair(crm, dry_run=config.dry_run, now=at, actor=actor, policy=policy)
    integrity_store.record_findings(
        crm, findings, mode="dry_run" if config.dry_run else "repair", actor=actor, at=at, run_id=context.run.run_id
    )
    context.log.info(summary_line(findings))
    people = needs_a_person(findings)
    if people:
        context.log.warning("needs a person: " + ", ".join(f"{f.rule} ({f.count})" for f in people))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(findings),
            "dagster/table_name": FINDINGS_ASSET,
            "dry_run": config.dry_run,
            "found": dg.MetadataValue.json({f.rule: f.count for f in findings}),
            "repaired": dg.MetadataValue.json({f.rule: f.repaired for f in findings if f.repaired}),
            "needs_a_person": dg.MetadataValue.json({f.rule: list(f.examples) for f in people}),
            "summary": summary_line(findings),
        }
    )


def _rule_check(rule: Rule, asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=CHECK_NAMES[rule.name],
        description=rule.description,
        blocking=False,
        additional_deps=[] if asset == FINDINGS_ASSET else [FINDINGS_ASSET],
    )
    def rule_check(store: CrmStoreResource) -> dg.AssetCheckResult:
        (found,) = integrity_store.check(store.open(), clock.now(), rules=[rule.name])
        return dg.AssetCheckResult(
            passed=found.count == 0,
            severity=SEVERITY[rule.severity],
            metadata={
                "rule": rule.name,
                "count": found.count,
                "repairable": rule.repairable,
                "examples": dg.MetadataValue.json(list(found.examples)),
            },
        )

    return rule_check


def integrity_checks(defined_assets: Collection[str]) -> list[dg.AssetChecksDefinition]:
    """One check per rule, on the asset the rule concerns when the Definitions have it (else on
    ``integrity_findings``, so that a check never conjures an asset the code location does not define)."""
    return [_rule_check(rule, rule.table if rule.table in defined_assets else FINDINGS_ASSET) for rule in RULES]


integrity_asset_checks = integrity_checks(PIPELINE_ASSETS)
integrity_check_selection = dg.AssetSelection.checks(*integrity_asset_checks)
"""For jobs of the pipeline's stages to leave out: the integrity checks run daily, not with every batch."""

integrity_job = dg.define_asset_job(
    name="integrity_job",
    selection=dg.AssetSelection.assets(FINDINGS_ASSET).without_checks() | integrity_check_selection,
    description="Repair what is safe in the CRM store, then run every integrity check; lists what needs a person.",
    tags={"jengu/lane": "integrity"},
)

integrity_schedule = dg.ScheduleDefinition(
    name="integrity_schedule",
    job=integrity_job,
    cron_schedule="30 3 * * *",
    execution_timezone=sending_schedule.execution_timezone or "UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "The daily integrity run at 03:30 in the sending schedule's zone, before the sending day. On by default: "
        "every repair is safe and leaves an activity per prospect touched; what needs a person is only reported."
    ),
)
