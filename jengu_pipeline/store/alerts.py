"""The alert throttle's state and the daily digest's figures, read and written in short transactions.

The throttle row of a key is read and updated in one transaction (locked on PostgreSQL; DuckDB has one writer),
so two processes alerting at once cannot both take the last place in a window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jengu_pipeline.domain.alerting import DEFAULT_LIMIT, DEFAULT_WINDOW, Admission, DigestFigures, ThrottleState, admit
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

COUNTED_SEND_STATUSES = ("claimed", "sent", "unknown", "bounced")
"""Sends that count against an inbox's day (the sender's own rule, store/sending.py)."""


def admit_alert(
    store: CrmStore, key: str, now: datetime, *, limit: int = DEFAULT_LIMIT, window: timedelta = DEFAULT_WINDOW
) -> Admission:
    """Decide and record one alert of ``key``: let through (mentioning what was held back) or hold back."""
    lock = " FOR UPDATE" if store.backend == "postgresql" else ""

    def run(tx: Tx) -> Admission:
        tx.execute(
            "INSERT INTO alert_throttle (alert_key, window_start, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (alert_key) DO NOTHING",
            [key, now, now],
        )
        row = tx.fetch_one(
            "SELECT window_start, sent_in_window, suppressed, first_suppressed_at FROM alert_throttle"
            f" WHERE alert_key = ?{lock}",
            [key],
        )
        assert row is not None
        admission = admit(ThrottleState(row[0], int(row[1]), int(row[2]), row[3]), now, limit=limit, window=window)
        state = admission.state
        tx.execute(
            "UPDATE alert_throttle SET window_start = ?, sent_in_window = ?, suppressed = ?,"
            " first_suppressed_at = ?, updated_at = ?"
            + (", last_sent_at = ?" if admission.allowed else "")
            + " WHERE alert_key = ?",
            [
                state.window_start,
                state.sent_in_window,
                state.suppressed,
                state.first_suppressed_at,
                now,
                *([now] if admission.allowed else []),
                key,
            ],
        )
        return admission

    return store.run(run)


def held_back_alerts(tx: Tx) -> dict[str, int]:
    return {
        key: int(n)
        for key, n in tx.fetch_all(
            "SELECT alert_key, suppressed FROM alert_throttle WHERE suppressed > 0 ORDER BY alert_key"
        )
    }


def digest_figures(
    store: CrmStore, start: datetime, end: datetime, *, day_start: datetime, quota_limits: dict[str, int] | None = None
) -> DigestFigures:
    """The day ``[start, end)`` from the ledger: sends by status, replies by category, hard bounces, pauses; and
    today (from ``day_start``, the sending day's start) the inboxes' use of their caps and the providers' quota."""

    def read(tx: Tx) -> DigestFigures:
        window = [start, end]
        sends = dict(
            tx.fetch_all(
                "SELECT status, count(*) FROM sends WHERE claimed_at >= ? AND claimed_at < ? GROUP BY status", window
            )
        )
        replies = dict(
            tx.fetch_all(
                "SELECT coalesce(intent, 'unclassified'), count(*) FROM replies"
                " WHERE received_at >= ? AND received_at < ? GROUP BY 1",
                window,
            )
        )
        bounces = tx.fetch_value(
            "SELECT count(*) FROM sends WHERE status = 'bounced' AND coalesce(sent_at, updated_at)"
            " >= ? AND coalesce(sent_at, updated_at) < ?",
            window,
        )
        pauses = tx.fetch_value(
            "SELECT count(*) FROM activities WHERE type = 'inbox_paused' AND created_at >= ? AND created_at < ?", window
        )
        paused_inboxes = tuple(
            r[0] for r in tx.fetch_all("SELECT inbox FROM inboxes WHERE status <> 'active' ORDER BY inbox")
        )
        paused_campaigns = tuple(
            r[0] for r in tx.fetch_all("SELECT campaign_id FROM campaigns WHERE status = 'paused' ORDER BY campaign_id")
        )
        marks = ", ".join("?" for _ in COUNTED_SEND_STATUSES)
        use = {
            inbox: (int(sent), int(cap))
            for inbox, sent, cap in tx.fetch_all(
                f"SELECT i.inbox, count(s.send_id), i.daily_cap FROM inboxes i LEFT JOIN sends s ON s.inbox = i.inbox"
                f" AND s.status IN ({marks}) AND s.claimed_at >= ? AND s.claimed_at < ? GROUP BY i.inbox, i.daily_cap",
                [*COUNTED_SEND_STATUSES, day_start, end],
            )
        }
        quota = {
            provider: int(used)
            for provider, used in tx.fetch_all(
                "SELECT provider, used FROM provider_quota WHERE day = ?", [end.astimezone(UTC).date()]
            )
        }
        return DigestFigures(
            start,
            end,
            {k: int(v) for k, v in sends.items()},
            {k: int(v) for k, v in replies.items()},
            int(bounces or 0),
            int(pauses or 0),
            paused_inboxes,
            paused_campaigns,
            use,
            quota,
            dict(quota_limits or {}),
            held_back_alerts(tx),
        )

    return store.run(read)
