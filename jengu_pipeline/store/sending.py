"""The send ledger and the sending controls: inboxes, claims, outcomes, the emergency stop.

The guarantees live here, in short transactions: a claim is the unique (prospect, campaign, step) row, written
and committed before any SMTP conversation, after re-checking in the same transaction the emergency stop, the
inbox's pause, the campaign's status and dates, the recipient's suppression and stage, every reply and pause of
the sequence (so that a reply stored one second before the claim wins), a follow-up's due time, and the inbox,
global and new-prospect caps counted from the ledger itself (never from counters that need a reset). A refusal
that ends the sequence or postpones the step is recorded in that same transaction, as an activity with its
reason. On PostgreSQL the claim takes a transaction-scoped advisory lock so two processes cannot both fit under
the last unit of a cap; DuckDB has one writer at a time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from jengu_pipeline.domain.campaigns import Campaign
from jengu_pipeline.domain.inboxes import InboxConfig
from jengu_pipeline.domain.reply_effects import HUMAN, STOPPING
from jengu_pipeline.domain.senders import SendingIdentity
from jengu_pipeline.domain.sending import SendingDay
from jengu_pipeline.domain.sequences import company_domain, refusal_kind
from jengu_pipeline.store.engine import StoreError, Tx
from jengu_pipeline.store.repository import EMERGENCY_STOP, CrmStore, add_activity

SendStatus = Literal["claimed", "sent", "unknown", "deferred", "bounced", "blocked", "failed"]
COUNTED_STATUSES = ("claimed", "sent", "unknown", "bounced")
"""Ledger states that may have reached a mail server: they count against today's caps."""
HELD_STATUSES = ("unknown", "blocked")
STOPPING_REPLIES = tuple(sorted(STOPPING))
SENDABLE_STAGES = ("enriched", "contacted")
"""The only prospect stages outreach goes to: any other (a reply, a bounce, an unsubscribe, or an operator moving
the prospect on to interested, meeting booked, ...) ends it; a claim re-checks, whatever the message queue says."""
RETRY_DELAYS = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4), timedelta(hours=12))
"""When a deferred send is tried again, by attempt; after the last one it is given up as failed."""
CLAIM_LOCK = 7_215_331
"""PostgreSQL advisory lock key held while claiming, so caps are counted and claimed atomically."""


@dataclass(frozen=True)
class QueuedMessage:
    """A queued message due to go, with what a send needs: recipient, text, and an existing deferred row."""

    message_id: str
    prospect_id: str
    campaign_id: str
    step: int
    subject: str
    body: str
    email: str
    first_name: str | None
    last_name: str | None
    timezone: str | None
    country: str | None
    risky: bool
    reply_to: str | None
    send_id: str | None
    pinned_inbox: str | None  # the inbox that wrote an earlier step: the thread stays with one person
    sender: SendingIdentity | None = None  # the campaign's sender, who signed the composed body
    thread: tuple[str, ...] = ()  # Message-IDs of the earlier steps as sent, oldest first
    ended_by: str | None = None  # why outreach to the prospect is over (archived, stage, suppressed), if it is
    new_prospects_cap: int | None = None  # the campaign's daily_new_prospects
    company_reply_stops: bool = False  # the campaign stops on a reply from anyone at the prospect's company


@dataclass(frozen=True)
class InboxLedger:
    """What the ledger says about one inbox: today's sends, the last one, and recent bounce flags."""

    status: str
    paused_reason: str | None
    preflight_status: str | None
    sent_today: int
    risky_sent_today: int
    last_sent_at: datetime | None
    recent_bounces: list[bool]


@dataclass(frozen=True)
class Claim:
    send_id: str
    attempt: int


