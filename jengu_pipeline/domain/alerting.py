"""Alert texts and the alert throttle, without the store or the webhook.

A failing schedule fails every tick; the throttle lets at most ``limit`` alerts per key through in a window and
counts the rest, which the next alert let through then mentions, so the channel hears about a storm once an
hour instead of once a minute and nothing goes unsaid. Time is always the caller's ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

DEFAULT_LIMIT = 3
DEFAULT_WINDOW = timedelta(hours=1)
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ThrottleState:
    """One alert key's window: when it started, how many alerts went out in it, how many were held back."""

    window_start: datetime
    sent_in_window: int = 0
    suppressed: int = 0
    first_suppressed_at: datetime | None = None


@dataclass(frozen=True)
class Admission:
    """Whether this alert goes out; if so, how many held-back alerts (since when) it must mention."""

    allowed: bool
    state: ThrottleState
    held_back: int = 0
    held_back_since: datetime | None = None


def admit(
    state: ThrottleState | None, now: datetime, *, limit: int = DEFAULT_LIMIT, window: timedelta = DEFAULT_WINDOW
) -> Admission:
    """Decide one alert. A window that has run out starts afresh at ``now``; held-back counts carry over until an
    alert is let through to mention them."""
    if limit < 1:
        raise ValueError("an alert limit must allow at least one alert per window")
    current = state or ThrottleState(window_start=now)
    if now - current.window_start >= window or now < current.window_start:
        current = replace(current, window_start=now, sent_in_window=0)
    if current.sent_in_window < limit:
        sent = ThrottleState(current.window_start, current.sent_in_window + 1, 0, None)
        return Admission(True, sent, current.suppressed, current.first_suppressed_at)
    held = replace(current, suppressed=current.suppressed + 1, first_suppressed_at=current.first_suppressed_at or now)
    return Admission(False, held)


def first_line(message: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    """The first non-empty line of an error, shortened: an alert names the error, the run holds the rest."""
    for line in (message or "").splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return "(no error message)"


def with_held_back(text: str, admission: Admission) -> str:
    if not admission.held_back:
        return text
    since = admission.held_back_since.strftime("%Y-%m-%d %H:%M UTC") if admission.held_back_since else "earlier"
    return (
        f"{text}\n(+{admission.held_back} similar alert{'s' if admission.held_back > 1 else ''} held back since "
        f"{since})"
    )


def run_failure_text(job: str, run_id: str, step: str | None, error: str) -> str:
    where = f"step `{step}`" if step else "no step (the run failed before or outside its steps)"
    return f"Jengu: run of `{job}` failed at {where}: {error}\nrun id: {run_id}"


@dataclass(frozen=True)
class DigestFigures:
    """What a day looked like, from the store: everything the daily digest says."""

    start: datetime
    end: datetime
    sends: Mapping[str, int] = field(default_factory=dict)
    replies: Mapping[str, int] = field(default_factory=dict)
    bounces: int = 0
    pauses: int = 0
    paused_inboxes: tuple[str, ...] = ()
    paused_campaigns: tuple[str, ...] = ()
    inbox_use: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # inbox -> (sends today, cap)
    quota_used: Mapping[str, int] = field(default_factory=dict)
    quota_limits: Mapping[str, int] = field(default_factory=dict)
    held_back_alerts: Mapping[str, int] = field(default_factory=dict)


def _counts(counts: Mapping[str, int]) -> str:
    shown = [f"{name} {n}" for name, n in sorted(counts.items()) if n]
    return ", ".join(shown) if shown else "none"


def digest_text(figures: DigestFigures) -> str:
    """The daily digest, a few lines a person reads over coffee."""
    day = f"{figures.start:%Y-%m-%d %H:%M} to {figures.end:%Y-%m-%d %H:%M} UTC"
    quota = [
        f"{name} {used}/{figures.quota_limits[name]}" if name in figures.quota_limits else f"{name} {used}"
        for name, used in sorted(figures.quota_used.items())
    ]
    inboxes = [f"{inbox} {sent}/{cap}" for inbox, (sent, cap) in sorted(figures.inbox_use.items())]
    paused = [
        *(f"inbox {name}" for name in figures.paused_inboxes),
        *(f"campaign {name}" for name in figures.paused_campaigns),
    ]
    lines = [
        f"Jengu daily digest, {day}",
        f"sends: {sum(figures.sends.values())} ({_counts(figures.sends)})",
        f"replies: {sum(figures.replies.values())} ({_counts(figures.replies)})",
        f"hard bounces: {figures.bounces}",
        f"pauses: {figures.pauses} new; paused now: {', '.join(paused) if paused else 'nothing'}",
        f"inbox caps today: {', '.join(inboxes) if inboxes else 'no inbox'}",
        f"provider quota today: {', '.join(quota) if quota else 'none used'}",
    ]
    if any(figures.held_back_alerts.values()):
        lines.append(f"alerts held back by the throttle: {_counts(figures.held_back_alerts)}")
    return "\n".join(lines)
