"""Replies in the store: each inbound message kept once with its raw bytes, matched to the send it answers,
and its effects applied in one transaction with an activity.

Two steps, so that nothing read is ever lost: ``store_inbound`` commits the bytes and the mailbox position
together (a message is never read twice nor skipped), then ``process_reply`` classifies, matches and acts on
each stored message not processed yet. Processing is idempotent: ``processed_at`` is set in the same
transaction as the effects, and every effect is itself an upsert or guarded update.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jengu_pipeline.domain.replies.model import Category
from jengu_pipeline.domain.reply_effects import HUMAN, Effects, effects_of
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import add_activity
from jengu_pipeline.store.suppressions import stop_sequences, suppress_address

NEW_TEXT_LIMIT = 10_000
"""Characters of a reply's own text kept in the row (the raw bytes keep everything)."""


@dataclass(frozen=True)
class Watermark:
    """How far an IMAP folder has been read: messages with a UID above ``last_uid`` under ``uidvalidity``."""

    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Inbound:
    """One message as read from a mailbox, with the headers needed to store it before it is classified."""

    source: str
    key: str
    raw: bytes
    received_at: datetime
    message_id: str | None
    from_address: str | None
    subject: str | None


@dataclass(frozen=True)
class FailedAddress:
    email: str
    hard: bool
    status: str | None = None
    action: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What the classifier made of a stored message, and the ids it carries for matching."""

    category: Category
    detail: str | None
    return_date: date | None
    new_text: str
    classifier: str
    failed: tuple[FailedAddress, ...] = ()
    thread_ids: tuple[str, ...] = ()  # In-Reply-To first, then References newest first
    in_reply_to: str | None = None
    original_message_id: str | None = None  # a DSN's copy of our message
    to_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    send_id: str | None
    prospect_id: str | None
    matched_by: str
    recipient: str | None = None
    campaign_id: str | None = None


@dataclass
class Outcome:
    """What processing one reply did, for the asset's metadata and the demo's summary."""

    reply_id: str
    category: Category
    matched_by: str
    prospect_id: str | None
    suppressed: list[str] = field(default_factory=list)
    stopped: int = 0
    paused_until: datetime | None = None
    stage: str | None = None


def reply_id_for(raw: bytes) -> tuple[str, str]:
    """The content address of a message (its SHA-256) and the reply id derived from it."""
    digest = hashlib.sha256(raw).hexdigest()
    return digest, f"rpl_{digest[:32]}"


# Reading positions ------------------------------------------------------------------------------------------


def watermark(tx: Tx, source: str, folder: str) -> Watermark | None:
    row = tx.fetch_one(
        "SELECT uidvalidity, last_uid FROM mailbox_watermarks WHERE source = ? AND folder = ?", [source, folder]
    )
    return Watermark(int(row[0]), int(row[1])) if row else None


def set_watermark(tx: Tx, source: str, folder: str, mark: Watermark, now: datetime) -> None:
    tx.execute(
        "INSERT INTO mailbox_watermarks (source, folder, uidvalidity, last_uid, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
        " last_uid = excluded.last_uid, updated_at = excluded.updated_at",
        [source, folder, mark.uidvalidity, mark.last_uid, now],
    )


def seen_keys(tx: Tx, source: str, keys: Sequence[str]) -> set[str]:
    """Which of these Maildir file names were read before."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        found |= {
            row[0]
            for row in tx.fetch_all(
                f"SELECT item_key FROM mailbox_seen WHERE source = ? AND item_key IN ({marks})", [source, *chunk]
            )
        }
    return found


def mark_seen(tx: Tx, source: str, keys: Iterable[str], now: datetime) -> None:
    tx.execute_many(
        "INSERT INTO mailbox_seen (source, item_key, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(source, key, now) for key in keys],
    )


# Storing ----------------------------------------------------------------------------------------------------


