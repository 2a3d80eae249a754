"""Writers and readers for the enrich stage (websites, hotels without one, homepages)."""

from __future__ import annotations

from collections import Counter

import polars as pl

from jengu_pipeline.domain.normalise import registrable_domain
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

WEBSITE_SCHEMA = {
    "prospect_id": pl.String,
    "url": pl.String,
    "domain": pl.String,
    "source": pl.String,
    "confidence": pl.Float64,
    "evidence": pl.String,
}
"""``evidence`` is a JSON document (as text): similarities, homepage facts, the tiers tried."""
NOT_FOUND_SCHEMA = {"prospect_id": pl.String, "query": pl.String, "tiers_tried": pl.String, "evidence": pl.String}
PAGE_SCHEMA = {
    "domain": pl.String,
    "url": pl.String,
    "title": pl.String,
    "site_name": pl.String,
    "description": pl.String,
    "excerpt": pl.String,
    "language": pl.String,
}


def prospects_without_website(store: CrmStore, batch_id: str) -> pl.DataFrame:
    """Active prospects first seen in this batch with no website recorded yet, with a city from their rows.

    Prospects recorded as not found come back too: a re-run asks only tiers whose answers are not cached
    (new tiers, or ones that were unavailable), so retrying them costs nothing that was already paid.
    """
    return store.run(
        lambda tx: tx.fetch_frame(
            "SELECT p.prospect_id, p.company, p.website,"
            " min(COALESCE(r.city, trim(split_part(r.location, ',', 1)))) AS city"
            " FROM prospects p"
            " JOIN prospect_sources s ON s.prospect_id = p.prospect_id"
            " JOIN raw_prospects r ON r.batch_id = s.batch_id AND r.line_number = s.line_number"
            " WHERE p.batch_id = ? AND NOT p.archived"
            " AND NOT EXISTS (SELECT 1 FROM websites w WHERE w.prospect_id = p.prospect_id)"
            " GROUP BY p.prospect_id, p.company, p.website ORDER BY p.prospect_id",
            [batch_id],
        )
    )


def record_websites(store: CrmStore, batch_id: str, found: pl.DataFrame) -> pl.DataFrame:
    """Append the websites found, set ``prospects.website`` to them, and clear any earlier not-found record.

    A searched site replaces an imported website (the search ran because the import's failed its check);
    an imported site that passed only fills an empty column. Returns what was written.
    """

    def write(tx: Tx) -> pl.DataFrame:
        if found.is_empty():
            return found
        tx.temp_table("found_websites", found)
        tx.execute(
            "INSERT INTO websites (prospect_id, url, domain, source, confidence, evidence)"
            " SELECT f.prospect_id, f.url, f.domain, f.source, f.confidence, CAST(f.evidence AS JSON)"
            " FROM found_websites f"
            " WHERE NOT EXISTS (SELECT 1 FROM websites w WHERE w.prospect_id = f.prospect_id AND w.url = f.url)"
        )
        tx.execute(
            "UPDATE prospects SET website = f.domain, version = version + 1, updated_at = now()"
            " FROM found_websites f WHERE prospects.prospect_id = f.prospect_id"
            " AND (prospects.website IS NULL OR (f.source <> 'import' AND prospects.website <> f.domain))"
        )
        tx.execute("DELETE FROM website_not_found WHERE prospect_id IN (SELECT prospect_id FROM found_websites)")
        tx.execute(
            "INSERT INTO activities (prospect_id, batch_id, type, title, metadata)"
            " SELECT prospect_id, ?, 'website_found', 'website ' || domain || ' (' || source || ')',"
            " CAST('{\"confidence\": ' || CAST(confidence AS VARCHAR) || ', \"source\": \"' || source || '\"}'"
            " AS JSON) FROM found_websites",
            [batch_id],
        )
        return found

    return store.run(write)


def record_not_found(store: CrmStore, batch_id: str, missing: pl.DataFrame) -> int:
    """Record prospects without a confident website, with the tiers tried; an activity the first time only."""

    def write(tx: Tx) -> int:
        if missing.is_empty():
            return 0
        tx.temp_table("missing_websites", missing)
        tx.execute(
            "INSERT INTO activities (prospect_id, batch_id, type, title, metadata)"
            " SELECT m.prospect_id, ?, 'website_not_found', 'no confident website', CAST(m.tiers_tried AS JSON)"
            " FROM missing_websites m"
            " WHERE NOT EXISTS (SELECT 1 FROM website_not_found n WHERE n.prospect_id = m.prospect_id)",
            [batch_id],
        )
        tx.execute(
            "INSERT INTO website_not_found (prospect_id, batch_id, query, tiers_tried, evidence)"
            " SELECT m.prospect_id, ?, m.query, CAST(m.tiers_tried AS JSON), CAST(m.evidence AS JSON)"
            " FROM missing_websites m"
            " ON CONFLICT (prospect_id) DO UPDATE SET batch_id = excluded.batch_id, query = excluded.query,"
            " tiers_tried = excluded.tiers_tried, evidence = excluded.evidence, updated_at = now()",
            [batch_id],
        )
        return missing.height

    return store.run(write)


def record_homepages(store: CrmStore, pages: pl.DataFrame) -> int:
    """Keep each chosen site's homepage words (title, description, excerpt), the latest reading per domain."""

    def write(tx: Tx) -> int:
        if pages.is_empty():
            return 0
        tx.temp_table("homepages", pages.unique("domain", keep="last"))
        tx.execute(
            "INSERT INTO website_pages (domain, url, title, site_name, description, excerpt, language)"
            " SELECT domain, url, title, site_name, description, excerpt, language FROM homepages"
            " ON CONFLICT (domain) DO UPDATE SET url = excluded.url, title = excluded.title,"
            " site_name = excluded.site_name, description = excluded.description, excerpt = excluded.excerpt,"
            " language = excluded.language, fetched_at = now()"
        )
        return pages.height

    return store.run(write)


def batch_not_found(store: CrmStore, batch_id: str) -> int:
    """Prospects of the batch currently recorded as having no confident website."""
    return int(
        store.run(
            lambda tx: tx.fetch_value(
                "SELECT count(*) FROM website_not_found n JOIN prospects p ON p.prospect_id = n.prospect_id"
                " WHERE p.batch_id = ?",
                [batch_id],
            )
        )
    )


def provider_call_counts(store: CrmStore, batch_id: str) -> Counter[tuple[str, str]]:
    """Ledger rows of the batch per (provider, outcome); two readings subtract to one run's calls."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT provider, outcome, count(*) FROM provider_calls WHERE batch_id = ? GROUP BY provider, outcome",
            [batch_id],
        )
    )
    return Counter({(provider, outcome): int(n) for provider, outcome, n in rows})


def websites_with_unusable_domains(store: CrmStore) -> int:
    """Websites whose domain is not a registrable, non-aggregator domain (should be none)."""
    domains = store.query("SELECT DISTINCT domain FROM websites")["domain"].to_list()
    return sum(1 for d in domains if registrable_domain(d) != d)
