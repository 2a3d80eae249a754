"""The one call mechanism every provider client goes through.

Paid and rate-limited providers fail in the same few ways (throttling, outages, exhausted quotas), so they
are handled here once instead of in each client: `ProviderCaller` runs a provider's calls under its
call policy (`call_policy`: limits, backoff and Retry-After, the circuit breaker, the token bucket, cache
keys) and keeps its books in the store (`call_ledger`: the cross-process daily quota, the result cache, the
`provider_calls` rows and their `Outcome` labels). The errors every client raises, and `run_batch` for a
batch of calls that stops at an exhausted quota, are here too; the HTTP clients' base is `http_provider`.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jengu_pipeline.resources.call_ledger import CallLedger, CallStore, Outcome
from jengu_pipeline.resources.call_policy import (
    CircuitBreaker,
    ProviderLimits,
    TokenBucket,
    cache_key,
    retry_delay,
    shared_breaker,
    shared_bucket,
)
from jengu_pipeline.resources.redaction import redact, redacting_logger
from jengu_pipeline.store.repository import CacheEntry

R = TypeVar("R")

log = redacting_logger(__name__)

# --------------------------------------------------------------------------------------------
# Errors


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
# The caller


def every_answer(_answer: Any) -> bool:
    """The default ``cacheable``: every answer of a cached call is worth keeping."""
    return True


Keep = tuple[str, Callable[[Any], bool]]
"""A cacheable call's cache key, and which of its answers are worth keeping."""


@dataclass(frozen=True)
class _Call:
    """One call as `ProviderCaller.execute` was asked it, for each of its attempts."""

    operation: str
    attempt: Callable[[], Awaitable[Any]]
    batch_id: str | None
    cost_of: Callable[[Any], int] | None
    keep: Keep | None


class ProviderCaller:
    """Runs one provider's calls: cache, single flight, concurrency, rate, breaker, quota, retries, ledger.

    Results must be JSON values (they go to the store's cache). The breaker and the token bucket
    are shared by every caller of the same provider in the process; the quota is shared by all
    processes through the store, reserved before each attempt so that it can never be exceeded.
    What goes to the store (quota blocks, cache, call rows) is the `CallLedger`'s; what is left of a quota
    block is given back by `aclose`.
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
        self.limits = limits or ProviderLimits()
        self.ledger = CallLedger(
            name, store, daily_quota=self.limits.daily_quota, calls_per_block=self.limits.concurrency
        )
        self.cost_units = cost_units
        self.breaker = breaker or shared_breaker(name, self.limits)
        self._bucket = bucket or shared_bucket(name, self.limits)
        self._sleep = sleep
        self._clock = clock
        self._draw = draw
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._key_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def execute(
        self,
        operation: str,
        attempt: Callable[[], Awaitable[Any]],
        *,
        cache_params: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        cacheable: Callable[[Any], bool] = every_answer,
        cost_of: Callable[[Any], int] | None = None,
    ) -> Any:
        """Answers from the cache, else runs `attempt` under every limit, retrying transient failures.

        `cost_of` prices an answer when the provider does not charge a flat rate (MillionVerifier gives
        `unknown` for free); units reserved but not charged stay with this caller for its next calls.
        """
        if cache_params is None or self.limits.cache_ttl_seconds <= 0:
            return await self._with_retries(_Call(operation, attempt, batch_id, cost_of, None))
        key = cache_key(operation, cache_params)
        lock = self._key_locks.get(key)
        if lock is None:
            lock = self._key_locks[key] = asyncio.Lock()
        async with lock:  # the same question asked twice at once is paid once
            hit = await self.ledger.cached(key)
            if hit is not None:
                await self.ledger.record(operation, Outcome.CACHE_HIT, 0.0, 0, batch_id)
                return hit
            return await self._with_retries(_Call(operation, attempt, batch_id, cost_of, (key, cacheable)))

    async def aclose(self) -> None:
        """Give back quota reserved for calls this caller will no longer make."""
        await self.ledger.release()

    async def _with_retries(self, call: _Call) -> Any:
        attempts_made, waited = 0, 0.0
        while True:
            try:
                return await self._attempt(call)
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

    async def _attempt(self, call: _Call) -> Any:
        """One try under the limits. A paid answer is committed (ledger row and cache entry together) before
        its concurrency slot is freed, so a process killed at any moment loses at most the answers of the
        calls in flight; a failure's ledger row is written after the slot is freed."""
        units = self.cost_units
        failure: ProviderError | None = None
        async with self._slots_here():
            if self._bucket is not None:
                wait = self._bucket.reserve(self._clock())
                if wait > 0:
                    await self._sleep(wait)
            if not self.breaker.allow():
                outcome, latency, units, failure = Outcome.BREAKER_OPEN, 0.0, 0, BreakerOpen(self.name, call.operation)
            else:
                try:
                    granted = await self.ledger.reserve(units)
                except BaseException:
                    self.breaker.release()
                    raise
                if not granted:
                    self.breaker.release()
                    detail = f"daily quota of {self.limits.daily_quota} units used"
                    outcome, latency, units = Outcome.QUOTA_EXHAUSTED, 0.0, 0
                    failure = QuotaExhausted(self.name, call.operation, detail)
                else:
                    started = self._clock()
                    try:
                        value = await call.attempt()
                        outcome = Outcome.OK
                    except ProviderError as error:
                        self.breaker.record(success=error.outcome not in PROVIDER_FAULTS)
                        outcome, failure = error.outcome, error
                    except BaseException:
                        self.breaker.release()
                        raise
                    else:
                        self.breaker.record(success=True)
                        units = self._charge(units, value, call.cost_of)
                    latency = (self._clock() - started) * 1000
                    if failure is None:
                        entry = None
                        if call.keep is not None and call.keep[1](value):
                            entry = CacheEntry(self.name, call.keep[0], value, self.limits.cache_ttl_seconds)
                        await self.ledger.record(call.operation, outcome, latency, units, call.batch_id, entry=entry)
                        return value
        await self.ledger.record(call.operation, outcome, latency, units, call.batch_id)
        raise failure

    def _charge(self, reserved: int, value: Any, cost_of: Callable[[Any], int] | None) -> int:
        """The units an answer cost; reserved units it did not cost are kept for the next call."""
        charged = reserved if cost_of is None else max(0, min(reserved, cost_of(value)))
        self.ledger.keep_unspent(reserved - charged)
        return charged

    def _slots_here(self) -> asyncio.Semaphore:
        """This caller's concurrency slots on the running event loop (a semaphore belongs to one loop)."""
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.limits.concurrency)
        return slots


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