def store_inbound(tx: Tx, message: Inbound) -> str | None:
    """Keep the message unless the same bytes or the same Message-ID are stored; returns the new reply id."""
    digest, reply_id = reply_id_for(message.raw)
    if tx.fetch_value("SELECT count(*) FROM replies WHERE raw_sha256 = ?", [digest]):
        return None
    if message.message_id and tx.fetch_value(
        "SELECT count(*) FROM replies WHERE rfc_message_id = ?", [message.message_id]
    ):
        return None
    tx.execute(
        "INSERT INTO reply_raw (sha256, size_bytes, raw) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [digest, len(message.raw), message.raw],
    )
    tx.execute(
        "INSERT INTO replies (reply_id, raw_sha256, rfc_message_id, source, source_key, from_address, subject,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            reply_id,
            digest,
            message.message_id,
            message.source,
            message.key,
            _clip(message.from_address, 320),
            _clip(message.subject, 998),
            message.received_at,
        ],
    )
    return reply_id


def unprocessed(tx: Tx, limit: int) -> list[tuple[str, bytes, datetime]]:
    """Stored messages whose effects were not applied yet, oldest first: (reply id, raw bytes, received at)."""
    rows = tx.fetch_all(
        "SELECT r.reply_id, w.raw, r.received_at FROM replies r JOIN reply_raw w"
        " ON w.sha256 = r.raw_sha256 WHERE r.processed_at IS NULL ORDER BY r.received_at, r.reply_id"
        " LIMIT ?",
        [limit],
    )
    return [(row[0], bytes(row[1]), row[2]) for row in rows]


def raw_of(tx: Tx, reply_ids: Sequence[str]) -> list[tuple[str, bytes, datetime]]:
    """The raw bytes of these replies (for reclassification), in the order given."""
    found = {}
    for reply_id in reply_ids:
        row = tx.fetch_one(
            "SELECT r.reply_id, w.raw, r.received_at FROM replies r JOIN reply_raw w"
            " ON w.sha256 = r.raw_sha256 WHERE r.reply_id = ?",
            [reply_id],
        )
        if row is not None:
            found[reply_id] = (row[0], bytes(row[1]), row[2])
    return [found[reply_id] for reply_id in reply_ids if reply_id in found]


# Matching ---------------------------------------------------------------------------------------------------

_SEND_COLUMNS = "s.send_id, s.prospect_id, s.recipient, s.campaign_id"


def _send_by_message_id(tx: Tx, message_id: str) -> tuple[Any, ...] | None:
    """The send whose Message-ID (of any attempt: a retried send goes out under a new one) this is."""
    return tx.fetch_one(
        f"SELECT {_SEND_COLUMNS} FROM sends s WHERE s.rfc_message_id = ? UNION ALL"
        f" SELECT {_SEND_COLUMNS} FROM send_attempts a JOIN sends s ON s.send_id = a.send_id"
        " WHERE a.rfc_message_id = ? LIMIT 1",
        [message_id, message_id],
    )


def match(
    tx: Tx, verdict: Verdict, from_address: str | None, subject: str | None, unsubscribe_addresses: frozenset[str]
) -> Match:
    """The send (and prospect) a message answers: by thread ids, by a DSN's original, by failed recipient, by
    the send id in an unsubscribe mail's subject, else by the sender's address; unmatched stays visible.
    """
    return (
        _match_by_message_ids(tx, verdict)
        or _match_by_recipient(tx, verdict, subject, unsubscribe_addresses)
        or _match_by_sender(tx, from_address)
        or Match(None, None, "none")
    )


def _match_by_message_ids(tx: Tx, verdict: Verdict) -> Match | None:
    for message_id in verdict.thread_ids:
        row = _send_by_message_id(tx, message_id)
        if row is not None:
            how = "in_reply_to" if message_id == verdict.in_reply_to else "references"
            return Match(row[0], row[1], how, row[2], row[3])
    if verdict.original_message_id:
        row = _send_by_message_id(tx, verdict.original_message_id)
        if row is not None:
            return Match(row[0], row[1], "dsn_original", row[2], row[3])
    return None


def _match_by_recipient(
    tx: Tx, verdict: Verdict, subject: str | None, unsubscribe_addresses: frozenset[str]
) -> Match | None:
    for failed in verdict.failed:
        row = tx.fetch_one(
            f"SELECT {_SEND_COLUMNS} FROM sends s WHERE lower(s.recipient) = ? ORDER BY s.claimed_at DESC LIMIT 1",
            [failed.email.lower()],
        )
        if row is not None:
            return Match(row[0], row[1], "failed_recipient", row[2], row[3])
    if not (subject and unsubscribe_addresses & {address.lower() for address in verdict.to_addresses}):
        return None
    for word in subject.split():
        if word.startswith("snd_"):
            row = tx.fetch_one(f"SELECT {_SEND_COLUMNS} FROM sends s WHERE s.send_id = ?", [word])
            if row is not None:
                return Match(row[0], row[1], "unsubscribe_address", row[2], row[3])
    return None


