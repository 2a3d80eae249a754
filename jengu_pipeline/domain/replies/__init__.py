"""The reply classifier: parse inbound bytes once, then bounce, auto-reply, unsubscribe or a person's intent."""

from jengu_pipeline.domain.replies.classify import classify_reply
from jengu_pipeline.domain.replies.model import (
    CATEGORIES,
    CLASSIFIER,
    HUMAN_CATEGORIES,
    Category,
    DeliveryStatus,
    FailedRecipient,
    ParsedReply,
    ReplyClassification,
    coarse,
)
from jengu_pipeline.domain.replies.parse import parse_reply

__all__ = [
    "CATEGORIES",
    "CLASSIFIER",
    "HUMAN_CATEGORIES",
    "Category",
    "DeliveryStatus",
    "FailedRecipient",
    "ParsedReply",
    "ReplyClassification",
    "classify_reply",
    "coarse",
    "parse_reply",
]