class ClaimRefused(Exception):
    """Why a claim was not made; the message stays queued (or is dropped, for a suppressed recipient)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# Inboxes --------------------------------------------------------------------------------------------------


def sync_inboxes(store: CrmStore, inboxes: Sequence[InboxConfig]) -> None:
    """Upsert the configured inboxes (settings without secrets); their pause state is the store's, not the file's."""

    def upsert(tx: Tx) -> None:
        for inbox in inboxes:
            tx.execute(
                "INSERT INTO inboxes (inbox, host_provider, daily_cap, display_name, warmup_start, config)"
                " VALUES (?, ?, ?, ?, ?, CAST(? AS JSON)) ON CONFLICT (inbox) DO UPDATE SET"
                " host_provider = excluded.host_provider, daily_cap = excluded.daily_cap,"
                " display_name = excluded.display_name, warmup_start = excluded.warmup_start,"
                " config = excluded.config, updated_at = now()",
                [
                    inbox.address,
                    inbox.host_provider,
                    inbox.ceiling,
                    inbox.display_name,
                    inbox.warmup_start,
                    inbox.model_dump_json(),
                ],
            )

    store.run(upsert)


def record_preflight(store: CrmStore, inbox: str, status: str, records: list[dict[str, Any]]) -> None:
    store.run(
        lambda tx: tx.execute(
            "UPDATE inboxes SET preflight_status = ?, preflight = CAST(? AS JSON), updated_at = now() WHERE inbox = ?",
            [status, json.dumps(records), inbox],
        )
    )


def set_inbox_paused(store: CrmStore, inbox: str, paused: bool, *, reason: str, actor: str) -> bool:
    """Pause or resume one inbox; False when it already was. A resume restarts its bounce-health window."""

    def change(tx: Tx) -> bool:
        current = tx.fetch_value("SELECT status FROM inboxes WHERE inbox = ?", [inbox])
        if current is None:
            raise StoreError(f"no inbox {inbox!r} in the store (is it in inboxes.yaml, and has a tick run?)")
        wanted = "paused" if paused else "active"
        if current == wanted:
            return False
        tx.execute(
            "UPDATE inboxes SET status = ?, paused_reason = ?, version = version + 1, updated_at = now()"
            + ("" if paused else ", resumed_at = now()")
            + " WHERE inbox = ?",
            [wanted, reason if paused else None, inbox],
        )
        add_activity(
            tx,
            "inbox_paused" if paused else "inbox_resumed",
            f"inbox {inbox} {wanted} by {actor}: {reason}",
            metadata={"inbox": inbox, "actor": actor, "reason": reason},
        )
        return True

    return store.run(change)


def inbox_ledger(
    store: CrmStore, inbox: str, day_start: datetime, day_end: datetime, bounce_window: int
) -> InboxLedger:
    def read(tx: Tx) -> InboxLedger:
        row = tx.fetch_one(
            "SELECT status, paused_reason, preflight_status, resumed_at FROM inboxes WHERE inbox = ?", [inbox]
        )
        if row is None:
            raise StoreError(f"inbox {inbox!r} is not in the store")
        status, reason, preflight, resumed_at = row
        marks = ", ".join("?" for _ in COUNTED_STATUSES)
        sent, risky, last = tx.fetch_one(
            f"SELECT count(*), count(*) FILTER (WHERE risky), max(claimed_at) FROM sends WHERE inbox = ?"
            f" AND status IN ({marks}) AND claimed_at >= ? AND claimed_at < ?",
            [inbox, *COUNTED_STATUSES, day_start, day_end],
        ) or (0, 0, None)
        since, params = ("", []) if resumed_at is None else (" AND claimed_at >= ?", [resumed_at])
        recent = tx.fetch_all(
            "SELECT status = 'bounced' FROM sends WHERE inbox = ? AND status IN ('sent', 'bounced')"
            f"{since} ORDER BY claimed_at DESC LIMIT ?",
            [inbox, *params, bounce_window],
        )
        return InboxLedger(status, reason, preflight, int(sent), int(risky), last, [bool(r[0]) for r in recent])

    return store.run(read)


def sent_today_total(store: CrmStore, day_start: datetime, day_end: datetime) -> int:
    marks = ", ".join("?" for _ in COUNTED_STATUSES)
    return int(
        store.run(
            lambda tx: tx.fetch_value(
                f"SELECT count(*) FROM sends WHERE status IN ({marks}) AND claimed_at >= ? AND claimed_at < ?",
                [*COUNTED_STATUSES, day_start, day_end],
            )
        )
    )


# Emergency stop -------------------------------------------------------------------------------------------


def sending_stopped(store: CrmStore) -> bool:
    return store.emergency_stopped()


def set_sending_stopped(store: CrmStore, stopped: bool, *, actor: str) -> None:
    store.set_flag(EMERGENCY_STOP, "on" if stopped else "off", actor=actor)


# The queue and claims -------------------------------------------------------------------------------------

_QUEUE = """
SELECT m.message_id, m.prospect_id, m.campaign_id, m.step, m.subject, m.body, p.email, p.first_name, p.last_name,
       p.timezone, p.country, p.email_status = 'risky', c.definition, s.send_id,
       (SELECT t.inbox FROM sends t WHERE t.prospect_id = m.prospect_id AND t.campaign_id = m.campaign_id
        AND t.step < m.step AND t.status IN ('sent', 'unknown') ORDER BY t.step LIMIT 1),
       (SELECT string_agg(t.rfc_message_id, ' ' ORDER BY t.step) FROM sends t WHERE t.prospect_id = m.prospect_id
        AND t.campaign_id = m.campaign_id AND t.step < m.step AND t.status = 'sent'),
       p.archived, p.stage, EXISTS (SELECT 1 FROM suppressions x WHERE x.email = p.email)