def _match_by_sender(tx: Tx, from_address: str | None) -> Match | None:
    if not from_address:
        return None
    prospect = tx.fetch_one(
        "SELECT prospect_id, email FROM prospects WHERE lower(email) = ? ORDER BY archived, updated_at DESC LIMIT 1",
        [from_address.lower()],
    )
    if prospect is None:
        return None
    send = tx.fetch_one(
        f"SELECT {_SEND_COLUMNS} FROM sends s WHERE s.prospect_id = ? ORDER BY s.claimed_at DESC LIMIT 1", [prospect[0]]
    )
    if send is not None:
        return Match(send[0], send[1], "sender", send[2], send[3])
    return Match(None, prospect[0], "sender", prospect[1])


# Acting -----------------------------------------------------------------------------------------------------


def _soft_in_a_row(tx: Tx, verdict: Verdict, reply_id: str) -> dict[str, int]:
    """Per soft-failed address of this reply, its soft bounces since its last hard one, this one included."""
    counts = {}
    for failed in verdict.failed:
        if failed.hard:
            continue
        earlier = tx.fetch_value(
            "SELECT count(*) FROM reply_failed_recipients f WHERE f.email = ? AND f.reply_id <> ? AND NOT f.hard",
            [failed.email, reply_id],
        )
        counts[failed.email] = int(earlier or 0) + 1
    return counts


def process_reply(
    tx: Tx, reply_id: str, verdict: Verdict, *, now: datetime, unsubscribe_addresses: frozenset[str] = frozenset()
) -> Outcome | None:
    """Record the verdict, match the reply and apply its effects; None when it was processed already."""
    row = tx.fetch_one("SELECT processed_at FROM replies WHERE reply_id = ?", [reply_id])
    if row is None or row[0] is not None:
        return None
    return _record_and_act(tx, reply_id, verdict, now, unsubscribe_addresses)


def record_reclassification(
    tx: Tx, reply_id: str, verdict: Verdict, *, now: datetime, unsubscribe_addresses: frozenset[str] = frozenset()
) -> str | None:
    """Replace a processed reply's classification and apply the new one's effects; returns the old category.

    Effects are only ever added: a suppression or a stop made under the old category stays.
    """
    old = tx.fetch_value("SELECT intent FROM replies WHERE reply_id = ?", [reply_id])
    tx.execute("DELETE FROM reply_failed_recipients WHERE reply_id = ?", [reply_id])
    outcome = _record_and_act(tx, reply_id, verdict, now, unsubscribe_addresses, announce=False)
    if old != verdict.category and outcome.prospect_id:
        add_activity(
            tx,
            "reply_reclassified",
            f"reply {old} -> {verdict.category}",
            prospect_id=outcome.prospect_id,
            metadata={"reply_id": reply_id, "from": old, "to": verdict.category, "classifier": verdict.classifier},
        )
    return str(old) if old is not None else None


