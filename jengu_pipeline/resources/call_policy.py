"""The call policy: how often, how fast and how many times a provider may be asked, and when an answer is
the same question's.

Pure pieces, testable without I/O: each provider's limits (`ProviderLimits`, resource config), full-jitter
backoff, ``Retry-After``, the retry budget, the circuit breaker, the token bucket, and the result cache's keys.
`calls.ProviderCaller` applies them; `call_ledger` keeps the quota, cache and call rows in the store.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import dagster as dg
from pydantic import Field

from jengu_pipeline.resources.redaction import names_a_credential

T = TypeVar("T")


class ProviderLimits(dg.Config):
    """Every limit of one provider, tunable as resource config; the defaults suit a paid JSON API."""

    daily_quota: int | None = Field(
        default=None, description="Units a UTC day, shared by every process through the store."
    )
    concurrency: int = Field(default=4, ge=1, description="Calls in flight at once in one process.")
    rate_per_second: float | None = Field(default=None, gt=0, description="Token-bucket rate; None = none.")
    burst: int = Field(default=1, ge=1, description="Token-bucket capacity.")
    timeout_seconds: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, description="Attempts per call, the first included.")
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    backoff_cap_seconds: float = Field(default=30.0, ge=0)
    max_total_wait_seconds: float = Field(default=120.0, ge=0, description="Sleep budget of one call.")
    breaker_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open the circuit.")
    breaker_cooldown_seconds: float = Field(default=60.0, ge=0)
    cache_ttl_seconds: int = Field(default=30 * 86400, description="Result cache lifetime; 0 disables it.")


def backoff_delay(retry: int, *, base: float, cap: float, draw: float) -> float:
    """Full jitter: a uniform draw under the capped exponential, so that throttled clients spread out."""
    return draw * min(cap, base * 2.0 ** min(retry, 64))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class RetryableError(Protocol):
    """What a failed attempt says about retrying (a `ProviderError` says both)."""

    @property
    def retryable(self) -> bool: ...

    @property
    def retry_after(self) -> float | None: ...


def retry_delay(
    error: RetryableError, *, attempts_made: int, waited: float, limits: ProviderLimits, draw: float
) -> float | None:
    """How long to wait before the next attempt, or None to give up (not retryable, or out of budget)."""
    if not error.retryable or attempts_made >= limits.max_attempts:
        return None
    if error.retry_after is not None:
        delay = error.retry_after
    else:
        delay = backoff_delay(
            attempts_made - 1, base=limits.backoff_base_seconds, cap=limits.backoff_cap_seconds, draw=draw
        )
    if waited + delay > limits.max_total_wait_seconds:
        return None
    return delay


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open after a cool-down (one probe) -> closed."""

    def __init__(
        self, failure_threshold: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one probe at a time."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def release(self) -> None:
        """Gives back a granted probe that never reached the provider."""
        with self._lock:
            self._probing = False

    def record(self, *, success: bool) -> None:
        with self._lock:
            self._probing = False
            if success:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._opened_at is not None or self._failures >= self._threshold:
                self._opened_at = self._clock()


class TokenBucket:
    """A token bucket that books future tokens: `reserve` says how long to wait, so callers can sleep."""

    def __init__(self, rate_per_second: float, capacity: int, now: float) -> None:
        self._rate = rate_per_second
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._last = now
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        """Takes one token and returns the seconds until it is actually available."""
        with self._lock:
            self._tokens = min(self._capacity, self._tokens + max(0.0, now - self._last) * self._rate)
            self._last = max(self._last, now)
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()


def _shared(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = build()
        value: T = _SHARED[key]
        return value


def shared_breaker(provider: str, limits: ProviderLimits) -> CircuitBreaker:
    """The process-wide breaker of a provider, so that every resource and run in a process agrees."""
    threshold, cooldown = limits.breaker_threshold, limits.breaker_cooldown_seconds
    return _shared(("breaker", provider, threshold, cooldown), lambda: CircuitBreaker(threshold, cooldown))


def shared_bucket(provider: str, limits: ProviderLimits) -> TokenBucket | None:
    """The process-wide rate limiter of a provider; None when it has no rate limit."""
    rate, burst = limits.rate_per_second, limits.burst
    if rate is None:
        return None
    return _shared(("bucket", provider, rate, burst), lambda: TokenBucket(rate, burst, time.monotonic()))


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFC", value).split())
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def cache_key(operation: str, params: Mapping[str, Any]) -> str:
    """A stable key for a request's meaning: operation + normalised params, never a credential."""
    if any(names_a_credential(name) for name in params):
        raise ValueError("cache parameters must not contain credentials")
    canonical = json.dumps(
        {"operation": operation, "params": _normalise(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"{operation}:{hashlib.sha256(canonical.encode()).hexdigest()}"
