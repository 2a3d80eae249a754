"""Sending rules: how many messages each inbox may send on this tick, which queued messages, and when.

Pure: the clock (``now``) and chance (a ``random.Random``) are arguments, and capacity is computed from counts
the caller takes from the send ledger for the current sending day, so no counter ever needs a reset at midnight.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

import pytz

from jengu_pipeline.domain.inboxes import WEEKDAYS, InboxConfig, SendingRules, is_zone_name

SkipReason = Literal[
    "unknown_local_time",  # no zone, or a country spanning several: its local time is a guess
    "outside_business_hours",
    "global_cap",
    "random_skip",
    "inbox_unavailable",  # every inbox it may go from is paused or blocked
    "daily_cap",
    "risky_share",  # catch-all address and its inboxes' share for them is used
    "paced",  # capacity left today, but not on this tick (its share of the day, or the spacing)
]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time zone aware datetime is required, got {moment.isoformat()}")
    return moment


def warmup_cap(start: date, today: date, stages: Sequence[int], ceiling: int, stage_days: int = 7) -> int:
    """An inbox's cap on ``today``: stage by stage from ``start``, then rising by the last stage's step until the
    ceiling, since a jump from 25 to 50 a day would undo the warm-up; 0 before it starts."""
    days = (today - start).days
    if days < 0:
        return 0
    stage = days // stage_days
    if stage < len(stages):
        return min(stages[stage], ceiling)
    step = stages[-1] - stages[-2] if len(stages) > 1 else stages[-1]
    return min(stages[-1] + step * (stage - len(stages) + 1), ceiling)


def inbox_day_cap(inbox: InboxConfig, today: date, rules: SendingRules) -> int:
    """The configured inbox's cap for the sending day ``today``."""
    return warmup_cap(inbox.warmup_start, today, rules.warmup_stages, inbox.ceiling, rules.warmup_stage_days)


class SendingDay(NamedTuple):
    """The schedule's local date and its bounds in UTC: the ledger's sends between them count against today."""

    day: date
    start: datetime
    end: datetime


def sending_day(now: datetime, rules: SendingRules) -> SendingDay:
    """The sending day ``now`` falls in, in the schedule's time zone."""
    zone = ZoneInfo(rules.schedule_timezone)
    day = _aware(now).astimezone(zone).date()
    start, end = (datetime.combine(d, time(), zone).astimezone(UTC) for d in (day, day + timedelta(days=1)))
    return SendingDay(day, start, end)


def day_progress(now: datetime, rules: SendingRules) -> tuple[int, int]:
    """(the day's scheduled ticks reached by now, counting this one; the day's scheduled ticks).

    A tick by hand before the first scheduled one counts as the first; on a day without scheduled ticks it
    counts as the only one.
    """
    local = _aware(now).astimezone(ZoneInfo(rules.schedule_timezone))
    times = rules.cron.times_on(local.date())
    reached = sum(1 for moment in times if moment <= local.time())
    return (max(1, reached), len(times)) if times else (1, 1)


def prospect_zone(timezone: str | None, country: str | None, when: datetime) -> ZoneInfo | None:
    """The prospect's zone: its own IANA name, else its country's when all of that country's zones agree at
    ``when`` (Germany's two do, the United States' do not); None when the local time would be a guess."""
    name = (timezone or "").strip()
    if is_zone_name(name):
        return ZoneInfo(name)
    zones = [ZoneInfo(zone) for zone in pytz.country_timezones.get((country or "").strip().upper(), [])]
    offsets = {_aware(when).astimezone(zone).utcoffset() for zone in zones}
    return zones[0] if len(offsets) == 1 else None


def in_business_hours(when: datetime, zone: ZoneInfo, rules: SendingRules) -> bool:
    """Whether ``when`` is a business day and hour where the prospect is."""
    local = _aware(when).astimezone(zone)
    hours = rules.business_hours
    return WEEKDAYS[local.weekday()] in rules.weekdays and hours.start <= local.hour < hours.end


@dataclass(frozen=True)
class Health:
    """An inbox's hard bounces over its recent sends; judged only from ``bounce_min_sends`` sends on."""

    sends: int
    bounces: int
    rate: float
    judged: bool
    should_pause: bool


def bounce_health(recent: Sequence[bool], rules: SendingRules) -> Health:
    """Health from hard-bounce flags of the inbox's sends since it was last resumed, newest first."""
    window = recent[: rules.bounce_window]
    bounces = sum(window)
    rate = bounces / len(window) if window else 0.0
    judged = len(window) >= rules.bounce_min_sends
    return Health(len(window), bounces, rate, judged, judged and rate >= rules.bounce_pause_rate)


def inbox_block(*, paused: bool, health: Health, preflight_failed: bool, preflight_override: bool) -> str | None:
    """Why an inbox may not send now, or None. A preflight DNS could not answer is not a failure."""
    if paused:
        return "paused"
    if health.should_pause:
        return f"{health.bounces} hard bounces in its last {health.sends} sends ({health.rate:.1%})"
    if preflight_failed and not preflight_override:
        return "its sender domain fails the preflight (SPF, DKIM, DMARC or MX) and no override is set"
    return None


@dataclass(frozen=True)
class QueueItem:
    """A composed message waiting to go; ``inbox`` pins a follow-up to the inbox of its thread."""

    message_id: str
    prospect_id: str
    step: int
    risky: bool
    timezone: str | None
    country: str | None
    inbox: str | None = None

    @property
    def is_follow_up(self) -> bool:
        return self.step > 1