FROM messages m
JOIN prospects p ON p.prospect_id = m.prospect_id
JOIN campaigns c ON c.campaign_id = m.campaign_id
LEFT JOIN campaign_members cm ON cm.campaign_id = m.campaign_id AND cm.prospect_id = m.prospect_id
LEFT JOIN sends s ON s.prospect_id = m.prospect_id AND s.campaign_id = m.campaign_id AND s.step = m.step
WHERE m.status = 'queued' AND c.status = 'active' AND c.starts_on <= ? AND c.ends_on >= ?
  AND p.email IS NOT NULL
  AND (s.send_id IS NULL OR (s.status = 'deferred' AND s.retry_at <= ?))
  AND (cm.prospect_id IS NULL OR (cm.removed_at IS NULL AND cm.stopped_at IS NULL
       AND (cm.paused_until IS NULL OR cm.paused_until <= ?)))
  AND (m.step = 1 OR (m.due_at <= ? AND EXISTS (SELECT 1 FROM sends t WHERE t.prospect_id = m.prospect_id
       AND t.campaign_id = m.campaign_id AND t.step = m.step - 1 AND t.status = 'sent')))
ORDER BY m.step DESC, m.due_at, m.created_at, m.message_id
LIMIT ?
"""


_QUEUE_FIELDS = (
    "message_id",
    "prospect_id",
    "campaign_id",
    "step",
    "subject",
    "body",
    "email",
    "first_name",
    "last_name",
    "timezone",
    "country",
    "risky",
)


def due_messages(store: CrmStore, today: date, now: datetime, limit: int) -> list[QueuedMessage]:
    """Queued messages of running campaigns with no send yet, or a deferred one whose retry time has come; a
    follow-up only once its due time has come, its previous step went out, and its sequence is neither stopped
    nor paused. Follow-ups first, the longest due first."""
    rows = store.run(lambda tx: tx.fetch_all(_QUEUE, [today, today, now, now, now, limit]))
    found = []
    campaigns: dict[str, Campaign | None] = {}
    for row in rows:
        definition = _json(row[12]) or {}
        sender = definition.get("sender") or {}
        if row[2] not in campaigns:
            campaigns[row[2]] = _campaign(definition)
        campaign = campaigns[row[2]]
        fields = dict(zip(_QUEUE_FIELDS, row[:12], strict=True))
        found.append(
            QueuedMessage(
                **fields,
                reply_to=sender.get("reply_to"),
                send_id=row[13],
                pinned_inbox=row[14],
                sender=_identity(sender),
                thread=tuple((row[15] or "").split()),
                ended_by=_ended_by(archived=row[16], stage=row[17], suppressed=row[18]),
                new_prospects_cap=campaign.daily_new_prospects if campaign else None,
                company_reply_stops=campaign.stops_on("company_reply") if campaign else False,
            )
        )
    return found


def _ended_by(*, archived: bool, stage: str, suppressed: bool) -> str | None:
    """Why outreach to this prospect is over, as the claim would say it (``_ENDED_RULES``)."""
    if archived:
        return "prospect_archived"
    if stage not in SENDABLE_STAGES:
        return f"stage_{stage}"
    return "suppressed" if suppressed else None


def _campaign(definition: dict[str, Any]) -> Campaign | None:
    try:
        return Campaign.model_validate(definition)
    except ValidationError:
        return None


def _identity(sender: dict[str, Any]) -> SendingIdentity | None:
    try:
        return SendingIdentity.model_validate(sender)
    except ValidationError:
        return None


def record_ended(store: CrmStore, items: Sequence[QueuedMessage], day: SendingDay, now: datetime) -> dict[str, str]:
    """Settle queued messages to prospects outreach is over for, without planning them: each is re-checked in
    one transaction as a claim would, its message cancelled and its sequence stopped with an activity.
    Returns message id -> reason of those settled."""

    def run(tx: Tx) -> dict[str, str]:
        settled = {}
        for item in items:
            reason = _refusal(_ClaimCheck(tx, item, "", (0, None), day, now), _ENDED_RULES)
            if reason is not None and refusal_kind(reason) == "stop":
                _record_refusal(tx, item, reason, now)
                settled[item.message_id] = reason
        return settled

    return store.run(run) if items else {}


def first_touches_claimed(store: CrmStore, campaign_id: str, day: SendingDay) -> int:
    """How many first touches of the campaign the ledger counts on this sending day."""
    marks = ", ".join("?" for _ in COUNTED_STATUSES)
    return int(
        store.run(
            lambda tx: tx.fetch_value(
                f"SELECT count(*) FROM sends WHERE campaign_id = ? AND step = 1 AND status IN ({marks})"
                " AND claimed_at >= ? AND claimed_at < ?",
                [campaign_id, *COUNTED_STATUSES, day.start, day.end],
            )
        )
    )


@dataclass(frozen=True)
class _ClaimCheck:
    """What the refusal rules read: the claim's open transaction, the message, its inbox, the caps and the day."""

    tx: Tx
    item: QueuedMessage
    inbox: str
    caps: tuple[int, int | None]
    day: SendingDay
    now: datetime


