"""Run-time state shared by the sandbox's HTTP and SMTP servers: faults, call counters, quotas.

One ``SandboxState`` lives per running sandbox. The servers mutate it on their event-loop
thread; tests and benchmarks read and reconfigure it from other threads (or over HTTP at
``/_sandbox/stats`` and ``/_sandbox/config``), hence the lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from jengu_pipeline.sandbox.web import SearchIndex, Sites
from jengu_pipeline.sandbox.world import World
from jengu_pipeline.sandbox.writer import Writer

PROVIDERS = (
    "brave",
    "google_cse",
    "duckduckgo",
    "searxng",
    "millionverifier",
    "openai",
    "anthropic",
    "hunter",
    "webhook",
    "site",
    "smtp",
)


@dataclass
class Faults:
    """Misbehaviour injected into one provider; the defaults are a perfect provider.

    ``forbidden`` makes the provider refuse the account the way it documents it (SearXNG: JSON
    output disabled, 403; Google: API not enabled; OpenAI: region not supported; ...).
    For SMTP only ``latency_ms`` and ``error_rate`` (a 451 at RCPT) apply.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_per_s: int = 0
    daily_quota: int | None = None
    malformed_rate: float = 0.0
    forbidden: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault option {name!r}; known: {sorted(known)}")
            setattr(self, name, _checked(name, value))


FAULT_OPTIONS = tuple(f.name for f in fields(Faults))


def _checked(name: str, value: Any) -> Any:
    """Validate one fault option so a typo in a test fails loudly instead of doing nothing."""
    if name == "forbidden":
        if not isinstance(value, bool):
            raise ValueError("forbidden must be true or false")
        return value
    if name == "daily_quota" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if name.endswith("_rate") and not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return float(value) if name in {"latency_ms", "error_rate", "malformed_rate"} else int(value)


@dataclass
class _Usage:
    calls: int = 0
    paid: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    window: int = 0
    window_calls: int = 0
    day: str = ""
    used_today: int = 0


class SandboxState:
    """Faults, counters, quotas and alerts of one running sandbox, plus the world it serves."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.search = SearchIndex(world)
        self.sites = Sites(world)
        self.writer = Writer(world)
        self.faults = {name: Faults() for name in PROVIDERS}
        self._rng = random.Random(world.seed)
        self._lock = threading.Lock()
        self._usage = {name: _Usage() for name in PROVIDERS}
        self._alerts: list[dict[str, Any]] = []

    def configure(self, options: dict[str, Any]) -> None:
        """Apply fault options: ``{"brave": {"daily_quota": 5}}`` for one provider, a bare field for all."""
        with self._lock:
            for key, value in options.items():
                if key in self.faults:
                    if not isinstance(value, dict):
                        raise ValueError(f"options for {key} must be an object")
                    self.faults[key].update(value)
                elif key in FAULT_OPTIONS:
                    for faults in self.faults.values():
                        faults.update({key: value})
                else:
                    raise ValueError(f"unknown provider or fault option {key!r}")

    def config(self) -> dict[str, Any]:
        with self._lock:
            return {name: asdict(faults) for name, faults in self.faults.items()}

    def chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def throttled(self, provider: str) -> bool:
        """Whether this call breaks the per-second limit (fixed one-second windows); if not, it counts."""
        limit = self.faults[provider].rate_limit_per_s
        if not limit:
            return False
        window = int(time.monotonic())
        with self._lock:
            usage = self._usage[provider]
            if window != usage.window:
                usage.window, usage.window_calls = window, 0
            if usage.window_calls >= limit:
                return True
            usage.window_calls += 1
        return False

    def _today(self, usage: _Usage) -> _Usage:
        today = datetime.now(UTC).date().isoformat()
        if usage.day != today:
            usage.day, usage.used_today = today, 0
        return usage

    def used_today(self, provider: str) -> int:
        with self._lock:
            return self._today(self._usage[provider]).used_today

    def remaining(self, provider: str) -> int | None:
        """Paid calls left today, or None when the provider has no quota."""
        quota = self.faults[provider].daily_quota
        return None if quota is None else max(0, quota - self.used_today(provider))

    def record(self, provider: str, outcome: str, *, paid: bool = False, quota_use: bool = False) -> None:
        with self._lock:
            usage = self._today(self._usage[provider])
            usage.calls += 1
            usage.outcomes[outcome] += 1
            usage.paid += paid
            usage.used_today += quota_use

    def add_alert(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self._alerts.append(alert)

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._alerts)

    def stats(self) -> dict[str, Any]:
        """Calls per provider and per outcome, paid calls, and today's quota use: JSON-ready."""
        with self._lock:
            return {
                "sandbox": True,
                "providers": {
                    name: {
                        "calls": usage.calls,
                        "paid": usage.paid,
                        "used_today": self._today(usage).used_today,
                        "outcomes": dict(sorted(usage.outcomes.items())),
                    }
                    for name, usage in self._usage.items()
                },
                "alerts": len(self._alerts),
            }

    def reset(self, *, faults: bool = False) -> None:
        """Forget counters, quota use and alerts (and the faults too if asked), e.g. between tests."""
        with self._lock:
            self._usage = {name: _Usage() for name in PROVIDERS}
            self._alerts.clear()
            if faults:
                self.faults = {name: Faults() for name in PROVIDERS}
