"""Enrich stage: each prospect's verified work address, found at the provider's speed limit and paid once.

A run leases the batch's prospects in the store before it works on them, so two runs (a retry and a
backfill, or two operators) never verify the same person at once; what the other run holds is skipped and
counted. Every paid answer is cached as it arrives, so a run that dies half-way is resumed by
re-materialising the partition without paying for anything twice.
"""

from collections import Counter
from typing import Any

import dagster as dg
import polars as pl

from jengu_pipeline.assets.enrich import PROVIDER_STEP_RETRY
from jengu_pipeline.assets.ingest import OWNERS, markdown_preview
from jengu_pipeline.domain.emails import FinderReport, Person, email_domain
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.resources.verify import VerifierResource
from jengu_pipeline.store import emails as email_store

PROGRESS_EVERY = 250
EMAILS_UNIQUE_AND_VERIFIED = "email_verifications_chosen_addresses_verified"


def _domains(people: list[Person]) -> list[str]:
    found = {p.mail_domain for p in people} | {email_domain(p.imported_email) for p in people if p.imported_email}
    return sorted(d for d in found if d)


def _metadata(
    report: FinderReport,
    *,
    leased_elsewhere: int,
    waiting: int,
    written: dict[str, int],
    summary: dict[str, dict[str, int]],
) -> dict[str, Any]:
    outcomes = report.outcomes()
    paid = sum(a.cost_units for a in report.attempts)
    calls = Counter(a.provider for a in report.attempts if a.cost_units)
    facts = report.facts.values()
    preview = pl.DataFrame(
        [
            {"domain": email_domain(f.email) if f.email else None, "outcome": f.outcome, "reason": f.reason}
            for f in report.findings
        ],
        schema={"domain": pl.String, "outcome": pl.String, "reason": pl.String},
    )
    worked = len(report.findings)
    return {
        "dagster/row_count": len(report.attempts),
        "prospects_worked": worked,
        "found": outcomes["found"],
        "risky": outcomes["risky"],
        "unreachable": outcomes["unreachable"],
        "pending": outcomes["pending"],
        "find_rate": round(outcomes["found"] / worked, 4) if worked else 0.0,
        "leased_by_another_run": leased_elsewhere,
        "waiting_for_website": waiting,
        "email_taken_by_another_prospect": written["email_taken"],
        "paid_calls": dg.MetadataValue.json(dict(calls)),
        "cost_units": paid,
        "paid_calls_per_found": round(paid / outcomes["found"], 3) if outcomes["found"] else None,
        "catch_all_domains": sum(1 for f in facts if f.catch_all),
        "domains_without_mx": sum(1 for f in facts if not f.has_mx),
        "patterns_learned": dg.MetadataValue.json(dict(report.learned)),
        "batch_results_so_far": dg.MetadataValue.json(summary["results"]),
        "batch_cost_units_so_far": dg.MetadataValue.json(summary["cost_units"]),
        "preview": markdown_preview(preview),
    }


@dg.asset(
    partitions_def=prospect_batches,
    deps=["websites"],
    group_name="enrich",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="email_verification",
    description=(
        "Every address considered for the batch's prospects (imported first, then guesses ordered by what the "
        "store knows about the domain) with provider, result and cost; each prospect's chosen address and stage."
    ),
    retry_policy=PROVIDER_STEP_RETRY,
)
def email_verifications(
    context: dg.AssetExecutionContext, store: CrmStoreResource, verifier: VerifierResource, alerts: AlertsResource
) -> dg.MaterializeResult:
    batch_id = context.partition_key
    crm = store.open()
    people, waiting = email_store.people_to_find(crm, batch_id)
    holder = context.run.run_id
    leased = email_store.acquire_leases(crm, [p.prospect_id for p in people], holder)
    mine = [p for p in people if p.prospect_id in leased]

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            context.log.info(f"email finding for {batch_id}: {done}/{total} prospects")

    try:
        facts, learned = email_store.domain_knowledge(crm, _domains(mine))
        report = verifier.find_emails(
            mine,
            learned=learned,
            global_counts=email_store.global_pattern_counts(crm),
            facts=facts,
            batch_id=batch_id,
            progress=progress,
        )
        written = email_store.record_findings(crm, batch_id, report)
    finally:
        email_store.release_leases(crm, holder)

    pending = [f.reason for f in report.findings if f.outcome == "pending"]
    if pending:
        reasons = Counter(pending).most_common(3)
        message = (
            f"email finding for batch {batch_id}: {len(pending)} prospects left pending "
            f"({'; '.join(r for r, _ in reasons)}); re-run the partition to resume"
        )
        context.log.warning(message)
        alerts.send(message)
    return dg.MaterializeResult(
        metadata=_metadata(
            report,
            leased_elsewhere=len(people) - len(mine),
            waiting=waiting,
            written=written,
            summary=email_store.batch_email_summary(crm, batch_id),
        )
    )


@dg.asset_check(
    asset=email_verifications,
    name=EMAILS_UNIQUE_AND_VERIFIED,
    blocking=True,
    description="Every chosen address was verified ok, or is risky at a known catch-all domain.",
)
def email_verifications_chosen_addresses_verified(store: CrmStoreResource) -> dg.AssetCheckResult:
    unbacked = email_store.chosen_without_evidence(store.open())
    return dg.AssetCheckResult(passed=unbacked == 0, metadata={"chosen_without_evidence": unbacked})
