"""A campaign's lifecycle and its health guard, pure.

``draft -> active -> paused -> completed``: an operator pauses, resumes or completes a campaign (``jengu campaign
pause|resume|complete``); the health guard pauses it by itself; its end date completes it. A completed campaign
never sends again, so completion is the one step that cannot be undone.

The guard catches bad copy on day one rather than after it has hurt the domains: a campaign pauses itself when
unsubscribes and not-interested replies pass a share of its first touches (15 % of the first 100, judged from 20),
or when its hard bounces pass the inboxes' own rule (2 % of its last 100 sends, judged from 20).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from jengu_pipeline.domain.campaigns import CampaignStatus
from jengu_pipeline.domain.inboxes import SendingRules
from jengu_pipeline.domain.sending import bounce_health
from jengu_pipeline.domain.sequences import CampaignHealthRules

CampaignAction = Literal["pause", "resume", "complete"]
_TRANSITIONS: dict[tuple[CampaignStatus, CampaignAction], CampaignStatus] = {
    ("active", "pause"): "paused",
    ("paused", "resume"): "active",
    ("draft", "complete"): "completed",
    ("active", "complete"): "completed",
    ("paused", "complete"): "completed",
}
_WHY_NOT: dict[CampaignAction, str] = {
    "pause": "only an active campaign can be paused",
    "resume": "only a paused campaign can be resumed (a draft becomes active through its file's status)",
    "complete": "a completed campaign stays completed",
}


class LifecycleError(ValueError):
    """A change the lifecycle does not allow, in words an operator can act on."""


def next_status(current: CampaignStatus, action: CampaignAction) -> CampaignStatus:
    """The status after ``action``; raises :class:`LifecycleError` when the campaign cannot go there from here."""
    target = _TRANSITIONS.get((current, action))
    if target is None:
        raise LifecycleError(f"the campaign is {current}: {_WHY_NOT[action]}")
    return target


@dataclass(frozen=True)
class CampaignHealth:
    """The guard's verdict on one campaign, with the figures behind it."""

    first_sends: int
    negatives: int
    bounces: int
    bounce_sends: int
    pause_reason: str | None

    @property
    def should_pause(self) -> bool:
        return self.pause_reason is not None


def campaign_health(
    first_sends: int,
    negatives: int,
    recent_bounces: Sequence[bool],
    rules: CampaignHealthRules,
    bounce_rules: SendingRules,
) -> CampaignHealth:
    """Judge a campaign from its first touches since it last (re)started, capped at ``rules.first_sends``, how
    many of those prospects unsubscribed or answered not interested, and hard-bounce flags of its recent sends
    (newest first)."""
    judged = min(first_sends, rules.first_sends)
    bounces = bounce_health(recent_bounces, bounce_rules)
    reason = None
    if judged >= rules.min_first_sends and negatives / judged > rules.max_negative_share:
        reason = (
            f"{negatives} unsubscribes and not-interested replies from its first {judged} prospects "
            f"({negatives / judged:.0%}, over {rules.max_negative_share:.0%})"
        )
    elif bounces.should_pause:
        reason = f"{bounces.bounces} hard bounces in its last {bounces.sends} sends ({bounces.rate:.1%})"
    return CampaignHealth(judged, negatives, bounces.bounces, bounces.sends, reason)
