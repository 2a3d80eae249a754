"""The one call mechanism every provider client goes through.

Paid and rate-limited providers fail in the same few ways (throttling, outages, exhausted
quotas), so rate limiting, the cross-process daily quota, retries, the circuit breaker, the
result cache and the call ledger live here once instead of in each client. The pure pieces
(backoff, Retry-After, breaker, token bucket, cache keys, redaction) are plain functions and
classes so that they can be tested without I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

import dagster as dg
import httpx
from pydantic import Field

from jengu_pipeline.store.repository import CacheEntry, CallRecord

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item")

# --------------------------------------------------------------------------------------------
# Redaction


_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_KEY_PARAMS = r"(?:api|api_key|apikey|key|token|access_token|secret|password)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value pairs that carry keys (MillionVerifier `api=`, Google `key=`, Hunter `api_key=`).
    (re.compile(rf"(?i)(?<![\w.\-])({_KEY_PARAMS}=)[^&#\s\"']+"), r"\1***"),
    # Credential headers, as printed by a repr or a log line.
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|x-subscription-token)([\"']?\s*[:=]\s*[\"']?)"
            r"((?:bearer|basic)\s+)?[^\s\"',}]+"
        ),
        r"\1\2\3***",
    ),
    # Key shapes of the LLM vendors, wherever they appear.
    (re.compile(r"\b(?:sk-ant|sk|xai)-[A-Za-z0-9_\-]{8,}"), "***"),
    # Incoming webhook URLs are bearer credentials in their path.
    (re.compile(r"(?i)(hooks\.slack\.com/services/|/api/webhooks/|/hooks/)[^\s\"'<>]+"), r"\1***"),
    # Email addresses, raw or percent-encoded: keep the first character and the domain.
    (re.compile(r"([\w+\-])[\w.+\-]*(@|%40)([\w\-]+(?:\.[\w\-]+)+)"), r"\1***\2\3"),
)


def register_secret(value: str) -> None:
    """Remembers a configured secret so that `redact` masks it even where no pattern would."""
    if len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.update({value, quote(value, safe="")})


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Masks API keys (URLs, headers, registered values) and shortens emails to ``z***@domain``."""
    with _SECRETS_LOCK:
        known = sorted({*_SECRETS, *(s for s in secrets if len(s) >= 6)}, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites records through `redact`: httpx logs every request URL, keys and addresses included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def redacting_logger(name: str) -> logging.Logger:
    """A logger whose own records are redacted (filters do not reach records of child loggers)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


for _name in ("httpx", "httpcore"):
    redacting_logger(_name)
log = redacting_logger(__name__)

# --------------------------------------------------------------------------------------------
# Outcomes and errors


class Outcome(StrEnum):
    """Labels of the `provider_calls` ledger; one row per attempt, cache hit or refusal."""

    OK = "ok"
    CACHE_HIT = "cache_hit"
    QUOTA_EXHAUSTED = "quota_exhausted"
    BREAKER_OPEN = "breaker_open"
    ERROR_429 = "error_429"
    ERROR_5XX = "error_5xx"
    TIMEOUT = "timeout"
    TRANSPORT_ERROR = "transport_error"
    BAD_RESPONSE = "bad_response"
    UNAVAILABLE = "unavailable"
    CONFIG_ERROR = "config_error"
    CLIENT_ERROR = "client_error"


# Outcomes that say the provider itself is unwell: they feed the circuit breaker.
PROVIDER_FAULTS = frozenset(
    {
        Outcome.ERROR_429,
        Outcome.ERROR_5XX,
        Outcome.TIMEOUT,
        Outcome.TRANSPORT_ERROR,
        Outcome.BAD_RESPONSE,
        Outcome.UNAVAILABLE,
    }
)


class ProviderError(Exception):
    """A provider call that produced no usable answer; the message is always redacted."""

    def __init__(
        self,
        provider: str,
        operation: str,
        outcome: Outcome,
        detail: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.outcome = outcome
        self.detail = redact(detail)
        self.retryable = retryable
        self.retry_after = retry_after
        suffix = f": {self.detail}" if self.detail else ""
        super().__init__(f"{provider} {operation} {outcome.value}{suffix}")


class QuotaExhausted(ProviderError):
    """No quota left today (ours or the provider's): stop the batch and keep the rest pending."""

    def __init__(self, provider: str, operation: str, detail: str = "") -> None:
        super().__init__(provider, operation, Outcome.QUOTA_EXHAUSTED, detail)


class BreakerOpen(ProviderError):
    """The provider failed repeatedly and is being left alone for its cool-down."""

    def __init__(self, provider: str, operation: str) -> None:
        super().__init__(provider, operation, Outcome.BREAKER_OPEN, "circuit open after repeated failures")


class ProviderConfigError(ProviderError):
    """A wrong key, a disabled API or server setting: an operator must act, retrying cannot help."""

    def __init__(self, provider: str, operation: str, detail: str = "") -> None:
        super().__init__(provider, operation, Outcome.CONFIG_ERROR, detail)


def combined_error(provider: str, operation: str, errors: Sequence[ProviderError]) -> ProviderError:
    """One error for a chain of providers that all failed: quota exhausted only if every one was."""
    if not errors:
        return ProviderConfigError(provider, operation, "no provider configured")
    detail = "; ".join(str(error) for error in errors)
    if all(isinstance(error, QuotaExhausted) for error in errors):
        return QuotaExhausted(provider, operation, detail)
    return ProviderError(provider, operation, Outcome.UNAVAILABLE, detail)


# --------------------------------------------------------------------------------------------
# Pure pieces: backoff, Retry-After, breaker, token bucket, cache keys


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


def retry_delay(
    error: ProviderError, *, attempts_made: int, waited: float, limits: ProviderLimits, draw: float
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


_SECRET_PARAM = re.compile(rf"(?i)^{_KEY_PARAMS}$|authorization")


def cache_key(operation: str, params: Mapping[str, Any]) -> str:
    """A stable key for a request's meaning: operation + normalised params, never a credential."""
    if any(_SECRET_PARAM.search(name) for name in params):
        raise ValueError("cache parameters must not contain credentials")
    canonical = json.dumps(
        {"operation": operation, "params": _normalise(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"{operation}:{hashlib.sha256(canonical.encode()).hexdigest()}"


# --------------------------------------------------------------------------------------------
# The caller


class CallStore(Protocol):
    """The part of the CRM store the call mechanism needs (quota, cache, ledger)."""

    def reserve_quota_block(self, provider: str, units: int, daily_limit: int, *, block: int) -> int: ...

    def release_quota(self, provider: str, units: int) -> None: ...

    def cache_get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]: ...

    def record_calls(self, calls: Sequence[CallRecord], entries: Sequence[CacheEntry]) -> None: ...


def _always(_: Any) -> bool:
    return True


async def _in_store(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a (blocking, short) store transaction off the event loop."""
    return await asyncio.to_thread(work, *args, **kwargs)


@dataclass
class CostMeter:
    """Units providers charged for the calls made inside one `metered()` block (cache hits cost nothing)."""

    units: int = 0
    calls: int = 0


_METER: ContextVar[CostMeter | None] = ContextVar("jengu_cost_meter", default=None)


@contextmanager
def metered() -> Iterator[CostMeter]:
    """Counts what the calls awaited in this block (in this task) cost, e.g. one verification's price."""
    meter = CostMeter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


class GroupCommit(Generic[Item, R]):
    """Coalesces concurrent store work into one transaction: while one batch is being written, the next
    items queue and go together in the following one.

    A store transaction costs a connection and a commit (tens of milliseconds on a DuckDB file), so doing
    one per provider call would cap every provider at a few dozen calls a second; grouped, the cost is
    shared by every call in flight. Each item's caller waits for its own batch, so nothing is
    acknowledged before it is durable.
    """

    def __init__(self, handle: Callable[[list[Item]], Sequence[R]]) -> None:
        self._handle = handle
        self._queue: list[tuple[Item, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await asyncio.to_thread(self._handle, [item for item, _ in batch])
            except Exception as error:  # every waiter of the batch sees the store's own error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


Keep = tuple[str, Callable[[Any], bool]]
"""A cacheable call's cache key, and which of its answers are worth keeping."""


class ProviderCaller:
    """Runs one provider's calls: cache, single flight, concurrency, rate, breaker, quota, retries, ledger.

    Results must be JSON values (they go to the store's cache). The breaker and the token bucket
    are shared by every caller of the same provider in the process; the quota is shared by all
    processes through the store, reserved before each attempt so that it can never be exceeded.
    Store reads and writes of concurrent calls are grouped into shared transactions (`GroupCommit`);
    quota is reserved in small blocks and what is left of a block is given back by `aclose`.
    """

    def __init__(
        self,
        name: str,
        store: CallStore,
        limits: ProviderLimits | None = None,
        *,
        cost_units: int = 1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        breaker: CircuitBreaker | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.name = name
        self.store = store
        self.limits = limits or ProviderLimits()
        self.cost_units = cost_units
        self.breaker = breaker or shared_breaker(name, self.limits)
        self._bucket = bucket or shared_bucket(name, self.limits)
        self._sleep = sleep
        self._clock = clock
        self._draw = draw
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        self._key_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._held_units = 0
        self._held_lock = threading.Lock()

    async def execute(
        self,
        operation: str,
        attempt: Callable[[], Awaitable[Any]],
        *,
        cache_params: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        cacheable: Callable[[Any], bool] = _always,
        cost_of: Callable[[Any], int] | None = None,
    ) -> Any:
        """Answers from the cache, else runs `attempt` under every limit, retrying transient failures.

        `cost_of` prices an answer when the provider does not charge a flat rate (MillionVerifier gives
        `unknown` for free); units reserved but not charged stay with this caller for its next calls.
        """
        if cache_params is None or self.limits.cache_ttl_seconds <= 0:
            return await self._with_retries(operation, attempt, batch_id, cost_of, None)
        key = cache_key(operation, cache_params)
        lock = self._key_locks.get(key)
        if lock is None:
            lock = self._key_locks[key] = asyncio.Lock()
        async with lock:  # the same question asked twice at once is paid once
            hit = await self._state().reads.submit(key)
            if hit is not None:
                await self._record(operation, Outcome.CACHE_HIT, 0.0, 0, batch_id)
                return hit
            return await self._with_retries(operation, attempt, batch_id, cost_of, (key, cacheable))

    async def aclose(self) -> None:
        """Give back quota reserved for calls this caller will no longer make."""
        with self._held_lock:
            units, self._held_units = self._held_units, 0
        if units:
            await _in_store(self.store.release_quota, self.name, units)

    async def _with_retries(
        self,
        operation: str,
        attempt: Callable[[], Awaitable[Any]],
        batch_id: str | None,
        cost_of: Callable[[Any], int] | None,
        keep: Keep | None,
    ) -> Any:
        attempts_made, waited = 0, 0.0
        while True:
            try:
                return await self._attempt(operation, attempt, batch_id, cost_of, keep)
            except ProviderError as error:
                attempts_made += 1
                delay = retry_delay(
                    error, attempts_made=attempts_made, waited=waited, limits=self.limits, draw=self._draw()
                )
                if delay is None:
                    raise
                log.warning("%s; retry %d/%d in %.2fs", error, attempts_made, self.limits.max_attempts - 1, delay)
                await self._sleep(delay)
                waited += delay

    async def _attempt(
        self,
        operation: str,
        attempt: Callable[[], Awaitable[Any]],
        batch_id: str | None,
        cost_of: Callable[[Any], int] | None,
        keep: Keep | None,
    ) -> Any:
        """One try under the limits. A paid answer is committed (ledger row and cache entry together) before
        its concurrency slot is freed, so a process killed at any moment loses at most the answers of the
        calls in flight; a failure's ledger row is written after the slot is freed."""
        units = self.cost_units
        failure: ProviderError | None = None
        async with self._state().semaphore:
            if self._bucket is not None:
                wait = self._bucket.reserve(self._clock())
                if wait > 0:
                    await self._sleep(wait)
            if not self.breaker.allow():
                outcome, latency, units, failure = Outcome.BREAKER_OPEN, 0.0, 0, BreakerOpen(self.name, operation)
            else:
                try:
                    granted = await self._reserve(units)
                except BaseException:
                    self.breaker.release()
                    raise
                if not granted:
                    self.breaker.release()
                    detail = f"daily quota of {self.limits.daily_quota} units used"
                    outcome, latency, units = Outcome.QUOTA_EXHAUSTED, 0.0, 0
                    failure = QuotaExhausted(self.name, operation, detail)
                else:
                    started = self._clock()
                    try:
                        value = await attempt()
                        outcome = Outcome.OK
                    except ProviderError as error:
                        self.breaker.record(success=error.outcome not in PROVIDER_FAULTS)
                        outcome, failure = error.outcome, error
                    except BaseException:
                        self.breaker.release()
                        raise
                    else:
                        self.breaker.record(success=True)
                        units = self._charge(units, value, cost_of)
                    latency = (self._clock() - started) * 1000
                    if failure is None:
                        entry = None
                        if keep is not None and keep[1](value):
                            entry = CacheEntry(self.name, keep[0], value, self.limits.cache_ttl_seconds)
                        await self._record(operation, outcome, latency, units, batch_id, entry=entry)
                        return value
        await self._record(operation, outcome, latency, units, batch_id)
        raise failure

    def _charge(self, reserved: int, value: Any, cost_of: Callable[[Any], int] | None) -> int:
        """The units an answer cost; reserved units it did not cost are kept for the next call."""
        charged = reserved if cost_of is None else max(0, min(reserved, cost_of(value)))
        if self.limits.daily_quota is not None and charged < reserved:
            with self._held_lock:
                self._held_units += reserved - charged
        return charged

    async def _reserve(self, units: int) -> bool:
        """Books quota in the store before the call (a block at a time), so that processes never overshoot."""
        quota = self.limits.daily_quota
        if quota is None:
            return True
        with self._held_lock:
            if self._held_units >= units:
                self._held_units -= units
                return True
        block = max(units, self.limits.concurrency * units)
        granted = await _in_store(self.store.reserve_quota_block, self.name, units, quota, block=block)
        if granted < units:
            return False
        with self._held_lock:
            self._held_units += granted - units
        return True

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(loop)
        if state is None:
            state = self._per_loop[loop] = _LoopState(self)
        return state

    async def _record(
        self,
        operation: str,
        outcome: Outcome,
        latency_ms: float,
        cost_units: int,
        batch_id: str | None,
        *,
        entry: CacheEntry | None = None,
    ) -> None:
        record = CallRecord(self.name, operation, outcome.value, round(latency_ms, 3), cost_units, batch_id)
        meter = _METER.get()
        if meter is not None and cost_units:
            meter.units += cost_units
            meter.calls += 1
        writes = self._state().writes
        await asyncio.gather(writes.submit(record), *([writes.submit(entry)] if entry else []))


class _LoopState:
    """What a caller keeps per event loop: its concurrency slots and its grouped store reads and writes."""

    def __init__(self, caller: ProviderCaller) -> None:
        store, namespace = caller.store, caller.name
        self.semaphore = asyncio.Semaphore(caller.limits.concurrency)

        def read(keys: list[str]) -> list[Any]:
            found = store.cache_get_many(namespace, sorted(set(keys)))
            return [found.get(key) for key in keys]

        def write(items: list[CallRecord | CacheEntry]) -> list[None]:
            store.record_calls(
                [i for i in items if isinstance(i, CallRecord)], [i for i in items if isinstance(i, CacheEntry)]
            )
            return [None] * len(items)

        self.reads: GroupCommit[str, Any] = GroupCommit(read)
        self.writes: GroupCommit[CallRecord | CacheEntry, None] = GroupCommit(write)


# --------------------------------------------------------------------------------------------
# HTTP clients


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, relative to a client's base URL."""

    method: str
    path: str = ""
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None


ErrorHook = Callable[[httpx.Response], ProviderError | None]


def body_excerpt(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response body on one line, for error details (redacted by `ProviderError`)."""
    return " ".join(response.text[:limit].split())


def status_error(
    provider: str, operation: str, response: httpx.Response, now: datetime | None = None
) -> ProviderError | None:
    """The generic reading of an HTTP status: 429 and 5xx are transient, 401/403 are configuration."""
    status = response.status_code
    if status < 400:
        return None
    retry_after = parse_retry_after(response.headers.get("retry-after"), now or datetime.now(UTC))
    detail = f"HTTP {status}: {body_excerpt(response)}"
    if status == 429:
        return ProviderError(provider, operation, Outcome.ERROR_429, detail, retryable=True, retry_after=retry_after)
    if status >= 500:
        return ProviderError(provider, operation, Outcome.ERROR_5XX, detail, retryable=True, retry_after=retry_after)
    if status in (401, 403):
        return ProviderConfigError(provider, operation, detail)
    return ProviderError(provider, operation, Outcome.CLIENT_ERROR, detail)


class HttpProvider:
    """Base of the HTTP clients: one pooled ``httpx.AsyncClient`` used under the provider's caller."""

    def __init__(
        self,
        caller: ProviderCaller,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        for secret in secrets:
            register_secret(secret)
        self.caller = caller
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            timeout=caller.limits.timeout_seconds, headers=dict(headers or {}), follow_redirects=True
        )

    @property
    def provider(self) -> str:
        return self.caller.name

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.caller.aclose()

    async def request(
        self,
        operation: str,
        request: HttpRequest,
        parse: Callable[[httpx.Response], Any],
        *,
        cache_params: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        cacheable: Callable[[Any], bool] = _always,
        errors: ErrorHook | None = None,
        cost_of: Callable[[Any], int] | None = None,
    ) -> Any:
        """Sends `request` through the caller; `errors` reads provider-specific failures before the status."""

        async def attempt() -> Any:
            response = await self._send(operation, request)
            try:
                error = errors(response) if errors else None
                error = error or status_error(self.provider, operation, response)
                if error is not None:
                    raise error
                return parse(response)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                detail = f"{type(exc).__name__}: {' '.join(str(exc)[:200].split())}"
                raise ProviderError(self.provider, operation, Outcome.BAD_RESPONSE, detail) from None

        return await self.caller.execute(
            operation, attempt, cache_params=cache_params, batch_id=batch_id, cacheable=cacheable, cost_of=cost_of
        )

    async def _send(self, operation: str, request: HttpRequest) -> httpx.Response:
        # Exceptions from httpx name the URL (and so any key in it): translate them, never chain them.
        try:
            return await self._http.request(
                request.method,
                self.base_url + request.path,
                params=request.params,
                headers=request.headers,
                json=request.json,
                data=request.data,
            )
        except httpx.TimeoutException:
            raise ProviderError(self.provider, operation, Outcome.TIMEOUT, retryable=True) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                self.provider, operation, Outcome.TRANSPORT_ERROR, type(exc).__name__, retryable=True
            ) from None


# --------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True)
class Pending:
    """An item a batch did not finish, and why (quota, outage, ...): the caller retries it later."""

    item: str
    reason: str


async def run_batch(
    items: Sequence[str], work: Callable[[str], Awaitable[R]], *, workers: int = 8
) -> tuple[list[R], list[Pending]]:
    """Runs `work` over `items`, keeping what finished; once a provider is out of quota or open-circuited,
    nothing new starts and the rest is returned as pending with that reason.
    """
    done: dict[int, R] = {}
    pending: dict[int, str] = {}
    stop: str | None = None
    queue = iter(enumerate(items))

    async def worker() -> None:
        nonlocal stop
        for index, item in queue:
            if stop is not None:
                pending[index] = stop
                continue
            try:
                done[index] = await work(item)
            except (QuotaExhausted, BreakerOpen) as exc:
                stop = stop or str(exc)
                pending[index] = str(exc)
            except ProviderError as exc:
                pending[index] = str(exc)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(workers, len(items)))):
                group.create_task(worker())
    except ExceptionGroup as failed:  # a store or programming error: surface it as itself
        raise failed.exceptions[0] from None
    return (
        [done[i] for i in sorted(done)],
        [Pending(items[i], pending[i]) for i in sorted(pending)],
    )