def _record_and_act(
    tx: Tx,
    reply_id: str,
    verdict: Verdict,
    now: datetime,
    unsubscribe_addresses: frozenset[str],
    *,
    announce: bool = True,
) -> Outcome:
    from_address, subject, received_at = tx.fetch_one(
        "SELECT from_address, subject, received_at FROM replies WHERE reply_id = ?", [reply_id]
    ) or (None, None, now)
    found = match(tx, verdict, from_address, subject, unsubscribe_addresses)
    tx.execute(
        "UPDATE replies SET intent = ?, detail = ?, return_date = ?, new_text = ?, classifier = ?,"
        " classified_at = ?, matched_by = ?, processed_at = ? WHERE reply_id = ?",
        [
            verdict.category,
            _clip(verdict.detail, 200),
            verdict.return_date,
            _clip(verdict.new_text, NEW_TEXT_LIMIT),
            verdict.classifier,
            now,
            found.matched_by,
            now,
            reply_id,
        ],
    )
    # Only when the match changed: DuckDB rewrites a row whose indexed columns are set, which its foreign keys
    # (the failed recipients of a bounce being classified again) refuse even for the same values.
    tx.execute(
        "UPDATE replies SET prospect_id = ?, send_id = ? WHERE reply_id = ?"
        " AND (prospect_id IS DISTINCT FROM ? OR send_id IS DISTINCT FROM ?)",
        [found.prospect_id, found.send_id, reply_id, found.prospect_id, found.send_id],
    )
    tx.execute_many(
        "INSERT INTO reply_failed_recipients (reply_id, email, hard, status, action, diagnostic)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (reply_id, failed.email.lower(), failed.hard, failed.status, failed.action, _clip(failed.diagnostic, 500))
            for failed in verdict.failed
        ],
    )
    outcome = Outcome(reply_id, verdict.category, found.matched_by, found.prospect_id)
    stage = (
        tx.fetch_value("SELECT stage FROM prospects WHERE prospect_id = ?", [found.prospect_id])
        if found.prospect_id
        else None
    )
    recipient = found.recipient or (
        from_address.lower() if from_address and verdict.category == "unsubscribe" else None
    )
    effects = effects_of(
        verdict.category,
        current_stage=stage,
        recipient=recipient,
        hard_failed=tuple(f.email.lower() for f in verdict.failed if f.hard),
        soft_in_a_row=_soft_in_a_row(tx, verdict, reply_id),
        received_at=received_at,
        return_date=verdict.return_date,
    )
    _apply(tx, effects, found, reply_id=reply_id, verdict=verdict, now=now, outcome=outcome)
    if found.prospect_id and announce:
        title = f"reply: {verdict.category}" + (f" ({verdict.detail})" if verdict.detail else "")
        add_activity(
            tx,
            "reply_received",
            title,
            prospect_id=found.prospect_id,
            metadata={
                "reply_id": reply_id,
                "category": verdict.category,
                "detail": verdict.detail,
                "matched_by": found.matched_by,
                "send_id": found.send_id,
            },
        )
    return outcome


def _apply(
    tx: Tx, effects: Effects, found: Match, *, reply_id: str, verdict: Verdict, now: datetime, outcome: Outcome
) -> None:
    prospect = found.prospect_id
    for email in effects.suppress:
        owner = prospect if email == found.recipient else _prospect_of(tx, email)
        done = suppress_address(tx, email, effects.suppress_reason or verdict.category, f"reply:{reply_id}", owner, now)
        outcome.suppressed.append(email)
        outcome.stopped += done.stopped
        if owner == prospect and done.stage:
            outcome.stage = done.stage
    for email in effects.invalid_emails:
        tx.execute(
            "UPDATE prospects SET email_status = 'invalid', updated_at = ? WHERE lower(email) = ?"
            " AND email_status IS DISTINCT FROM 'invalid'",
            [now, email],
        )
    if effects.bounce_send and found.send_id:
        tx.execute(
            "UPDATE sends SET status = 'bounced', smtp_response = ?, updated_at = ? WHERE send_id = ?"
            " AND status = 'sent'",
            [f"late DSN {reply_id}: {verdict.detail or ''}"[:500], now, found.send_id],
        )
    if prospect is None:
        return
    if effects.stage and effects.stage != tx.fetch_value(
        "SELECT stage FROM prospects WHERE prospect_id = ?", [prospect]
    ):
        tx.execute(
            "UPDATE prospects SET stage = ?, updated_at = ?, version = version + 1 WHERE prospect_id = ?",
            [effects.stage, now, prospect],
        )
        add_activity(
            tx,
            "stage_changed",
            f"-> {effects.stage} (reply {verdict.category})",
            prospect_id=prospect,
            metadata={"reply_id": reply_id, "stage": effects.stage},
        )
        outcome.stage = effects.stage
    if effects.stop_sequences:
        outcome.stopped += stop_sequences(tx, prospect, f"reply:{verdict.category}", now)
        if verdict.category in HUMAN and found.campaign_id:
            outcome.stopped += _stop_company(tx, prospect, found.campaign_id, now)
    if effects.pause_until is not None:
        tx.execute(
            "UPDATE campaign_members SET paused_until = ? WHERE prospect_id = ? AND removed_at IS NULL"
            " AND stopped_at IS NULL AND (paused_until IS NULL OR paused_until < ?)",
            [effects.pause_until, prospect, effects.pause_until],
        )
        add_activity(
            tx,
            "sequence_paused",
            f"out of office until {effects.pause_until:%Y-%m-%d}",
            prospect_id=prospect,
            metadata={"reply_id": reply_id, "until": effects.pause_until.isoformat()},
        )
        outcome.paused_until = effects.pause_until


