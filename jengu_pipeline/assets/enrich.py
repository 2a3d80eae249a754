"""Enrich stage: each prospect's hotel website, checked on its homepage, found through the search waterfall.

A website given in the import is checked first (its homepage answers, is not parked, names the hotel); the
rest go down the search tiers one tier at a time for the whole batch: each tier's best candidates have
their homepages fetched and judged, and only the hotels still without a confident site are asked of the
next tier. One search per hotel (company and city), not per person; search answers and pages are cached
in the store, so re-running a batch or importing colleagues later never pays for the same question twice.
When a tier that could still answer was out of quota or down, what was found is committed, the rest stays
pending with the reason, the run succeeds with a warning in its metadata, and an alert goes out;
re-materialising the batch later resumes where it stopped.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import polars as pl

from jengu_pipeline.assets.ingest import OWNERS, markdown_preview
from jengu_pipeline.domain.websites import (
    PageCheck,
    WebsiteChoice,
    check_imported_website,
    homepage_url,
    judge_candidates,
    search_query,
    shortlist,
)
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.pages import FetchedPage, PageResource
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import enrich as enrich_store
from jengu_pipeline.store.repository import CrmStore

WEBSITES_NOT_AGGREGATORS = "websites_domains_resolvable"


@dataclass
class HotelSearch:
    """One hotel's way down the waterfall, shared by every prospect who works there."""

    company: str
    city: str | None
    query: str
    tried: list[dict[str, Any]] = field(default_factory=list)
    choice: WebsiteChoice | None = None
    best_weak: WebsiteChoice | None = None
    unavailable: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    """What the waterfall did for one batch: per-hotel outcomes and per-tier counts."""

    hotels: dict[str, HotelSearch]
    pages: dict[str, FetchedPage] = field(default_factory=dict)
    tier_asked: Counter[str] = field(default_factory=Counter)
    tier_found: Counter[str] = field(default_factory=Counter)

    def checks(self) -> dict[str, PageCheck]:
        return {url: page.check for url, page in self.pages.items()}


def _fetch(pages: PageResource, discovery: Discovery, urls: set[str], batch_id: str) -> None:
    todo = sorted(urls - discovery.pages.keys())
    if todo:
        discovery.pages.update(pages.fetch_many(todo, batch_id=batch_id))


def discover(
    context: dg.AssetExecutionContext,
    search: SearchResource,
    pages: PageResource,
    hotels: dict[str, HotelSearch],
    batch_id: str,
) -> Discovery:
    """Walks the tiers for the whole batch, stopping per hotel at the first confident site."""
    discovery = Discovery(hotels)
    if not search.tiers:
        for hotel in hotels.values():
            hotel.unavailable.append("no search tier configured")
    for tier in search.tiers:
        open_queries = sorted(q for q, h in hotels.items() if h.choice is None)
        if not open_queries:
            break
        answers = search.ask_tier(tier, open_queries, batch_id=batch_id)
        discovery.tier_asked[tier] += len(open_queries)
        urls = {
            c.url
            for q in open_queries
            if (hits := answers[q].hits)
            for c in shortlist(hotels[q].company, hotels[q].city, hits)
        }
        _fetch(pages, discovery, urls, batch_id)
        checks = discovery.checks()
        for query in open_queries:
            hotel, answer = hotels[query], answers[query]
            if answer.hits is None:
                hotel.tried.append({"tier": tier, "outcome": answer.outcome})
                if answer.retry_later:
                    hotel.unavailable.append(str(answer.error))
                continue
            judged = judge_candidates(hotel.company, hotel.city, answer.hits, checks)
            best = judged.best
            outcome = "found" if judged.confident else ("not_confident" if answer.hits else "no_hits")
            hotel.tried.append(
                {
                    "tier": tier,
                    "outcome": outcome,
                    "hits": len(answer.hits),
                    "best": best.domain if best else None,
                    "best_confidence": best.confidence if best else None,
                    "rejected": judged.rejected,
                }
            )
            if judged.confident:
                hotel.choice = best
                discovery.tier_found[tier] += 1
            elif best is not None and (hotel.best_weak is None or best.confidence > hotel.best_weak.confidence):
                hotel.best_weak = best
        context.log.info(
            f"websites {batch_id}: tier {tier} asked for {len(open_queries)} hotels, "
            f"confident for {discovery.tier_found[tier]}"
        )
    return discovery