def _emergency_stop(check: _ClaimCheck) -> str | None:
    stopped = check.tx.fetch_value("SELECT value FROM flags WHERE name = ?", [EMERGENCY_STOP]) == "on"
    return "emergency_stop" if stopped else None


def _inbox_paused(check: _ClaimCheck) -> str | None:
    active = check.tx.fetch_value("SELECT status FROM inboxes WHERE inbox = ?", [check.inbox]) == "active"
    return None if active else "inbox_paused"


def _campaign_refusal(check: _ClaimCheck) -> str | None:
    """The campaign runs: active, started, not past its end date."""
    row = check.tx.fetch_one(
        "SELECT status, starts_on, ends_on FROM campaigns WHERE campaign_id = ?", [check.item.campaign_id]
    )
    if row is None:
        return "campaign_unknown"
    status, starts_on, ends_on = row
    if status == "completed":
        return "campaign_completed"
    if check.day.day > ends_on:
        return "campaign_ended"
    if status != "active":
        return f"campaign_{status}"
    return "campaign_not_started" if check.day.day < starts_on else None


def _prospect_refusal(check: _ClaimCheck) -> str | None:
    """The prospect got another address since queueing, was archived, or reached a stage outreach ends at."""
    prospect = check.tx.fetch_one(
        "SELECT email, archived, stage FROM prospects WHERE prospect_id = ?", [check.item.prospect_id]
    )
    if prospect is None or prospect[0] != check.item.email:
        return "prospect_changed"
    if prospect[1]:
        return "prospect_archived"
    return None if prospect[2] in SENDABLE_STAGES else f"stage_{prospect[2]}"


