"""Suppressions: an address that must never be written to again, and what suppressing it does at once.

One function for every way an address gets suppressed (a one-click unsubscribe, an unsubscribe or hard bounce
read from a reply), so each does the same things in the caller's transaction: the suppression row (the
primary key (email, reason) makes a repeat a no-op), an activity, the prospect's stage when the reason ends
outreach, and every running sequence of the prospect stopped. The next claim re-checks suppressions in its
own transaction, so a suppression committed here takes effect before the next send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from jengu_pipeline.domain.replies.model import Category
from jengu_pipeline.domain.reply_effects import next_stage
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import add_activity

STAGE_CATEGORY: Final[dict[str, Category]] = {"unsubscribe": "unsubscribe", "hard_bounce": "bounce_hard"}
"""Suppression reasons that also move the prospect's stage, by the reply rule that says how."""
UnsubscribeMethod = Literal["one_click", "confirm_page"]
EVENTS_KEPT_PER_SEND: Final = 20
"""A token POSTed again and again (a client retrying, someone replaying it) is logged this often, no more."""


@dataclass(frozen=True)
class Suppressed:
    """What suppressing an address did: whether the row is new, the stage set, the sequences stopped."""

    email: str
    new: bool
    stage: str | None = None
    stopped: int = 0


def suppress_address(  # noqa: PLR0917
    tx: Tx,
    email: str,
    reason: str,
    source: str,
    prospect_id: str | None,
    now: datetime,
) -> Suppressed:
    """Suppress ``email`` for ``reason`` (idempotent) and stop outreach to ``prospect_id``, in ``tx``.

    ``source`` says where it came from (``reply:<id>``, ``one_click:<send id>``); addresses are kept lower-case.
    Positional like the reply processing calls it (``store/replies.py``), hence the noqa.
    """
    address = email.strip().lower()
    new = bool(
        tx.fetch_all(
            "INSERT INTO suppressions (email, reason, source, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING email",
            [address, reason, source, now],
        )
    )
    if prospect_id is None:
        return Suppressed(address, new)
    if new:
        add_activity(
            tx,
            "suppressed",
            f"address suppressed: {reason}",
            prospect_id=prospect_id,
            metadata={"reason": reason, "source": source},
        )
    stage = _move_stage(tx, prospect_id, reason, source, now)
    stopped = stop_sequences(tx, prospect_id, f"{source.partition(':')[0]}:{reason}", now)
    return Suppressed(address, new, stage, stopped)


def _move_stage(tx: Tx, prospect_id: str, reason: str, source: str, now: datetime) -> str | None:
    category = STAGE_CATEGORY.get(reason)
    if category is None:
        return None
    current = tx.fetch_value("SELECT stage FROM prospects WHERE prospect_id = ?", [prospect_id])
    stage = next_stage(current, category) if current is not None else None
    if stage is None:
        return None
    tx.execute(
        "UPDATE prospects SET stage = ?, updated_at = ?, version = version + 1 WHERE prospect_id = ?",
        [stage, now, prospect_id],
    )
    add_activity(
        tx,
        "stage_changed",
        f"-> {stage} (suppressed: {reason})",
        prospect_id=prospect_id,
        metadata={"stage": stage, "reason": reason, "source": source},
    )
    return stage


def stop_sequences(tx: Tx, prospect_id: str, stop_reason: str, now: datetime) -> int:
    """Stop every running sequence of the prospect, an activity each; returns how many stopped."""
    running = [
        row[0]
        for row in tx.fetch_all(
            "SELECT campaign_id FROM campaign_members WHERE prospect_id = ? AND removed_at IS NULL"
            " AND stopped_at IS NULL ORDER BY campaign_id",
            [prospect_id],
        )
    ]
    if not running:
        return 0
    tx.execute(
        "UPDATE campaign_members SET stopped_at = ?, stop_reason = ? WHERE prospect_id = ?"
        " AND removed_at IS NULL AND stopped_at IS NULL",
        [now, stop_reason, prospect_id],
    )
    for campaign in running:
        add_activity(
            tx,
            "sequence_stopped",
            f"{campaign}: {stop_reason}",
            prospect_id=prospect_id,
            metadata={"campaign": campaign, "reason": stop_reason},
        )
    return len(running)


def suppress_by_send(tx: Tx, send_id: str, reason: str, source: str, now: datetime) -> Suppressed | None:
    """Suppress the address a send went to; None when there is no such send."""
    row = tx.fetch_one("SELECT recipient, prospect_id FROM sends WHERE send_id = ?", [send_id])
    if row is None:
        return None
    return suppress_address(tx, row[0], reason, source, row[1], now)


def unsubscribe_send(tx: Tx, send_id: str, method: UnsubscribeMethod, now: datetime) -> Suppressed | None:
    """A verified one-click (or confirmation page) unsubscribe of one send, logged without personal data."""
    done = suppress_by_send(tx, send_id, "unsubscribe", f"{method}:{send_id}", now)
    if done is not None and done.new and done.stage is None:
        prospect = tx.fetch_value("SELECT prospect_id FROM sends WHERE send_id = ?", [send_id])
        add_activity(
            tx,
            "unsubscribed",
            f"unsubscribed ({method.replace('_', ' ')})",
            prospect_id=prospect,
            metadata={"send_id": send_id, "method": method},
        )
    outcome = "unknown_send" if done is None else "suppressed" if done.new else "already_suppressed"
    logged = tx.fetch_value("SELECT count(*) FROM unsubscribe_events WHERE send_id = ?", [send_id])
    if int(logged or 0) < EVENTS_KEPT_PER_SEND:
        tx.execute(
            "INSERT INTO unsubscribe_events (send_id, method, outcome, received_at) VALUES (?, ?, ?, ?)",
            [send_id, method, outcome, now],
        )
    return done
