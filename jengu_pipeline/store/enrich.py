"""Writers and readers for the enrich stage (websites)."""

from __future__ import annotations

import polars as pl

from jengu_pipeline.domain.normalise import registrable_domain
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

WEBSITE_SCHEMA = {"prospect_id": pl.String, "url": pl.String, "domain": pl.String, "source": pl.String,
                  "confidence": pl.Float64}


def prospects_without_website(store: CrmStore, batch_id: str) -> pl.DataFrame:
    """Active prospects first seen in this batch with no website recorded yet, with a city from their rows."""
    return store.run(lambda tx: tx.fetch_frame(
        "SELECT p.prospect_id, p.company, p.website,"
        " min(COALESCE(r.city, trim(split_part(r.location, ',', 1)))) AS city"
        " FROM prospects p"
        " JOIN prospect_sources s ON s.prospect_id = p.prospect_id"
        " JOIN raw_prospects r ON r.batch_id = s.batch_id AND r.line_number = s.line_number"
        " WHERE p.batch_id = ? AND NOT p.archived"
        " AND NOT EXISTS (SELECT 1 FROM websites w WHERE w.prospect_id = p.prospect_id)"
        " GROUP BY p.prospect_id, p.company, p.website ORDER BY p.prospect_id", [batch_id]))


def record_websites(store: CrmStore, batch_id: str, found: pl.DataFrame) -> pl.DataFrame:
    """Append the websites found and fill ``prospects.website`` where it was empty; returns what was written."""

    def write(tx: Tx) -> pl.DataFrame:
        if found.is_empty():
            return found
        tx.temp_table("found_websites", found)
        tx.execute(
            "INSERT INTO websites (prospect_id, url, domain, source, confidence)"
            " SELECT f.prospect_id, f.url, f.domain, f.source, f.confidence FROM found_websites f"
            " WHERE NOT EXISTS (SELECT 1 FROM websites w WHERE w.prospect_id = f.prospect_id AND w.url = f.url)")
        tx.execute(
            "UPDATE prospects SET website = f.domain, version = version + 1, updated_at = now()"
            " FROM found_websites f WHERE prospects.prospect_id = f.prospect_id AND prospects.website IS NULL")
        tx.execute(
            "INSERT INTO activities (prospect_id, batch_id, type, title, metadata)"
            " SELECT prospect_id, ?, 'website_found', 'website ' || domain || ' (' || source || ')',"
            " CAST('{\"confidence\": ' || CAST(confidence AS VARCHAR) || '}' AS JSON) FROM found_websites",
            [batch_id])
        return found

    return store.run(write)


def websites_with_unusable_domains(store: CrmStore) -> int:
    """Websites whose domain is not a registrable, non-aggregator domain (should be none)."""
    domains = store.query("SELECT DISTINCT domain FROM websites")["domain"].to_list()
    return sum(1 for d in domains if registrable_domain(d) != d)
