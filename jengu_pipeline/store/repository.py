"""The CRM store's repository API: the same methods over DuckDB and PostgreSQL.

Every method is one short transaction on its own connection; nothing holds a connection across a network
call. Stage-specific writers (ingestion, enrichment, sending) live beside their tables' owners and call
``CrmStore.run`` with a function of a transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import polars as pl

from jengu_pipeline.store.engine import Engine, StaleVersionError, StoreError, Tx
from jengu_pipeline.store.migrations import applied_versions, latest_version, migrate

T = TypeVar("T")

EDITABLE_PROSPECT_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "title",
        "company",
        "email",
        "linkedin_url",
        "website",
        "phone",
        "country",
        "timezone",
        "tier",
        "score",
        "stage",
    }
)
"""Fields an operator may edit; keys, provenance and the active_* mirrors are maintained by the store."""

EMERGENCY_STOP = "emergency_stop"
PROSPECT_CHILD_TABLES = (
    "activities",
    "replies",
    "send_attempts",
    "sends",
    "messages",
    "email_verifications",
    "enrichment_leases",
    "website_not_found",
    "websites",
    "prospect_sources",
    "campaign_members",
    "prospects",
)
"""Every table with a prospect_id besides the registry, in a safe deletion order (a test keeps it complete)."""


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class CrmStore:
    """The system of record. Construct with :func:`open_store`, which migrates the schema first."""

    def __init__(self, url: str) -> None:
        self.engine = Engine(url)

    @property
    def backend(self) -> str:
        return self.engine.backend

    @property
    def display_url(self) -> str:
        """The store's URL without secrets, for logs, metadata and ``jengu health``."""
        return self.engine.display_url

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one short transaction, retried whole on lock conflicts."""
        return self.engine.run(work)

    def migrate(self) -> list[int]:
        return migrate(self.engine)

    def schema_version(self) -> int:
        versions = self.engine.run(applied_versions)
        return max(versions, default=0)

    def is_current(self) -> bool:
        return self.schema_version() >= latest_version()

    # Reading -----------------------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a read-only query; the database itself refuses writes (read-only transaction)."""

        def read(tx: Tx) -> pl.DataFrame:
            if tx.backend == "postgresql":
                tx.execute("SET TRANSACTION READ ONLY")
            return tx.fetch_frame(sql, params or [])

        if self.backend == "duckdb":
            return self.engine.run(read, read_only=True)
        return self.engine.run(read)

    def count(self, table: str) -> int:
        return int(self.engine.run(lambda tx: tx.fetch_value(f"SELECT count(*) FROM {table}")))

    # Prospects ---------------------------------------------------------------------------------------

    def get_prospect(self, prospect_id: str) -> dict[str, Any] | None:
        frame = self.engine.run(
            lambda tx: tx.fetch_frame("SELECT * FROM prospects WHERE prospect_id = ?", [prospect_id])
        )
        return frame.row(0, named=True) if frame.height else None

    def update_prospect(
        self, prospect_id: str, expected_version: int, changes: Mapping[str, Any], *, actor: str = "operator"
    ) -> int:
        """Apply an operator's edit if nobody changed the prospect since ``expected_version`` was read.

        Returns the new version; raises :class:`StaleVersionError` when the row moved on meanwhile.
        """
        unknown = set(changes) - EDITABLE_PROSPECT_FIELDS
        if unknown:
            raise StoreError(f"prospect fields not editable: {', '.join(sorted(unknown))}")
        assignments = [f"{field} = ?" for field in changes]
        params: list[Any] = list(changes.values())
        if "email" in changes:
            assignments.append("active_email = CASE WHEN archived THEN NULL ELSE ? END")
            params.append(changes["email"])
        if "linkedin_url" in changes:
            assignments.append("active_linkedin_url = CASE WHEN archived THEN NULL ELSE ? END")
            params.append(changes["linkedin_url"])

        def edit(tx: Tx) -> int:
            new_version = tx.fetch_value(
                f"UPDATE prospects SET {', '.join(assignments)}, version = version + 1,"
                " updated_at = now() WHERE prospect_id = ? AND version = ? RETURNING version",
                [*params, prospect_id, expected_version],
            )
            if new_version is None:
                current = tx.fetch_value("SELECT version FROM prospects WHERE prospect_id = ?", [prospect_id])
                if current is None:
                    raise StoreError(f"prospect {prospect_id} does not exist")
                raise StaleVersionError(
                    f"prospect {prospect_id} is at version {current}, the edit was based on {expected_version}"
                )
            add_activity(
                tx,
                "prospect_edited",
                f"{actor} edited {', '.join(sorted(changes))}",
                prospect_id=prospect_id,
                metadata={"fields": sorted(changes), "version": new_version},
            )
            return int(new_version)

        return self.engine.run(edit)

    def archive_prospect(self, prospect_id: str, reason: str) -> None:
        """Archive a prospect: it keeps its history but frees its email and LinkedIn URL for reuse."""

        def archive(tx: Tx) -> None:
            tx.execute(
                "UPDATE prospects SET archived = TRUE, active_email = NULL, active_linkedin_url = NULL,"
                " version = version + 1, updated_at = now() WHERE prospect_id = ?",
                [prospect_id],
            )
            add_activity(tx, "prospect_archived", reason, prospect_id=prospect_id)

        self.engine.run(archive)

    def delete_prospect(self, prospect_id: str) -> None:
        """Delete a prospect and everything that refers to it, so that no orphan can remain.

        DuckDB checks foreign keys against committed data only, so the registry row goes in a second
        transaction; a crash in between leaves an unused registry id, never an orphan.
        """

        def delete_children(tx: Tx) -> None:
            tx.execute(
                "DELETE FROM reply_failed_recipients WHERE reply_id IN"
                " (SELECT reply_id FROM replies WHERE prospect_id = ?)",
                [prospect_id],
            )
            for table in PROSPECT_CHILD_TABLES:
                tx.execute(f"DELETE FROM {table} WHERE prospect_id = ?", [prospect_id])

        self.engine.run(delete_children)
        self.engine.run(lambda tx: tx.execute("DELETE FROM prospect_registry WHERE prospect_id = ?", [prospect_id]))

    # Activities and flags ----------------------------------------------------------------------------

    def add_activity(
        self,
        type_: str,
        title: str,
        *,
        prospect_id: str | None = None,
        batch_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine.run(
            lambda tx: add_activity(tx, type_, title, prospect_id=prospect_id, batch_id=batch_id, metadata=metadata)
        )

    def get_flag(self, name: str) -> str | None:
        return self.engine.run(lambda tx: tx.fetch_value("SELECT value FROM flags WHERE name = ?", [name]))

    def set_flag(self, name: str, value: str, *, actor: str) -> None:
        def upsert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO flags (name, value, updated_by) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                " SET value = excluded.value, updated_by = excluded.updated_by,"
                " version = flags.version + 1, updated_at = now()",
                [name, value, actor],
            )
            add_activity(tx, "flag_set", f"{actor} set {name}={value}", metadata={"flag": name, "value": value})

        self.engine.run(upsert)

    def emergency_stopped(self) -> bool:
        return self.get_flag(EMERGENCY_STOP) == "on"

    # Provider ledger: quota, cache, calls ------------------------------------------------------------

    def reserve_quota(self, provider: str, units: int, daily_limit: int) -> bool:
        """Atomically reserve exactly ``units`` of today's (UTC) quota; False, reserving nothing, if it would exceed."""
        return self.reserve_quota_block(provider, units, daily_limit, block=units) > 0

    def reserve_quota_block(self, provider: str, units: int, daily_limit: int, *, block: int) -> int:
        """Reserve between ``units`` and ``block`` units of today's (UTC) quota and return how many (0: none left).

        Callers hold a block to save a transaction per call; the block is at most 1% of what remains, so
        well before the limit processes take one unit at a time and none sits on the last units. The row is
        locked (PostgreSQL ``FOR UPDATE``; DuckDB has one writer), so racing processes never overshoot.
        """
        day = datetime.now(UTC).date()
        lock = " FOR UPDATE" if self.backend == "postgresql" else ""

        def reserve(tx: Tx) -> int:
            tx.execute(
                "INSERT INTO provider_quota (provider, day, used) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
                [provider, day],
            )
            used = int(
                tx.fetch_value(f"SELECT used FROM provider_quota WHERE provider = ? AND day = ?{lock}", [provider, day])
            )
            remaining = daily_limit - used
            if remaining < units:
                return 0
            granted = min(remaining, max(units, min(block, remaining // 100)))
            tx.execute(
                "UPDATE provider_quota SET used = used + ? WHERE provider = ? AND day = ?", [granted, provider, day]
            )
            return granted

        return self.engine.run(reserve)

    def release_quota(self, provider: str, units: int) -> None:
        """Give back units reserved for calls that were never made (the breaker opened, a held block unused)."""
        day = datetime.now(UTC).date()
        self.engine.run(
            lambda tx: tx.execute(
                "UPDATE provider_quota SET used = greatest(used - ?, 0) WHERE provider = ? AND day = ?",
                [units, provider, day],
            )
        )

    def quota_used(self, provider: str) -> int:
        day = datetime.now(UTC).date()
        used = self.engine.run(
            lambda tx: tx.fetch_value("SELECT used FROM provider_quota WHERE provider = ? AND day = ?", [provider, day])
        )
        return int(used or 0)

    def cache_get(self, namespace: str, key: str) -> Any | None:
        return self.cache_get_many(namespace, [key]).get(key)

    def cache_get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        """Unexpired cached values for ``keys`` (missing keys are absent), in one query."""
        if not keys:
            return {}
        marks = ", ".join("?" for _ in keys)
        rows = self.engine.run(
            lambda tx: tx.fetch_all(
                f"SELECT cache_key, value FROM provider_cache WHERE namespace = ? AND cache_key IN ({marks})"
                " AND expires_at > ?",
                [namespace, *keys, datetime.now(UTC)],
            ),
            read_only=True,
        )
        return {key: _json_value(value) for key, value in rows}

    def cache_put(self, namespace: str, key: str, value: Any, ttl_seconds: int) -> None:
        self.record_calls([], [CacheEntry(namespace, key, value, ttl_seconds)])

    def record_calls(self, calls: Sequence[CallRecord], entries: Sequence[CacheEntry]) -> None:
        """Append ledger rows and store cache entries in one transaction (a group commit of many calls)."""
        now = datetime.now(UTC)

        def write(tx: Tx) -> None:
            tx.execute_many(
                "INSERT INTO provider_calls (provider, operation, outcome, latency_ms, cost_units, batch_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(c.provider, c.operation, c.outcome, c.latency_ms, c.cost_units, c.batch_id) for c in calls],
            )
            latest = {(e.namespace, e.key): e for e in entries}  # one row per key per statement
            tx.execute_many(
                "INSERT INTO provider_cache (namespace, cache_key, value, expires_at) VALUES (?, ?, CAST(? AS JSON), ?)"
                " ON CONFLICT (namespace, cache_key) DO UPDATE SET value = excluded.value,"
                " expires_at = excluded.expires_at, created_at = now()",
                [
                    (e.namespace, e.key, json.dumps(e.value), now + timedelta(seconds=e.ttl_seconds))
                    for e in latest.values()
                ],
            )

        if calls or entries:
            self.engine.run(write)


@dataclass(frozen=True)
class CallRecord:
    """One provider call for the ledger."""

    provider: str
    operation: str
    outcome: str
    latency_ms: float
    cost_units: int
    batch_id: str | None = None


@dataclass(frozen=True)
class CacheEntry:
    """One provider answer to keep for ``ttl_seconds``."""

    namespace: str
    key: str
    value: Any
    ttl_seconds: int


def add_activity(
    tx: Tx,
    type_: str,
    title: str,
    *,
    prospect_id: str | None = None,
    batch_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Append an activity inside the caller's transaction; activities are never updated."""
    tx.execute(
        "INSERT INTO activities (prospect_id, batch_id, type, title, metadata) VALUES (?, ?, ?, ?, CAST(? AS JSON))",
        [prospect_id, batch_id, type_, title, json.dumps(dict(metadata or {}), default=str)],
    )


def open_store(url: str) -> CrmStore:
    """A store for ``url`` with every pending migration applied (a no-op check when current)."""
    store = CrmStore(url)
    store.migrate()
    return store
