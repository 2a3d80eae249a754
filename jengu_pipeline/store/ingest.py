"""Writers for the ingestion stage: a batch's state, raw rows, prospects, provenance and rejects.

Each writer replaces exactly one batch's slice in one transaction, so re-materialising a partition is
idempotent and a failure never leaves half a batch behind; ``batch_states`` says where each batch stands
(importing, imported, failed), so a batch a killed run left half done is never taken for a complete one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

import polars as pl

from jengu_pipeline import clock
from jengu_pipeline.domain.prospect_files import CANONICAL_FIELDS
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore, add_activity

PROSPECT_COLUMNS = (
    "first_name",
    "last_name",
    "first_ascii",
    "last_ascii",
    "name_key",
    "title",
    "company",
    "company_key",
    "linkedin_url",
    "email",
    "website",
    "phone",
    "country",
    "timezone",
    "tier",
    "score",
)
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


BatchState = Literal["importing", "imported", "failed"]
IMPORTING: BatchState = "importing"
IMPORTED: BatchState = "imported"
FAILED: BatchState = "failed"


@dataclass(frozen=True)
class BatchStatus:
    """A batch's row of ``batch_states`` with its counts: what ``jengu batches`` and the metadata show."""

    batch_id: str
    name: str
    state: BatchState
    run_id: str | None
    reason: str | None
    updated_at: datetime
    summary: BatchSummary


def start_batch(store: CrmStore, batch_id: str, *, name: str, source_file: str, digest: str, run_id: str) -> None:
    """Register the batch (once) and mark it ``importing`` by ``run_id``: from here until its prospects are
    written it is visibly incomplete, and a run that dies leaves it so."""

    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [batch_id, name, source_file, digest],
        )
        _set_state(tx, batch_id, IMPORTING, run_id, None)

    store.run(write)


def fail_batch(store: CrmStore, batch_id: str, run_id: str | None, reason: str) -> None:
    """Mark the batch ``failed`` with the reason; re-running it redoes it."""
    store.run(lambda tx: _set_state(tx, batch_id, FAILED, run_id, reason))


def _set_state(tx: Tx, batch_id: str, state: BatchState, run_id: str | None, reason: str | None) -> None:
    tx.execute(
        "INSERT INTO batch_states (batch_id, state, run_id, reason, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (batch_id) DO UPDATE SET state = excluded.state, run_id = excluded.run_id,"
        " reason = excluded.reason, updated_at = excluded.updated_at",
        [batch_id, state, run_id, reason, clock.now()],
    )


def batch_state(store: CrmStore, batch_id: str) -> BatchState | None:
    """The batch's state, None for a batch the store has never seen."""
    return store.run(lambda tx: tx.fetch_value("SELECT state FROM batch_states WHERE batch_id = ?", [batch_id]))


def batches_importing(store: CrmStore) -> list[tuple[str, str | None]]:
    """(batch id, run id) of every batch marked ``importing``: each is being worked on, or its run died."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT batch_id, run_id FROM batch_states WHERE state = ? ORDER BY batch_id", [IMPORTING]
        ),
    )
    return [(str(batch_id), run_id) for batch_id, run_id in rows]


def batch_statuses(store: CrmStore) -> list[BatchStatus]:
    """Every batch, newest first, with its state and counts."""

    def read(tx: Tx) -> list[BatchStatus]:
        rows = tx.fetch_all(
            "SELECT b.batch_id, b.name, s.state, s.run_id, s.reason, s.updated_at FROM batches b"
            " JOIN batch_states s ON s.batch_id = b.batch_id ORDER BY b.created_at DESC, b.batch_id"
        )
        return [
            BatchStatus(batch_id, name, state, run_id, reason, updated_at, _summary(tx, batch_id))
            for batch_id, name, state, run_id, reason, updated_at in rows
        ]

    return store.run(read)


def replace_raw_rows(store: CrmStore, batch_id: str, rows: pl.DataFrame) -> None:
    """Replace the batch's raw rows (every data record with its line number); the batch is registered."""

    def write(tx: Tx) -> None:
        tx.execute("DELETE FROM raw_prospects WHERE batch_id = ?", [batch_id])
        with _one_duckdb_thread(tx):
            tx.insert_frame("raw_prospects", rows.with_columns(batch_id=pl.lit(batch_id)))

    store.run(write)


