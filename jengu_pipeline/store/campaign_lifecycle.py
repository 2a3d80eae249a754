"""A campaign's lifecycle in the store: pause, resume and complete, the end date, and the health guard.

Each change is one transaction with an activity naming who made it and why; completing a campaign also stops
every running sequence in it (an activity each), so nothing more is ever sent for it. The claim before every
send re-reads the campaign's status, so a pause committed here holds before the next SMTP conversation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from jengu_pipeline.domain.campaign_lifecycle import CampaignAction, CampaignHealth, campaign_health, next_status
from jengu_pipeline.domain.campaigns import CampaignStatus
from jengu_pipeline.domain.inboxes import SendingRules
from jengu_pipeline.store.campaigns import get_campaign
from jengu_pipeline.store.engine import StoreError, Tx
from jengu_pipeline.store.repository import CrmStore, add_activity

NEGATIVE_INTENTS = ("unsubscribe", "not_interested")
"""Replies the health guard counts against a campaign's copy (with one-click unsubscribes)."""
HEALTH_GUARD = "health guard"
END_DATE = "end date"


@dataclass(frozen=True)
class StatusChange:
    """What a lifecycle command did: the campaign's status before and after, and the sequences it stopped."""

    campaign_id: str
    before: CampaignStatus
    after: CampaignStatus
    stopped: int = 0


def change_status(
    store: CrmStore, campaign_id: str, action: CampaignAction, *, actor: str, reason: str, now: datetime
) -> StatusChange:
    """Pause, resume or complete a campaign; raises ``LifecycleError`` when its status does not allow it."""
    return store.run(lambda tx: _change(tx, campaign_id, action, actor=actor, reason=reason, now=now))


def _change(
    tx: Tx, campaign_id: str, action: CampaignAction, *, actor: str, reason: str, now: datetime, stop_reason: str = ""
) -> StatusChange:
    if tx.backend == "postgresql":
        tx.execute("SELECT campaign_id FROM campaign_registry WHERE campaign_id = ? FOR UPDATE", [campaign_id])
    current = tx.fetch_value("SELECT status FROM campaigns WHERE campaign_id = ?", [campaign_id])
    if current is None:
        raise StoreError(f"campaign {campaign_id!r} is not loaded (run `jengu campaign load`)")
    target = next_status(current, action)
    tx.execute(
        "UPDATE campaigns SET status = ?, status_changed_by = ?, status_changed_at = ?, status_reason = ?"
        + (", resumed_at = ?" if action == "resume" else "")
        + " WHERE campaign_id = ?",
        [target, actor, now, reason, *([now] if action == "resume" else []), campaign_id],
    )
    add_activity(
        tx,
        f"campaign_{target}" if target != "active" else "campaign_resumed",
        f"campaign {campaign_id} {current} -> {target} by {actor}: {reason}",
        metadata={"campaign": campaign_id, "from": current, "to": target, "actor": actor, "reason": reason},
    )
    stopped = _stop_running(tx, campaign_id, stop_reason or "campaign_completed", now) if target == "completed" else 0
    return StatusChange(campaign_id, current, target, stopped)


def _stop_running(tx: Tx, campaign_id: str, reason: str, now: datetime) -> int:
    """Stop every running sequence of the campaign, an activity each, and cancel its unsent messages."""
    tx.execute(
        "UPDATE messages SET status = 'cancelled', updated_at = ? WHERE campaign_id = ?"
        " AND status IN ('queued', 'awaiting_approval') AND NOT EXISTS (SELECT 1 FROM sends s"
        " WHERE s.prospect_id = messages.prospect_id AND s.campaign_id = messages.campaign_id"
        " AND s.step = messages.step AND s.status <> 'deferred')",
        [now, campaign_id],
    )
    running = [
        row[0]
        for row in tx.fetch_all(
            "SELECT prospect_id FROM campaign_members WHERE campaign_id = ? AND removed_at IS NULL"
            " AND stopped_at IS NULL ORDER BY prospect_id",
            [campaign_id],
        )
    ]
    tx.execute(
        "UPDATE campaign_members SET stopped_at = ?, stop_reason = ? WHERE campaign_id = ? AND removed_at IS NULL"
        " AND stopped_at IS NULL",
        [now, reason, campaign_id],
    )
    tx.execute_many(
        "INSERT INTO activities (prospect_id, type, title, metadata)"
        " VALUES (?, 'sequence_stopped', ?, CAST(? AS JSON))",
        [
            (prospect_id, f"{campaign_id}: {reason}", json.dumps({"campaign": campaign_id, "reason": reason}))
            for prospect_id in running
        ],
    )
    return len(running)


