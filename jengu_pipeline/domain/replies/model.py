"""What the reply classifier reads (:class:`ParsedReply`) and what it answers (:class:`ReplyClassification`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import Message
from typing import Final, Literal

Category = Literal[
    "bounce_hard", "bounce_soft", "auto_reply", "unsubscribe", "interested", "not_interested", "question", "other"
]
CATEGORIES: Final[tuple[Category, ...]] = (
    "bounce_hard",
    "bounce_soft",
    "auto_reply",
    "unsubscribe",
    "interested",
    "not_interested",
    "question",
    "other",
)
HUMAN_CATEGORIES: Final[frozenset[Category]] = frozenset({"interested", "not_interested", "question", "other"})
"""The categories a person's own reply about the offer gets; the LLM may only choose among these."""

CLASSIFIER: Final = "rules-v1"
NEW_TEXT_LIMIT: Final = 10_000


def coarse(category: str) -> str:
    """bounce / auto_reply / unsubscribe / human: the grain at which a wrong answer does real harm."""
    if category.startswith("bounce"):
        return "bounce"
    return category if category in ("auto_reply", "unsubscribe") else "human"


@dataclass(frozen=True)
class FailedRecipient:
    """One address a delivery report says failed; ``hard`` when it will never accept mail."""

    email: str
    hard: bool
    status: str | None = None
    action: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True)
class DeliveryStatus:
    """One per-recipient block of an RFC 3464 ``message/delivery-status`` part, as written."""

    final_recipient: str | None
    original_recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class ParsedReply:
    """One inbound message, decoded once, with what classification and matching need."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    from_address: str | None
    to_addresses: tuple[str, ...]
    subject: str
    date: datetime | None
    original_message_id: str | None
    original_recipients: tuple[str, ...]
    text: str
    headers: Mapping[str, str]
    from_name: str = ""
    content_type: str = "text/plain"
    report_type: str | None = None
    delivery_status: tuple[DeliveryStatus, ...] = ()
    text_from_html: bool = False
    truncated: bool = False
    """Only the first bytes (or the top levels) of an oversized message were read."""
    message: Message | None = field(default=None, compare=False, repr=False, hash=False)
    """The parsed message (bounded), for the bounce detectors that read the MIME tree themselves."""


@dataclass(frozen=True)
class ReplyClassification:
    """The classifier's answer: a category, a detail (``user_unknown``, ``referral``, ...) and what goes with it."""

    category: Category
    detail: str | None
    return_date: date | None
    failed_recipients: tuple[FailedRecipient, ...]
    new_text: str
    language: str | None
    classifier: str
    referral_address: str | None = None
    """For a referral ("please write to my colleague x@"), or a left-the-company notice naming a successor."""
    signals: tuple[str, ...] = ()
    """Which rules decided, for an operator reading a surprising answer."""