def _suppressed(check: _ClaimCheck) -> str | None:
    found = check.tx.fetch_value("SELECT count(*) FROM suppressions WHERE email = ?", [check.item.email])
    return "suppressed" if found else None


def _sequence_refusal(check: _ClaimCheck) -> str | None:
    """A stopped, removed or paused sequence."""
    member = check.tx.fetch_one(
        "SELECT stopped_at, paused_until, removed_at FROM campaign_members WHERE campaign_id = ? AND prospect_id = ?",
        [check.item.campaign_id, check.item.prospect_id],
    )
    if member is not None and member[0] is not None:
        return "sequence_stopped"
    if member is not None and member[2] is not None:
        return "member_removed"
    if member is not None and member[1] is not None and member[1] > check.now:
        return "sequence_paused"
    return None


def _already_replied(check: _ClaimCheck) -> str | None:
    """A reply that landed before this claim wins: a human reply, an unsubscribe or a bounce ends outreach."""
    marks = ", ".join("?" for _ in STOPPING_REPLIES)
    intent = check.tx.fetch_value(
        f"SELECT intent FROM replies WHERE prospect_id = ? AND intent IN ({marks}) ORDER BY received_at LIMIT 1",
        [check.item.prospect_id, *STOPPING_REPLIES],
    )
    return None if intent is None else f"reply_{intent}"


def _reply_being_processed(check: _ClaimCheck) -> str | None:
    """A reply from the prospect that is stored but not yet classified (it might be an unsubscribe)."""
    found = check.tx.fetch_value(
        "SELECT count(*) FROM replies WHERE processed_at IS NULL AND lower(from_address) = lower(?)",
        [check.item.email],
    )
    return "reply_being_processed" if found else None


def _company_reply(check: _ClaimCheck) -> str | None:
    """With ``company_reply``: a person at the prospect's company domain answered (or wrote and is not read yet)."""
    domain = company_domain(check.item.email) if check.item.company_reply_stops else None
    if domain is None:
        return None
    replies = check.tx.fetch_all(
        "SELECT processed_at IS NULL, intent FROM replies WHERE lower(split_part(from_address, '@', 2)) = ?", [domain]
    )
    if any(intent in HUMAN for _, intent in replies):
        return "company_reply"
    return "company_reply_being_processed" if any(unread for unread, _ in replies) else None


def _not_due(check: _ClaimCheck) -> str | None:
    """A follow-up goes only once its due time has come and its previous step went out."""
    item = check.item
    if item.step == 1:
        return None
    due = check.tx.fetch_value("SELECT due_at FROM messages WHERE message_id = ?", [item.message_id])
    previous = check.tx.fetch_value(
        "SELECT status FROM sends WHERE prospect_id = ? AND campaign_id = ? AND step = ?",
        [item.prospect_id, item.campaign_id, item.step - 1],
    )
    return None if due is not None and due <= check.now and previous == "sent" else "not_due"


_COUNTED_TODAY = (
    f"SELECT count(*) FROM sends WHERE status IN ({', '.join('?' for _ in COUNTED_STATUSES)})"
    " AND claimed_at >= ? AND claimed_at < ?"
)


def _counted_today(check: _ClaimCheck, where: str = "", params: Sequence[Any] = ()) -> int:
    window = [*COUNTED_STATUSES, check.day.start, check.day.end]
    return int(check.tx.fetch_value(_COUNTED_TODAY + where, [*window, *params]))


def _daily_cap(check: _ClaimCheck) -> str | None:
    return "daily_cap" if _counted_today(check, " AND inbox = ?", [check.inbox]) >= check.caps[0] else None


def _global_cap(check: _ClaimCheck) -> str | None:
    global_cap = check.caps[1]
    if global_cap is None:
        return None
    return "global_cap" if _counted_today(check) >= global_cap else None


def _new_prospects_cap(check: _ClaimCheck) -> str | None:
    """The campaign's ``daily_new_prospects``: first touches a sending day."""
    item = check.item
    if item.step != 1 or item.new_prospects_cap is None:
        return None
    started = _counted_today(check, " AND campaign_id = ? AND step = 1", [item.campaign_id])
    return "campaign_daily_new_prospects" if started >= item.new_prospects_cap else None


