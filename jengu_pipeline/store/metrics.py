"""What the metrics endpoint reads from the store, on a read-only connection with a short time budget.

A scrape must never hold up the pipeline: the DuckDB file is opened read-only and only briefly (a writer's lock
is waited for a second or two, then the scrape reports the store as down); PostgreSQL gets a connect timeout,
a statement timeout and a read-only transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import duckdb
import psycopg

from jengu_pipeline.store.engine import Engine, StoreBusyError, Tx
from jengu_pipeline.store.integrity import PENDING_MESSAGE

T = TypeVar("T")
BOUNCE_WINDOW = 100
"""The sends an inbox's bounce rate is judged over, as the sender does (the latest, since its last resume)."""


class ShortReadEngine(Engine):
    """The store's engine for scrapes: read-only connections that give up within ``timeout_seconds``."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        super().__init__(url)
        self.timeout_seconds = timeout_seconds

    def _connect(self, read_only: bool) -> Any:
        if self.backend == "duckdb":
            return duckdb.connect(self.url.target, read_only=True)
        milliseconds = max(1, round(self.timeout_seconds * 1000))
        connection = psycopg.connect(
            self.url.target,
            autocommit=False,
            connect_timeout=max(1, round(self.timeout_seconds)),
            options=f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
        )
        connection.read_only = True
        return connection

    def read(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` read-only; a DuckDB file locked by a writer is retried only until the budget runs out."""
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            try:
                with self._open(read_only=True) as tx:
                    return work(tx)
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                    raise StoreBusyError(f"store {self.display_url} not readable for a scrape: {error}") from error
                time.sleep(0.05)


@dataclass(frozen=True)
class StoreReadings:
    """Everything a scrape reports from the store."""

    sends_by_status: dict[str, int] = field(default_factory=dict)
    inbox_bounces: dict[str, tuple[int, int]] = field(default_factory=dict)  # inbox -> (judged sends, bounces)
    inbox_paused: dict[str, bool] = field(default_factory=dict)
    replies_by_intent: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    quota_used_today: dict[str, int] = field(default_factory=dict)
    integrity_open: dict[str, int] = field(default_factory=dict)


_BOUNCES = f"""
SELECT inbox, count(*), count(*) FILTER (WHERE status = 'bounced') FROM (
  SELECT s.inbox, s.status, row_number() OVER (PARTITION BY s.inbox ORDER BY s.claimed_at DESC) AS n
  FROM sends s JOIN inboxes i ON i.inbox = s.inbox
  WHERE s.status IN ('sent', 'bounced') AND (i.resumed_at IS NULL OR s.claimed_at >= i.resumed_at)
) t WHERE n <= {BOUNCE_WINDOW} GROUP BY inbox
"""

_QUEUES = f"""
SELECT 'messages_queued', count(*) FROM messages m WHERE m.status = 'queued' AND {PENDING_MESSAGE}
UNION ALL SELECT 'messages_awaiting_approval', count(*) FROM messages m WHERE m.status = 'awaiting_approval'
  AND {PENDING_MESSAGE}
UNION ALL SELECT 'sends_claimed', count(*) FROM sends WHERE status = 'claimed'
UNION ALL SELECT 'sends_deferred', count(*) FROM sends WHERE status = 'deferred'
UNION ALL SELECT 'sends_unknown', count(*) FROM sends WHERE status = 'unknown'
UNION ALL SELECT 'sends_blocked', count(*) FROM sends WHERE status = 'blocked'
UNION ALL SELECT 'replies_unprocessed', count(*) FROM replies WHERE processed_at IS NULL
"""

_INTEGRITY = """
SELECT rule, found - repaired FROM integrity_findings WHERE run_id = (SELECT run_id FROM integrity_findings
  ORDER BY checked_at DESC, run_id LIMIT 1)
"""


def _ints(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    return {str(key): int(value) for key, value in rows}


def read_metrics(engine: ShortReadEngine, now: datetime) -> StoreReadings:
    def read(tx: Tx) -> StoreReadings:
        return StoreReadings(
            sends_by_status=_ints(tx.fetch_all("SELECT status, count(*) FROM sends GROUP BY status")),
            inbox_bounces={inbox: (int(n), int(b)) for inbox, n, b in tx.fetch_all(_BOUNCES)},
            inbox_paused={
                inbox: status != "active" for inbox, status in tx.fetch_all("SELECT inbox, status FROM inboxes")
            },
            replies_by_intent=_ints(
                tx.fetch_all("SELECT coalesce(intent, 'unclassified'), count(*) FROM replies GROUP BY 1")
            ),
            queues=_ints(tx.fetch_all(_QUEUES)),
            quota_used_today=_ints(
                tx.fetch_all("SELECT provider, used FROM provider_quota WHERE day = ?", [now.astimezone(UTC).date()])
            ),
            integrity_open=_ints(tx.fetch_all(_INTEGRITY)),
        )

    return engine.read(read)
