"""Writers for the ingestion stage: a batch's raw rows, its prospects, provenance and rejects.

Each writer replaces exactly one batch's slice in one transaction, so re-materialising a partition is
idempotent and a failure never leaves half a batch behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from jengu_pipeline.domain.prospect_files import CANONICAL_FIELDS
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

PROSPECT_COLUMNS = ("first_name", "last_name", "first_ascii", "last_ascii", "name_key", "title", "company",
                    "company_key", "linkedin_url", "email", "website", "phone", "country", "timezone", "tier",
                    "score")
"""Normalised columns the ingestion writes into ``prospects``."""

MERGEABLE_COLUMNS = ("title", "company", "company_key", "website", "phone", "country", "timezone")
"""Columns a duplicate row may fill in when the existing prospect lacks them (email and LinkedIn URL are
filled separately because they must stay unique among active prospects)."""


@dataclass(frozen=True)
class BatchSummary:
    """The import's bookkeeping: rows = accepted + rejected, accepted = duplicates + new_prospects."""

    batch_id: str
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    new_prospects: int

    @property
    def conserved(self) -> bool:
        return self.rows == self.accepted + self.rejected and self.accepted == self.duplicates + self.new_prospects


def register_batch(tx: Tx, batch_id: str, name: str, source_file: str, digest: str) -> None:
    tx.execute("INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING", [batch_id, name, source_file, digest])


def replace_raw_rows(store: CrmStore, batch_id: str, *, name: str, source_file: str, digest: str,
                     rows: pl.DataFrame) -> None:
    """Register the batch and replace its raw rows (every data record with its line number)."""

    def write(tx: Tx) -> None:
        register_batch(tx, batch_id, name, source_file, digest)
        tx.execute("DELETE FROM raw_prospects WHERE batch_id = ?", [batch_id])
        tx.insert_frame("raw_prospects", rows.with_columns(batch_id=pl.lit(batch_id)))

    store.run(write)


def raw_rows(store: CrmStore, batch_id: str) -> pl.DataFrame:
    columns = ", ".join(("line_number", "raw", "error", *CANONICAL_FIELDS))
    return store.run(lambda tx: tx.fetch_frame(
        f"SELECT {columns} FROM raw_prospects WHERE batch_id = ? ORDER BY line_number", [batch_id]))


IDENTITY_LOCK_ID = 0x6A656E6775 + 1
"""PostgreSQL advisory lock serialising prospect identity assignment across processes."""
_identity_lock = threading.Lock()
"""The same within one process (DuckDB's file lock already serialises processes)."""

Assigner = Callable[[pl.DataFrame], pl.DataFrame]
"""Given the dedup candidates (active prospects of other batches), returns the batch's accepted rows with
``prospect_id`` and ``match_rule``."""


def _dedup_candidates(tx: Tx, batch_id: str) -> pl.DataFrame:
    return tx.fetch_frame(
        "SELECT prospect_id, linkedin_url, email, name_key, company_key FROM prospects"
        " WHERE NOT archived AND batch_id <> ?", [batch_id])


def write_normalised_batch(store: CrmStore, batch_id: str, assign: Assigner, rejected: pl.DataFrame) -> pl.DataFrame:
    """Assign the batch's rows to prospects and write prospects, provenance and rejects in one transaction.

    Identity assignment reads the other batches' prospects and writes new ones under one lock, so two
    batches imported at once can never both create the same person. Rows that share a prospect are folded
    into one (first non-null value by line order); prospects that already exist keep their values and only
    gain the fields they lacked. Returns the assigned rows.
    """

    def write(tx: Tx) -> pl.DataFrame:
        if tx.backend == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", [IDENTITY_LOCK_ID])
        assigned = assign(_dedup_candidates(tx, batch_id))
        folded = (assigned.sort("line_number").group_by("prospect_id", maintain_order=True)
                  .agg([pl.col(c).drop_nulls().first() for c in PROSPECT_COLUMNS]))
        tx.execute("DELETE FROM prospect_sources WHERE batch_id = ?", [batch_id])
        tx.execute("DELETE FROM rejected_rows WHERE batch_id = ?", [batch_id])
        tx.temp_table("batch_prospects", folded)
        _create_new_prospects(tx, batch_id)
        _merge_into_existing(tx, batch_id)
        tx.insert_frame("prospect_sources", assigned.select("line_number", "prospect_id", "match_rule")
                        .with_columns(batch_id=pl.lit(batch_id)))
        tx.insert_frame("rejected_rows", rejected.select("line_number", "reason", "raw")
                        .with_columns(batch_id=pl.lit(batch_id)))
        return assigned

    with _identity_lock:
        return store.run(write)