_REFUSAL_RULES: tuple[Callable[[_ClaimCheck], str | None], ...] = (
    _emergency_stop,
    _inbox_paused,
    _campaign_refusal,
    _prospect_refusal,
    _suppressed,
    _sequence_refusal,
    _already_replied,
    _reply_being_processed,
    _company_reply,
    _not_due,
    _daily_cap,
    _global_cap,
    _new_prospects_cap,
)
"""Why a claim may not be made now, in the order they are checked: the first rule that gives a reason wins."""
_ENDED_RULES = (_prospect_refusal, _suppressed)
"""The rules that say outreach to the prospect is over, whatever the campaign or the inbox."""


def _refusal(check: _ClaimCheck, rules: Sequence[Callable[[_ClaimCheck], str | None]] = _REFUSAL_RULES) -> str | None:
    """Why this claim may not be made now, read inside the claim's transaction."""
    for rule in rules:
        reason = rule(check)
        if reason is not None:
            return reason
    return None


def _record_refusal(tx: Tx, item: QueuedMessage, reason: str, now: datetime) -> None:
    """A refusal that ends the sequence cancels the message (and gives up a deferred send of it) and stops the
    sequence (once); one that postpones the step says why; both are activities."""
    kind = refusal_kind(reason)
    metadata = {"campaign": item.campaign_id, "step": item.step, "message_id": item.message_id, "reason": reason}
    if kind == "stop":
        tx.execute(
            "UPDATE messages SET status = 'cancelled', updated_at = ? WHERE message_id = ? AND status = 'queued'",
            [now, item.message_id],
        )
        tx.execute(
            "UPDATE sends SET status = 'failed', retry_at = NULL, smtp_response = ?, updated_at = ?"
            " WHERE prospect_id = ? AND campaign_id = ? AND step = ? AND status = 'deferred'",
            [f"not retried: the sequence stopped ({reason})", now, item.prospect_id, item.campaign_id, item.step],
        )
        running = tx.fetch_value(
            "SELECT count(*) FROM campaign_members WHERE campaign_id = ? AND prospect_id = ? AND stopped_at IS NULL",
            [item.campaign_id, item.prospect_id],
        )
        tx.execute(
            "UPDATE campaign_members SET stopped_at = ?, stop_reason = ? WHERE campaign_id = ? AND prospect_id = ?"
            " AND stopped_at IS NULL",
            [now, f"claim:{reason}", item.campaign_id, item.prospect_id],
        )
        if running or not tx.fetch_value(
            "SELECT count(*) FROM campaign_members WHERE campaign_id = ? AND prospect_id = ?",
            [item.campaign_id, item.prospect_id],
        ):
            title = f"{item.campaign_id}: step {item.step} not sent, {reason}"
            add_activity(tx, "sequence_stopped", title, prospect_id=item.prospect_id, metadata=metadata)
    elif kind == "postpone":
        title = f"{item.campaign_id}: step {item.step} postponed, {reason}"
        add_activity(tx, "sequence_postponed", title, prospect_id=item.prospect_id, metadata=metadata)


def new_send_id() -> str:
    return f"snd_{uuid.uuid4().hex}"