@contextmanager
def _one_duckdb_thread(tx: Tx) -> Iterator[None]:
    """Run a bulk write on one DuckDB thread. Its cost is index upkeep (primary, unique and foreign keys,
    each an ART index that takes one row at a time under a lock), so a second thread only contends for it:
    on a million rows one thread is faster in wall and in CPU time. ``threads`` is a database setting, so
    it is reset after the write; after a failure the connection closes anyway."""
    if tx.backend != "duckdb":
        yield
        return
    tx.execute("SET threads = 1")
    yield
    tx.execute("RESET threads")


def raw_fields(store: CrmStore, batch_id: str) -> pl.DataFrame:
    """The batch's records as read (line number, reader error, canonical fields), without the raw text:
    only rejected rows need that, and :func:`write_normalised_batch` copies it inside the store."""
    columns = ", ".join(("line_number", "error", *CANONICAL_FIELDS))
    frame = store.run(lambda tx: tx.fetch_frame(f"SELECT {columns} FROM raw_prospects WHERE batch_id = ?", [batch_id]))
    return frame.sort("line_number")  # polars sorts a million rows in a tenth of the time the store's ORDER BY takes


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
        " WHERE NOT archived AND batch_id <> ?",
        [batch_id],
    )


class WrittenBatch(NamedTuple):
    assigned: pl.DataFrame
    summary: BatchSummary


def write_normalised_batch(
    store: CrmStore, batch_id: str, assign: Assigner, rejected: pl.DataFrame, *, run_id: str
) -> WrittenBatch:
    """Assign the batch's rows to prospects and write prospects, provenance and rejects in one transaction,
    together with the batch's ``batch_imported`` activity and its state ``imported``: a batch is imported when,
    and only when, all of it is written.

    Identity assignment reads the other batches' prospects and writes new ones under one lock, so two
    batches imported at once can never both create the same person. Rows that share a prospect are folded
    into one (first non-null value by line order); prospects that already exist keep their values and only
    gain the fields they lacked. Returns the assigned rows and the batch's counts.

    Rows are bulk-inserted from frames sorted by prospect id: the cost of a large batch is index upkeep
    (each row of prospects and prospect_sources enters several ART indexes and foreign-key checks keyed by
    prospect id), and DuckDB's ART takes keys in order about twice as fast as in random order.
    """

    def write(tx: Tx) -> WrittenBatch:
        if tx.backend == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", [IDENTITY_LOCK_ID])
        candidates = _dedup_candidates(tx, batch_id)
        assigned = assign(candidates)
        folded = (
            assigned.sort("line_number")
            .group_by("prospect_id", maintain_order=True)
            .agg([pl.col(c).drop_nulls().first() for c in PROSPECT_COLUMNS])
        )
        tx.execute("DELETE FROM prospect_sources WHERE batch_id = ?", [batch_id])
        tx.execute("DELETE FROM rejected_rows WHERE batch_id = ?", [batch_id])
        earlier = folded.get_column("prospect_id").is_in(candidates.get_column("prospect_id").cast(pl.Utf8).implode())
        with _one_duckdb_thread(tx):
            _create_new_prospects(tx, batch_id, folded.filter(~earlier))
            tx.insert_frame(
                "prospect_sources",
                assigned.select(pl.lit(batch_id).alias("batch_id"), "line_number", "prospect_id", "match_rule").sort(
                    "prospect_id"
                ),
            )
        _merge_into_existing(tx, batch_id, folded.filter(earlier))
        _write_rejects(tx, batch_id, rejected)
        summary = _summary(tx, batch_id)
        add_activity(tx, "batch_imported", f"imported {batch_id}", batch_id=batch_id, metadata=summary.__dict__)
        _set_state(tx, batch_id, IMPORTED, run_id, None)
        return WrittenBatch(assigned, summary)

    with _identity_lock:
        return store.run(write)