def _create_new_prospects(tx: Tx, batch_id: str) -> None:
    columns = ", ".join(PROSPECT_COLUMNS)
    tx.execute("CREATE TEMP TABLE new_prospect_ids AS SELECT prospect_id FROM batch_prospects b"
               " WHERE NOT EXISTS (SELECT 1 FROM prospect_registry r WHERE r.prospect_id = b.prospect_id)")
    tx.execute("INSERT INTO prospect_registry (prospect_id) SELECT prospect_id FROM new_prospect_ids")
    tx.execute(
        f"INSERT INTO prospects (prospect_id, batch_id, {columns}, active_email, active_linkedin_url)"
        f" SELECT b.prospect_id, ?, {', '.join('b.' + c for c in PROSPECT_COLUMNS)}, b.email, b.linkedin_url"
        " FROM batch_prospects b JOIN new_prospect_ids n ON n.prospect_id = b.prospect_id",
        [batch_id])
    tx.execute(
        "INSERT INTO activities (prospect_id, batch_id, type, title)"
        " SELECT prospect_id, ?, 'prospect_imported', 'imported from batch ' || ? FROM new_prospect_ids",
        [batch_id, batch_id])
    tx.execute("DROP TABLE new_prospect_ids")


def _merge_into_existing(tx: Tx, batch_id: str) -> None:
    """Fill the gaps of prospects created by earlier batches from this batch's duplicate rows."""
    fills = ", ".join(f"{c} = COALESCE(prospects.{c}, m.{c})" for c in MERGEABLE_COLUMNS)
    tx.execute(
        "CREATE TEMP TABLE merged AS SELECT b.* FROM batch_prospects b JOIN prospects p"
        " ON p.prospect_id = b.prospect_id WHERE p.batch_id <> ?", [batch_id])
    tx.execute(f"UPDATE prospects SET {fills}, version = version + 1, updated_at = now()"
               " FROM merged m WHERE prospects.prospect_id = m.prospect_id")
    for column, mirror in (("email", "active_email"), ("linkedin_url", "active_linkedin_url")):
        tx.execute(
            f"UPDATE prospects SET {column} = m.{column},"
            f" {mirror} = CASE WHEN prospects.archived THEN NULL ELSE m.{column} END"
            f" FROM merged m WHERE prospects.prospect_id = m.prospect_id AND prospects.{column} IS NULL"
            f" AND m.{column} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM prospects o WHERE o.{mirror} = m.{column})")
    tx.execute(
        "INSERT INTO activities (prospect_id, batch_id, type, title)"
        " SELECT prospect_id, ?, 'prospect_merged', 'seen again in batch ' || ? FROM merged",
        [batch_id, batch_id])
    tx.execute("DROP TABLE merged")


def batch_summary(store: CrmStore, batch_id: str) -> BatchSummary:
    row = store.run(lambda tx: tx.fetch_one(
        "SELECT (SELECT count(*) FROM raw_prospects WHERE batch_id = ?),"
        " (SELECT count(*) FROM prospect_sources WHERE batch_id = ?),"
        " (SELECT count(*) FROM rejected_rows WHERE batch_id = ?),"
        " (SELECT count(*) FROM prospect_sources s WHERE s.batch_id = ? AND s.match_rule IS NOT NULL)",
        [batch_id] * 4))
    rows, accepted, rejected, duplicates = (int(v) for v in row or (0, 0, 0, 0))
    return BatchSummary(batch_id, rows, accepted, rejected, duplicates, accepted - duplicates)


def rejected_by_reason(store: CrmStore, batch_id: str) -> dict[str, int]:
    """Rejected rows per reason kind (the text before the first colon), for operator metadata."""
    frame = store.run(lambda tx: tx.fetch_frame("SELECT reason FROM rejected_rows WHERE batch_id = ?", [batch_id]))
    if frame.is_empty():
        return {}
    kinds = frame.select(pl.col("reason").str.split(":").list.first().alias("kind"))["kind"].value_counts(sort=True)
    return dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