def _evidence(choice: WebsiteChoice, **extra: Any) -> str:
    return json.dumps({**choice.evidence, **extra}, sort_keys=True, default=str)


def _homepage_rows(choices: list[WebsiteChoice]) -> pl.DataFrame:
    rows = [
        {
            "domain": c.domain,
            "url": c.url,
            "title": c.homepage.title,
            "site_name": c.homepage.site_name,
            "description": c.homepage.description,
            "excerpt": c.homepage.excerpt(),
            "language": c.homepage.language,
        }
        for c in choices
        if c.homepage is not None
    ]
    return pl.DataFrame(rows, schema=enrich_store.PAGE_SCHEMA)


def _calls_this_run(crm: CrmStore, batch_id: str, before: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    after = enrich_store.provider_call_counts(crm, batch_id)
    calls: dict[str, dict[str, int]] = {}
    for (provider, outcome), n in sorted((after - before).items()):
        calls.setdefault(provider, {})[outcome] = n
    return calls


PROVIDER_STEP_RETRY = dg.RetryPolicy(
    max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Steps that talk to providers retry a crashed attempt; provider outages themselves leave work pending."""


@dg.asset(
    partitions_def=prospect_batches,
    deps=["prospects"],
    group_name="enrich",
    kinds={"duckdb", "polars"},
    owners=OWNERS,
    pool="search",
    description="Each prospect's hotel website: the import's when its homepage checks out, else the first "
    "confident search result down the tiers, judged on its homepage; the rest recorded as not found.",
    retry_policy=PROVIDER_STEP_RETRY,
)
def websites(
    context: dg.AssetExecutionContext,
    store: CrmStoreResource,
    search: SearchResource,
    pages: PageResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    batch_id = context.partition_key
    crm = store.open()
    calls_before = enrich_store.provider_call_counts(crm, batch_id)
    todo = enrich_store.prospects_without_website(crm, batch_id)
    rows = list(todo.iter_rows(named=True))

    # 1. Websites from the import: kept when their homepage checks out.
    imported = [r for r in rows if r["website"]]
    fetched = pages.fetch_many([homepage_url(r["website"]) for r in imported], batch_id=batch_id)
    found: list[dict[str, Any]] = []
    chosen: list[WebsiteChoice] = []
    import_failures: dict[str, str] = {}
    for row in imported:
        page = fetched[homepage_url(row["website"])]
        choice, reason = check_imported_website(row["company"], row["city"], row["website"], page.check)
        if choice is None:
            import_failures[row["prospect_id"]] = reason
            continue
        chosen.append(choice)
        found.append(
            {
                "prospect_id": row["prospect_id"],
                "url": choice.url,
                "domain": choice.domain,
                "source": "import",
                "confidence": choice.confidence,
                "evidence": _evidence(choice, tiers_tried=[], import_check="ok"),
            }
        )
    from_import = len(found)

    # 2. The search waterfall for everyone else with a company name.
    to_search = [r for r in rows if r["company"] and (not r["website"] or r["prospect_id"] in import_failures)]
    queries = {r["prospect_id"]: search_query(r["company"], r["city"]) for r in to_search}
    hotels = {
        queries[r["prospect_id"]]: HotelSearch(r["company"], r["city"], queries[r["prospect_id"]]) for r in to_search
    }
    discovery = discover(context, search, pages, hotels, batch_id)

    missing: list[dict[str, Any]] = []
    pending_reasons: Counter[str] = Counter()
    still_pending = 0
    for row in to_search:
        hotel = hotels[queries[row["prospect_id"]]]
        import_check = import_failures.get(row["prospect_id"])
        if hotel.choice is not None:
            chosen.append(hotel.choice)
            found.append(
                {
                    "prospect_id": row["prospect_id"],
                    "url": hotel.choice.url,
                    "domain": hotel.choice.domain,
                    "source": hotel.choice.source,
                    "confidence": hotel.choice.confidence,
                    "evidence": _evidence(
                        hotel.choice, tiers_tried=hotel.tried, query=hotel.query, import_check=import_check
                    ),
                }
            )
        elif hotel.unavailable:
            still_pending += 1
            pending_reasons.update(set(hotel.unavailable))
        else:
            weak = hotel.best_weak
            missing.append(
                {
                    "prospect_id": row["prospect_id"],
                    "query": hotel.query,
                    "tiers_tried": json.dumps(hotel.tried, default=str),
                    "evidence": json.dumps(
                        {
                            "best": weak.domain if weak else None,
                            "best_confidence": weak.confidence if weak else None,
                            "import_check": import_check,
                            **(weak.evidence if weak else {}),
                        },
                        sort_keys=True,
                        default=str,
                    ),
                }
            )
    # No company name: nothing to search for; recorded so that the prospect is visibly without a site.
    unsearchable = [r for r in rows if not r["company"] and (not r["website"] or r["prospect_id"] in import_failures)]
    missing += [
        {
            "prospect_id": r["prospect_id"],
            "query": None,
            "tiers_tried": "[]",
            "evidence": json.dumps({"import_check": import_failures.get(r["prospect_id"]), "reason": "no company"}),
        }
        for r in unsearchable
    ]

    written = enrich_store.record_websites(crm, batch_id, pl.DataFrame(found, schema=enrich_store.WEBSITE_SCHEMA))
    enrich_store.record_not_found(crm, batch_id, pl.DataFrame(missing, schema=enrich_store.NOT_FOUND_SCHEMA))
    enrich_store.record_homepages(crm, _homepage_rows(chosen))

    if still_pending:
        message = (
            f"websites for batch {batch_id}: {still_pending} prospects left pending "
            f"({'; '.join(pending_reasons)}); re-run the partition to resume"
        )
        context.log.warning(message)
        alerts.send(message)
    tiers = {
        tier: {
            "asked": discovery.tier_asked[tier],
            "found": discovery.tier_found[tier],
            "rate": round(discovery.tier_found[tier] / discovery.tier_asked[tier], 3),
        }
        for tier in search.tiers
        if discovery.tier_asked[tier]
    }
    return dg.MaterializeResult(
        metadata={
            "dagster/partition_row_count": written.height,
            "dagster/table_name": "websites",
            "candidates": todo.height,
            "from_import": from_import,
            "import_rejected": len(import_failures),
            "found_by_search": len(found) - from_import,
            "not_found": len(missing),
            "not_found_in_batch": enrich_store.batch_not_found(crm, batch_id),
            "pending": still_pending,
            "warning": dg.MetadataValue.text(
                f"{still_pending} prospects pending: {dict(pending_reasons)}" if still_pending else "none"
            ),
            "search_tiers": dg.MetadataValue.json(search.tiers),
            "found_rate_by_tier": dg.MetadataValue.json(tiers),
            "queries": len(hotels),
            "homepages_checked": len(discovery.pages) + len(fetched),
            "provider_calls": dg.MetadataValue.json(_calls_this_run(crm, batch_id, calls_before)),
            "preview": markdown_preview(written.drop("prospect_id", "evidence")),
        }
    )


@dg.asset_check(
    asset=websites,
    name=WEBSITES_NOT_AGGREGATORS,
    description="Every recorded website has a registrable domain that is not an aggregator's.",
)
def websites_domains_resolvable(store: CrmStoreResource) -> dg.AssetCheckResult:
    bad = enrich_store.websites_with_unusable_domains(store.open())
    return dg.AssetCheckResult(passed=bad == 0, metadata={"unusable_domains": bad})