def complete_ended_campaigns(store: CrmStore, today: date, now: datetime) -> list[StatusChange]:
    """Complete every campaign whose ``ends_on`` is before ``today``: its sequences stop, as ``campaign_ended``."""

    def run(tx: Tx) -> list[StatusChange]:
        ended = tx.fetch_all(
            "SELECT campaign_id, ends_on FROM campaigns WHERE status <> 'completed' AND ends_on < ?"
            " ORDER BY campaign_id",
            [today],
        )
        return [
            _change(
                tx,
                campaign_id,
                "complete",
                actor=END_DATE,
                reason=f"its end date {ends_on} has passed",
                now=now,
                stop_reason="campaign_ended",
            )
            for campaign_id, ends_on in ended
        ]

    return store.run(run)


@dataclass(frozen=True)
class GuardOutcome:
    """The guard's verdict on one active campaign, and whether it paused it now."""

    campaign_id: str
    health: CampaignHealth
    paused: bool


def guard_campaigns(
    store: CrmStore, bounce_rules: SendingRules, now: datetime, *, only: str | None = None
) -> list[GuardOutcome]:
    """Judge every active campaign (or ``only`` that one) and pause those whose health says so."""

    def run(tx: Tx) -> list[GuardOutcome]:
        ids = [
            row[0]
            for row in tx.fetch_all("SELECT campaign_id FROM campaigns WHERE status = 'active' ORDER BY campaign_id")
            if only is None or row[0] == only
        ]
        outcomes = []
        for campaign_id in ids:
            health = _health(tx, campaign_id, bounce_rules)
            if health.pause_reason is not None:
                _change(tx, campaign_id, "pause", actor=HEALTH_GUARD, reason=health.pause_reason, now=now)
            outcomes.append(GuardOutcome(campaign_id, health, health.should_pause))
        return outcomes

    return store.run(run)


def _health(tx: Tx, campaign_id: str, bounce_rules: SendingRules) -> CampaignHealth:
    rules = get_campaign(tx, campaign_id).health
    resumed_at = tx.fetch_value("SELECT resumed_at FROM campaigns WHERE campaign_id = ?", [campaign_id])
    since, params = ("", []) if resumed_at is None else (" AND s.claimed_at >= ?", [resumed_at])
    first = tx.fetch_all(
        "SELECT s.prospect_id, s.recipient FROM sends s WHERE s.campaign_id = ? AND s.step = 1"
        f" AND s.status IN ('sent', 'bounced', 'unknown'){since} ORDER BY s.claimed_at, s.send_id LIMIT ?",
        [campaign_id, *params, rules.first_sends],
    )
    negatives = 0
    if first:
        marks = ", ".join("?" for _ in first)
        intents = ", ".join("?" for _ in NEGATIVE_INTENTS)
        negatives = int(
            tx.fetch_value(
                f"SELECT count(*) FROM sends s WHERE s.campaign_id = ? AND s.step = 1 AND s.prospect_id IN ({marks})"
                " AND (EXISTS (SELECT 1 FROM replies r JOIN sends t ON t.send_id = r.send_id"
                f" WHERE t.campaign_id = s.campaign_id AND t.prospect_id = s.prospect_id AND r.intent IN ({intents}))"
                " OR EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.recipient AND x.reason = 'unsubscribe'))",
                [campaign_id, *(row[0] for row in first), *NEGATIVE_INTENTS],
            )
        )
    recent = tx.fetch_all(
        "SELECT s.status = 'bounced' FROM sends s WHERE s.campaign_id = ? AND s.status IN ('sent', 'bounced')"
        f"{since} ORDER BY s.claimed_at DESC, s.send_id LIMIT ?",
        [campaign_id, *params, bounce_rules.bounce_window],
    )
    return campaign_health(len(first), negatives, [bool(row[0]) for row in recent], rules, bounce_rules)
