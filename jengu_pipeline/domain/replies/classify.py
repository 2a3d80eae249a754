"""One inbound message to one :class:`ReplyClassification`, by rules that work offline.

The order matters and is the order of harm: a delivery failure first (many bounces also carry
``Auto-Submitted``), then mail to the unsubscribe mailbox, then automatic answers, then the person's words:
an unsubscribe request before any intent.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from functools import partial

from jengu_pipeline.domain.replies.auto_replies import find_auto_reply, return_date
from jengu_pipeline.domain.replies.bounces import find_bounce, looks_like_bounce
from jengu_pipeline.domain.replies.intent import human_intent, referral_address, unsubscribe_request
from jengu_pipeline.domain.replies.model import CLASSIFIER, Category, FailedRecipient, ParsedReply, ReplyClassification
from jengu_pipeline.domain.replies.text import language_of, new_text


def classify_reply(
    parsed: ParsedReply, *, received_on: date, unsubscribe_addresses: Collection[str] = ()
) -> ReplyClassification:
    """Classify one parsed message; ``received_on`` places return dates without a year in time."""
    words = new_text(parsed.text)
    answer = partial(_answer, words, language_of(words))
    bounce = find_bounce(parsed) if looks_like_bounce(parsed) or parsed.delivery_status else None
    if bounce is not None:
        category: Category = "bounce_hard" if bounce.hard else "bounce_soft"
        return answer(category, bounce.detail, bounce.signals, failed=bounce.failed)
    if unsubscribe_addresses and set(parsed.to_addresses) & {a.lower() for a in unsubscribe_addresses}:
        return answer("unsubscribe", "mailto", ("to:unsubscribe_mailbox",))
    automatic = find_auto_reply(parsed, words)
    if automatic is not None:
        when = return_date(words, received_on) if automatic.detail == "out_of_office" else None
        successor = referral_address(words, parsed.from_address) if automatic.detail == "left_company" else None
        return answer("auto_reply", automatic.detail, automatic.signals, return_date=when, referral=successor)
    if detail := unsubscribe_request(words, parsed.subject):
        return answer("unsubscribe", detail, (f"unsubscribe:{detail}",))
    intent = human_intent(words, parsed.subject, parsed.from_address)
    return answer(intent.category, intent.detail, intent.signals, referral=intent.referral_address)


def _answer(
    words: str,
    language: str | None,
    category: Category,
    detail: str | None,
    signals: tuple[str, ...],
    *,
    return_date: date | None = None,
    failed: tuple[FailedRecipient, ...] = (),
    referral: str | None = None,
) -> ReplyClassification:
    return ReplyClassification(
        category=category,
        detail=detail,
        return_date=return_date,
        failed_recipients=failed,
        new_text=words,
        language=language,
        classifier=CLASSIFIER,
        referral_address=referral,
        signals=signals,
    )