@dataclass(frozen=True)
class InboxState:
    """An inbox at the start of a tick: its cap for the day and what the send ledger says went out today."""

    address: str
    cap_today: int
    sent_today: int = 0
    risky_sent_today: int = 0
    last_sent_at: datetime | None = None
    bounce_rate: float = 0.0
    blocked: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.cap_today - self.sent_today)


@dataclass(frozen=True)
class Assignment:
    """Send ``item`` from ``inbox`` not before ``at`` (within this tick's window)."""

    item: QueueItem
    inbox: str
    at: datetime


@dataclass(frozen=True)
class Skip:
    """A queued message this tick leaves for a later one, and why."""

    item: QueueItem
    reason: SkipReason


@dataclass(frozen=True)
class TickPlan:
    """What one tick sends (by time) and skips; every send is due before ``window_end``, the next tick's time."""

    assignments: tuple[Assignment, ...]
    skipped: tuple[Skip, ...]
    window_end: datetime


def _gap(rules: SendingRules, rng: random.Random) -> timedelta:
    return timedelta(seconds=rules.min_gap_seconds + rng.uniform(0, rules.gap_jitter_seconds))


@dataclass
class _Lane:
    """An inbox's room during the planning of one tick."""

    address: str
    day_left: int
    tick_left: int
    risky_left: int
    next_at: datetime

    def open_for(self, item: QueueItem) -> bool:
        return self.day_left > 0 and (not item.risky or self.risky_left > 0)

    def has_slot(self, window_end: datetime) -> bool:
        return self.tick_left > 0 and self.next_at < window_end

    def take(self, item: QueueItem, rules: SendingRules, rng: random.Random) -> datetime:
        """Book the next slot for ``item``: when it goes; the slot after it is a gap plus jitter later."""
        at = self.next_at
        self.day_left -= 1
        self.tick_left -= 1
        self.risky_left -= item.risky
        self.next_at = at + _gap(rules, rng)
        return at


def _lane(
    inbox: InboxState, now: datetime, progress: tuple[int, int], rules: SendingRules, rng: random.Random
) -> _Lane:
    """The inbox's room on this tick: its share of the day so far (or all of it unpaced), its first slot."""
    reached, total = progress
    allowed = -(-inbox.cap_today * reached // total) if rules.pace_over_day else inbox.cap_today
    risky_cap = math.floor(inbox.cap_today * rules.risky_share + 1e-9)
    first = now if inbox.last_sent_at is None else max(now, _aware(inbox.last_sent_at) + _gap(rules, rng))
    tick_left, risky_left = max(0, allowed - inbox.sent_today), max(0, risky_cap - inbox.risky_sent_today)
    return _Lane(inbox.address, inbox.remaining, tick_left, risky_left, first)


def _why_not(item: QueueItem, candidates: Sequence[_Lane], window_end: datetime) -> SkipReason:
    if not candidates:
        return "inbox_unavailable"
    if all(lane.day_left <= 0 for lane in candidates):
        return "daily_cap"
    ready = [lane for lane in candidates if lane.open_for(item)]
    if not ready:
        return "risky_share"
    # a free slot it was not given falls after its business hours end
    return "outside_business_hours" if any(lane.has_slot(window_end) for lane in ready) else "paced"


def plan_tick(
    queue: Sequence[QueueItem],
    inboxes: Sequence[InboxState],
    *,
    now: datetime,
    rules: SendingRules,
    rng: random.Random,
    global_remaining: int | None = None,
) -> TickPlan:
    """Assign queued messages to inboxes for the tick starting at ``now``.

    Follow-ups go before first touches; inboxes are ranked by bounce rate then room left and taken in turn so
    the load spreads; each inbox sends only its share of the day so far (``pace_over_day``), its sends at least
    ``min_gap_seconds`` plus jitter apart and all before the next tick, so a run never outlasts its interval.
    """
    window_end = _aware(now) + timedelta(seconds=rules.cron.interval_seconds)
    progress = day_progress(now, rules)
    ranked = sorted((i for i in inboxes if i.blocked is None), key=lambda i: (i.bounce_rate, -i.remaining, i.address))
    lanes = [_lane(inbox, now, progress, rules, rng) for inbox in ranked]
    global_left = math.inf if global_remaining is None else global_remaining
    assignments: list[Assignment] = []
    skipped: list[Skip] = []
    turn = 0
    for item in sorted(queue, key=lambda queued: not queued.is_follow_up):
        zone = prospect_zone(item.timezone, item.country, now)
        reason: SkipReason
        if zone is None:
            reason = "unknown_local_time"
        elif not in_business_hours(now, zone, rules):
            reason = "outside_business_hours"
        elif global_left <= 0:
            reason = "global_cap"
        elif rng.random() < rules.skip_probability:
            reason = "random_skip"
        else:
            candidates = [lane for lane in lanes[turn:] + lanes[:turn] if item.inbox in (None, lane.address)]
            usable = (lane for lane in candidates if lane.open_for(item) and lane.has_slot(window_end))
            chosen = next((lane for lane in usable if in_business_hours(lane.next_at, zone, rules)), None)
            if chosen is None:
                reason = _why_not(item, candidates, window_end)
            else:
                assignments.append(Assignment(item, chosen.address, chosen.take(item, rules, rng)))
                global_left -= 1
                turn = (lanes.index(chosen) + 1) % len(lanes)
                continue
        skipped.append(Skip(item, reason))
    return TickPlan(tuple(sorted(assignments, key=lambda a: a.at)), tuple(skipped), window_end)