def claim(
    store: CrmStore,
    item: QueuedMessage,
    *,
    send_id: str,
    inbox: str,
    rfc_message_id: str,
    now: datetime,
    caps: tuple[int, int | None],
    day: SendingDay,
    claimed_by: str,
) -> Claim:
    """Write and commit the ledger row for this send; raises :class:`ClaimRefused` with the reason otherwise.

    ``send_id`` is chosen by the caller (the message already carries it); a deferred row keeps its own id. A
    refusal that stops or postpones the sequence is committed as its activity before the exception.
    """

    def run(tx: Tx) -> Claim | str:
        if tx.backend == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", [CLAIM_LOCK])
        reason = _refusal(_ClaimCheck(tx, item, inbox, caps, day, now))
        if reason is not None:
            _record_refusal(tx, item, reason, now)
            return reason
        existing = tx.fetch_one(
            "SELECT send_id, status, attempts FROM sends WHERE prospect_id = ? AND campaign_id = ? AND step = ?",
            [item.prospect_id, item.campaign_id, item.step],
        )
        if existing is None:
            attempt = 1
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, risky, status, claimed_by, claimed_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'claimed', ?, ?, ?)",
                [
                    send_id,
                    item.prospect_id,
                    item.campaign_id,
                    item.step,
                    item.message_id,
                    inbox,
                    item.email,
                    rfc_message_id,
                    item.risky,
                    claimed_by,
                    now,
                    now,
                ],
            )
        elif existing[1] == "deferred" and existing[0] == send_id:
            attempt = int(existing[2]) + 1
            tx.execute(
                "UPDATE sends SET status = 'claimed', inbox = ?, recipient = ?, rfc_message_id = ?, attempts = ?,"
                " claimed_by = ?, claimed_at = ?, retry_at = NULL, updated_at = ? WHERE send_id = ?",
                [inbox, item.email, rfc_message_id, attempt, claimed_by, now, now, send_id],
            )
        else:
            return "already_claimed"
        tx.execute(
            "INSERT INTO send_attempts (send_id, prospect_id, attempt, inbox, rfc_message_id, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [send_id, item.prospect_id, attempt, inbox, rfc_message_id, now],
        )
        return Claim(send_id, attempt)

    result = store.run(run)
    if isinstance(result, str):
        raise ClaimRefused(result)
    return result


# Outcomes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt, in ledger terms."""

    status: SendStatus
    code: int | None
    response: str
    stage: str


def record_outcome(store: CrmStore, item: QueuedMessage, claim_: Claim, outcome: Outcome, *, now: datetime) -> None:
    """Close the claim: the ledger row, the attempt, and what follows (stage, suppression, activity)."""
    retry_at = None
    status = outcome.status
    if status == "deferred":
        if claim_.attempt > len(RETRY_DELAYS):
            status = "failed"
        else:
            retry_at = now + RETRY_DELAYS[claim_.attempt - 1]

    def run(tx: Tx) -> None:
        tx.execute(
            "UPDATE sends SET status = ?, smtp_code = ?, smtp_response = ?, retry_at = ?, updated_at = ?"
            + (", sent_at = ?" if status in ("sent", "bounced") else "")
            + " WHERE send_id = ? AND status = 'claimed'",
            [
                status,
                outcome.code,
                outcome.response[:500],
                retry_at,
                now,
                *([now] if status in ("sent", "bounced") else []),
                claim_.send_id,
            ],
        )
        tx.execute(
            "UPDATE send_attempts SET outcome = ?, smtp_code = ?, smtp_response = ?, stage = ?, finished_at = ?"
            " WHERE send_id = ? AND attempt = ?",
            [outcome.status, outcome.code, outcome.response[:500], outcome.stage, now, claim_.send_id, claim_.attempt],
        )
        metadata = {
            "send_id": claim_.send_id,
            "campaign": item.campaign_id,
            "step": item.step,
            "status": status,
            "smtp_code": outcome.code,
        }
        if status == "sent":
            tx.execute(
                "UPDATE prospects SET stage = 'contacted', updated_at = now() WHERE prospect_id = ?"
                " AND stage = 'enriched'",
                [item.prospect_id],
            )
            add_activity(
                tx,
                "email_sent",
                f"step {item.step} of {item.campaign_id} sent",
                prospect_id=item.prospect_id,
                metadata=metadata,
            )
        elif status == "bounced":
            tx.execute(
                "INSERT INTO suppressions (email, reason, source) VALUES (?, 'hard_bounce', ?) ON CONFLICT DO NOTHING",
                [item.email, claim_.send_id],
            )
            tx.execute(
                "UPDATE prospects SET stage = 'bounced', updated_at = now() WHERE prospect_id = ?", [item.prospect_id]
            )
            add_activity(
                tx,
                "email_bounced",
                f"hard bounce: {outcome.response[:120]}",
                prospect_id=item.prospect_id,
                metadata=metadata,
            )
        elif status in ("unknown", "blocked", "failed"):
            add_activity(
                tx,
                f"send_{status}",
                f"step {item.step} of {item.campaign_id}: {status}",
                prospect_id=item.prospect_id,
                metadata=metadata,
            )

    store.run(run)