def _create_new_prospects(tx: Tx, batch_id: str, folded: pl.DataFrame) -> None:
    """Register and insert the prospects first seen in this batch (a re-run finds them registered already).

    Their import is recorded by ``prospect_sources`` (batch, line, rule) and the batch's one
    ``batch_imported`` activity, not by an activity row each: on a million-row batch those rows and their
    four indexes took a quarter of the import's store time.
    """
    tx.temp_table("batch_prospect_ids", folded.select("prospect_id"))
    registered = tx.fetch_frame("SELECT prospect_id FROM batch_prospect_ids JOIN prospect_registry USING (prospect_id)")
    known = registered.get_column("prospect_id").cast(pl.Utf8).implode()
    new = folded.filter(~pl.col("prospect_id").is_in(known)).sort("prospect_id")
    tx.insert_frame("prospect_registry", new.select("prospect_id"))
    tx.insert_frame(
        "prospects",
        new.select(
            "prospect_id",
            pl.lit(batch_id).alias("batch_id"),
            *PROSPECT_COLUMNS,
            pl.col("email").alias("active_email"),
            pl.col("linkedin_url").alias("active_linkedin_url"),
        ),
    )


def _write_rejects(tx: Tx, batch_id: str, rejected: pl.DataFrame) -> None:
    """Rejected rows with their reason and the raw text the batch's raw rows already hold."""
    if rejected.is_empty():
        return
    tx.temp_table("batch_rejects", rejected.select("line_number", "reason"))
    tx.execute(
        "INSERT INTO rejected_rows (batch_id, line_number, reason, raw)"
        " SELECT w.batch_id, w.line_number, r.reason, w.raw FROM batch_rejects r"
        " JOIN raw_prospects w ON w.batch_id = ? AND w.line_number = r.line_number",
        [batch_id],
    )


def _merge_into_existing(tx: Tx, batch_id: str, merged: pl.DataFrame) -> None:
    """Fill the gaps of prospects created by earlier batches from this batch's duplicate rows."""
    if merged.is_empty():
        return
    tx.temp_table("merged", merged)
    fills = ", ".join(f"{c} = COALESCE(prospects.{c}, m.{c})" for c in MERGEABLE_COLUMNS)
    tx.execute(
        f"UPDATE prospects SET {fills}, version = version + 1, updated_at = now()"
        " FROM merged m WHERE prospects.prospect_id = m.prospect_id"
    )
    for column, mirror in (("email", "active_email"), ("linkedin_url", "active_linkedin_url")):
        tx.execute(
            f"UPDATE prospects SET {column} = m.{column},"
            f" {mirror} = CASE WHEN prospects.archived THEN NULL ELSE m.{column} END"
            f" FROM merged m WHERE prospects.prospect_id = m.prospect_id AND prospects.{column} IS NULL"
            f" AND m.{column} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM prospects o WHERE o.{mirror} = m.{column})"
        )
    tx.execute(
        "INSERT INTO activities (prospect_id, batch_id, type, title)"
        " SELECT prospect_id, ?, 'prospect_merged', 'seen again in batch ' || ? FROM merged",
        [batch_id, batch_id],
    )
    tx.execute("DROP TABLE merged")


def batch_summary(store: CrmStore, batch_id: str) -> BatchSummary:
    return store.run(lambda tx: _summary(tx, batch_id))


def _summary(tx: Tx, batch_id: str) -> BatchSummary:
    row = tx.fetch_one(
        "SELECT (SELECT count(*) FROM raw_prospects WHERE batch_id = ?),"
        " (SELECT count(*) FROM prospect_sources WHERE batch_id = ?),"
        " (SELECT count(*) FROM rejected_rows WHERE batch_id = ?),"
        " (SELECT count(*) FROM prospect_sources s WHERE s.batch_id = ? AND s.match_rule IS NOT NULL)",
        [batch_id] * 4,
    )
    rows, accepted, rejected, duplicates = (int(v) for v in row or (0, 0, 0, 0))
    return BatchSummary(batch_id, rows, accepted, rejected, duplicates, accepted - duplicates)


def rejected_by_reason(store: CrmStore, batch_id: str) -> dict[str, int]:
    """Rejected rows per reason kind (the text before the first colon), for operator metadata."""
    frame = store.run(lambda tx: tx.fetch_frame("SELECT reason FROM rejected_rows WHERE batch_id = ?", [batch_id]))
    if frame.is_empty():
        return {}
    kinds = frame.select(pl.col("reason").str.split(":").list.first().alias("kind"))["kind"].value_counts(sort=True)
    return dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