def _prospect_of(tx: Tx, email: str) -> str | None:
    return tx.fetch_value("SELECT prospect_id FROM prospects WHERE lower(email) = ? ORDER BY archived LIMIT 1", [email])


def _stop_company(tx: Tx, prospect: str, campaign_id: str, now: datetime) -> int:
    """When the campaign stops on a company reply, stop the sequences of everyone at the same company domain."""
    definition = tx.fetch_value("SELECT definition FROM campaigns WHERE campaign_id = ?", [campaign_id])
    stops = json.loads(definition) if isinstance(definition, str) else (definition or {})
    if "company_reply" not in _stop_conditions(stops):
        return 0
    domain = tx.fetch_value("SELECT lower(split_part(email, '@', 2)) FROM prospects WHERE prospect_id = ?", [prospect])
    if not domain:
        return 0
    colleagues = [
        row[0]
        for row in tx.fetch_all(
            "SELECT m.prospect_id FROM campaign_members m JOIN prospects p ON p.prospect_id = m.prospect_id"
            " WHERE m.campaign_id = ? AND m.prospect_id <> ? AND lower(split_part(p.email, '@', 2)) = ?"
            " AND m.removed_at IS NULL AND m.stopped_at IS NULL",
            [campaign_id, prospect, domain],
        )
    ]
    return sum(stop_sequences(tx, colleague, "company_reply", now) for colleague in colleagues)


def _stop_conditions(definition: dict[str, Any]) -> set[str]:
    """Every stop condition the campaign or any of its steps lists."""
    found = set(definition.get("stop_on") or ())
    for step in definition.get("steps") or ():
        found |= set(step.get("stop_on") or ())
    return found


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


@dataclass(frozen=True)
class Handoff:
    """A processed human reply that a person should see: what the notification and the forward say."""

    reply_id: str
    category: str
    detail: str | None
    from_address: str | None
    subject: str | None
    new_text: str | None
    prospect_id: str | None
    inbox: str | None
    sent_subject: str | None
    sent_body: str | None


HANDOFF_COLUMNS = {"notified_at", "forwarded_at"}


def pending_handoffs(tx: Tx, column: str, categories: Sequence[str], limit: int = 200) -> list[Handoff]:
    """Processed replies of these categories not yet notified (``notified_at``) or forwarded (``forwarded_at``)."""
    if column not in HANDOFF_COLUMNS or not categories:
        return []
    rows = tx.fetch_all(
        "SELECT r.reply_id, r.intent, r.detail, r.from_address, r.subject, r.new_text, r.prospect_id, s.inbox,"
        " m.subject, m.body FROM replies r LEFT JOIN sends s ON s.send_id = r.send_id"
        " LEFT JOIN messages m ON m.message_id = s.message_id"
        f" WHERE r.processed_at IS NOT NULL AND r.{column} IS NULL"
        f" AND r.intent IN ({', '.join('?' for _ in categories)}) ORDER BY r.received_at, r.reply_id LIMIT ?",
        [*categories, limit],
    )
    return [Handoff(*row) for row in rows]


def claim_handoff(tx: Tx, column: str, reply_id: str, now: datetime) -> bool:
    """Mark the reply notified or forwarded before doing it, so two passes never both do it (at most once)."""
    if column not in HANDOFF_COLUMNS:
        raise ValueError(f"not a hand-off column: {column}")
    return bool(
        tx.fetch_all(
            f"UPDATE replies SET {column} = ? WHERE reply_id = ? AND {column} IS NULL RETURNING reply_id",
            [now, reply_id],
        )
    )


def release_handoff(tx: Tx, column: str, reply_id: str) -> None:
    """Undo a claim whose delivery was refused outright, so the next pass tries again."""
    if column not in HANDOFF_COLUMNS:
        raise ValueError(f"not a hand-off column: {column}")
    tx.execute(f"UPDATE replies SET {column} = NULL WHERE reply_id = ?", [reply_id])