def stale_claims(store: CrmStore, older_than: datetime) -> int:
    """Claims whose process died between SMTP and the ledger update become ``unknown``: they may have gone out."""

    def run(tx: Tx) -> int:
        count = int(
            tx.fetch_value("SELECT count(*) FROM sends WHERE status = 'claimed' AND claimed_at < ?", [older_than])
        )
        tx.execute(
            "UPDATE sends SET status = 'unknown', smtp_response = 'claim outlived its process: may have been"
            " sent', updated_at = now() WHERE status = 'claimed' AND claimed_at < ?",
            [older_than],
        )
        return count

    return store.run(run)


def unknown_sends(store: CrmStore) -> list[tuple[str, str, list[str]]]:
    """(send id, inbox, every Message-ID it was tried under) of each send whose fate is unknown."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT s.send_id, s.inbox, a.rfc_message_id FROM sends s JOIN send_attempts a USING (send_id)"
            " WHERE s.status = 'unknown' ORDER BY s.send_id, a.attempt"
        )
    )
    found: dict[str, tuple[str, list[str]]] = {}
    for send_id, inbox, message_id in rows:
        found.setdefault(send_id, (inbox, []))[1].append(message_id)
    return [(send_id, inbox, ids) for send_id, (inbox, ids) in found.items()]


def resolve(store: CrmStore, send_id: str, *, sent: bool, actor: str, now: datetime) -> None:
    """Settle a held send (unknown or blocked): it went out, or it did not and may be retried."""

    def run(tx: Tx) -> None:
        row = tx.fetch_one("SELECT status, prospect_id, campaign_id, step FROM sends WHERE send_id = ?", [send_id])
        if row is None:
            raise StoreError(f"no send {send_id!r}")
        if row[0] not in HELD_STATUSES:
            raise StoreError(f"send {send_id} is {row[0]}, not held (unknown or blocked)")
        if sent:
            tx.execute(
                "UPDATE sends SET status = 'sent', sent_at = coalesce(sent_at, ?), updated_at = ? WHERE send_id = ?",
                [now, now, send_id],
            )
            tx.execute(
                "UPDATE prospects SET stage = 'contacted', updated_at = now() WHERE prospect_id = ?"
                " AND stage = 'enriched'",
                [row[1]],
            )
        else:
            tx.execute(
                "UPDATE sends SET status = 'deferred', retry_at = ?, updated_at = ? WHERE send_id = ?",
                [now, now, send_id],
            )
        add_activity(
            tx,
            "send_resolved",
            f"send {send_id} resolved as {'sent' if sent else 'not sent'} by {actor}",
            prospect_id=row[1],
            metadata={"send_id": send_id, "sent": sent, "actor": actor, "campaign": row[2], "step": row[3]},
        )

    store.run(run)


def sending_status(store: CrmStore) -> dict[str, Any]:
    """Stop flag, inboxes and ledger states, for ``jengu sending status``."""

    def read(tx: Tx) -> dict[str, Any]:
        inboxes = [
            dict(zip(("inbox", "status", "paused_reason", "preflight_status", "daily_cap"), row, strict=True))
            for row in tx.fetch_all(
                "SELECT inbox, status, paused_reason, preflight_status, daily_cap FROM inboxes ORDER BY inbox"
            )
        ]
        ledger = dict(tx.fetch_all("SELECT status, count(*) FROM sends GROUP BY status ORDER BY status"))
        stopped = tx.fetch_value("SELECT value FROM flags WHERE name = ?", [EMERGENCY_STOP]) == "on"
        return {"stopped": stopped, "inboxes": inboxes, "ledger": ledger}

    return store.run(read)
