"""Enrich stage: each prospect's hotel website, found through the search waterfall.

One search per hotel (company and city), not per person; answers are cached in the store, so re-running a
batch or importing colleagues later never pays for the same question twice. When every tier is out of
quota or down, what was found is committed, the rest stays pending with the reason, the run succeeds with a
warning in its metadata, and an alert goes out; re-materialising the batch later resumes where it stopped.
"""

from collections import Counter

import dagster as dg
import polars as pl

from jengu_pipeline.assets.ingest import OWNERS, markdown_preview
from jengu_pipeline.domain.websites import choose_website, search_query
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import enrich as enrich_store

WEBSITES_NOT_AGGREGATORS = "websites_domains_resolvable"


@dg.asset(
    partitions_def=prospect_batches,
    deps=["prospects"],
    group_name="enrich",
    kinds={"duckdb", "polars"},
    owners=OWNERS,
    pool="search",
    description="Each prospect's hotel website: from the import when it had one, else the best search result.",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL,
                                jitter=dg.Jitter.PLUS_MINUS),
)
def websites(context: dg.AssetExecutionContext, store: CrmStoreResource, search: SearchResource,
             alerts: AlertsResource) -> dg.MaterializeResult:
    batch_id = context.partition_key
    crm = store.open()
    todo = enrich_store.prospects_without_website(crm, batch_id)
    from_import = todo.filter(pl.col("website").is_not_null())
    to_search = todo.filter(pl.col("website").is_null() & pl.col("company").is_not_null())
    queries = {row["prospect_id"]: search_query(row["company"], row["city"]) for row in to_search.iter_rows(named=True)}
    answers, pending = search.search_many(sorted(set(queries.values())), batch_id=batch_id) if queries else ({}, [])

    found = []
    for row in to_search.iter_rows(named=True):
        hits = answers.get(queries[row["prospect_id"]])
        choice = choose_website(row["company"], row["city"], hits) if hits is not None else None
        if choice is not None:
            found.append({"prospect_id": row["prospect_id"], "url": choice.url, "domain": choice.domain,
                          "source": choice.source, "confidence": choice.confidence})
    imported = [{"prospect_id": r["prospect_id"], "url": f"https://{r['website']}/", "domain": r["website"],
                 "source": "import", "confidence": 1.0} for r in from_import.iter_rows(named=True)]
    rows = pl.DataFrame(imported + found, schema=enrich_store.WEBSITE_SCHEMA)
    written = enrich_store.record_websites(crm, batch_id, rows)

    pending_reasons = Counter(p.reason for p in pending)
    pending_queries = {p.item for p in pending}
    still_pending = sum(1 for q in queries.values() if q in pending_queries)
    if pending:
        message = (f"websites for batch {batch_id}: {still_pending} prospects left pending "
                   f"({'; '.join(pending_reasons)}); re-run the partition to resume")
        context.log.warning(message)
        alerts.send(message)
    return dg.MaterializeResult(metadata={
        "dagster/partition_row_count": written.height,
        "dagster/table_name": "websites",
        "candidates": todo.height,
        "from_import": len(imported),
        "found_by_search": len(found),
        "not_found": to_search.height - len(found) - still_pending,
        "pending": still_pending,
        "warning": dg.MetadataValue.text(
            f"{still_pending} prospects pending: {dict(pending_reasons)}" if pending else "none"),
        "search_tiers": dg.MetadataValue.json(search.tiers),
        "queries": len(set(queries.values())),
        "preview": markdown_preview(written.drop("prospect_id")),
    })


@dg.asset_check(asset=websites, name=WEBSITES_NOT_AGGREGATORS,
                description="Every recorded website has a registrable domain that is not an aggregator's.")
def websites_domains_resolvable(store: CrmStoreResource) -> dg.AssetCheckResult:
    bad = enrich_store.websites_with_unusable_domains(store.open())
    return dg.AssetCheckResult(passed=bad == 0, metadata={"unusable_domains": bad})
