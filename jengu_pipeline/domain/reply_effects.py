"""What a classified reply does to the prospect, its address and its sequences: the rules, without the store.

The store applies them in one transaction per reply (store/replies.py); keeping them here makes each rule a
line that can be read and tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from jengu_pipeline.domain.replies.model import Category

HUMAN: Final[frozenset[Category]] = frozenset({"interested", "not_interested", "question", "other"})
"""Replies written by a person about the offer: each stops every further step to that prospect."""
STOPPING: Final[frozenset[Category]] = HUMAN | {"bounce_hard", "unsubscribe"}
"""Replies after which the prospect gets nothing more (a soft bounce only counts, an out-of-office pauses)."""
NOTIFY: Final[frozenset[Category]] = frozenset({"interested", "question"})
"""Replies the operator hears about at once."""
DEFAULT_FORWARDED: Final[frozenset[Category]] = HUMAN

SOFT_BOUNCES_AS_HARD: Final = 3
"""Three soft bounces in a row on one address act as a hard one (a mailbox full for weeks is a dead one)."""
PAUSE_WITHOUT_DATE: Final = timedelta(days=14)
"""An out-of-office that gives no return date pauses its sequence this long."""

# Stages an operator or an earlier reply set that a reply never moves back: a booked meeting stays booked,
# and an unsubscribed or bounced address stays out whatever it says later.
_FINAL_STAGES: Final = frozenset({"meeting_booked", "unsubscribed", "bounced", "complained"})
_HUMAN_STAGE: Final[dict[Category, str]] = {
    "interested": "interested",
    "question": "replied",
    "not_interested": "not_interested",
    "other": "replied",
}


@dataclass(frozen=True)
class Effects:
    """What one reply changes; the store turns each field into rows and an activity."""

    suppress: tuple[str, ...] = ()  # addresses suppressed, with ``suppress_reason``
    suppress_reason: str | None = None
    invalid_emails: tuple[str, ...] = ()  # addresses marked invalid on their prospect
    bounce_send: bool = False  # the matched send counts as bounced in its inbox's health
    stage: str | None = None  # the prospect's new stage, when it changes
    stop_sequences: bool = False  # no further step to this prospect, in any campaign
    pause_until: datetime | None = None  # sequences wait until then (an out-of-office)


def pause_until(return_date: date | None, received_at: datetime) -> datetime:
    """An out-of-office pauses until the day after the return date (or 14 days), at midnight UTC."""
    if return_date is None:
        return received_at + PAUSE_WITHOUT_DATE
    resume = max(return_date + timedelta(days=1), received_at.date() + timedelta(days=1))
    return datetime.combine(resume, time(), tzinfo=received_at.tzinfo)


def next_stage(current: str | None, category: Category) -> str | None:
    """The prospect's stage after this reply, or None when it stays."""
    if current in _FINAL_STAGES:
        return None
    if category in ("bounce_hard",):
        target = "bounced"
    elif category == "unsubscribe":
        target = "unsubscribed"
    elif category in _HUMAN_STAGE:
        target = _HUMAN_STAGE[category]
        if current == "interested" and target == "replied":
            return None  # a later question from an interested prospect keeps them interested
    else:
        return None
    return None if target == current else target


def effects_of(
    category: Category,
    *,
    current_stage: str | None,
    recipient: str | None,
    hard_failed: tuple[str, ...],
    soft_in_a_row: dict[str, int],
    received_at: datetime,
    return_date: date | None,
) -> Effects:
    """The effects of one reply.

    ``recipient``: the matched send's address (or the prospect's) - the address an unsubscribe or a bounce
    without listed recipients is about. ``hard_failed``: the addresses the DSN reports as failed for good.
    ``soft_in_a_row``: per soft-failed address, how many soft bounces in a row it now has (this one included).
    """
    if category in ("bounce_hard", "bounce_soft"):
        escalated = tuple(sorted(email for email, count in soft_in_a_row.items() if count >= SOFT_BOUNCES_AS_HARD))
        dead = tuple(
            sorted({*hard_failed, *escalated} or ({recipient} if category == "bounce_hard" and recipient else set()))
        )
        if not dead:
            return Effects()
        about_prospect = recipient in dead if recipient else True
        return Effects(
            suppress=dead,
            suppress_reason="hard_bounce",
            invalid_emails=dead,
            bounce_send=about_prospect,
            stage=next_stage(current_stage, "bounce_hard") if about_prospect else None,
            stop_sequences=about_prospect,
        )
    if category == "auto_reply":
        return Effects(pause_until=pause_until(return_date, received_at))
    if category == "unsubscribe":
        return Effects(
            suppress=(recipient,) if recipient else (),
            suppress_reason="unsubscribe",
            stage=next_stage(current_stage, category),
            stop_sequences=True,
        )
    return Effects(stage=next_stage(current_stage, category), stop_sequences=True)
