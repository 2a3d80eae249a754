"""The call ledger: what the call mechanism keeps in the store for one provider.

Its daily quota, reserved before each call a block at a time (shared by every process through the store),
its cached answers, and a `provider_calls` row per attempt, cache hit or refusal, written together with the
cache entry of a paid answer. Store work of concurrent calls is grouped into shared transactions
(`GroupCommit`), so the bookkeeping never caps a provider's speed. `metered()` counts what the calls of one
block of code cost.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from jengu_pipeline.store.repository import CacheEntry, CallRecord

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item")


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


class CallStore(Protocol):
    """The part of the CRM store the call mechanism needs (quota, cache, ledger)."""

    def reserve_quota_block(self, provider: str, units: int, daily_limit: int, *, block: int) -> int: ...

    def release_quota(self, provider: str, units: int) -> None: ...

    def cache_get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]: ...

    def record_calls(self, calls: Sequence[CallRecord], entries: Sequence[CacheEntry]) -> None: ...


async def in_store(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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


class CallLedger:
    """One provider's bookkeeping in the store: quota, cached answers and call rows.

    Quota is reserved a block at a time (room for ``calls_per_block`` calls); units of a block that no call
    has used yet, and units an answer did not cost, are held here for the next calls and given back by
    `release`. Reads and writes go through one `GroupCommit` each per event loop.
    """

    def __init__(self, provider: str, store: CallStore, *, daily_quota: int | None, calls_per_block: int) -> None:
        self.provider = provider
        self.store = store
        self.daily_quota = daily_quota
        self._calls_per_block = max(1, calls_per_block)
        self._held_units = 0
        self._held_lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupedStore] = (
            weakref.WeakKeyDictionary()
        )

    async def cached(self, key: str) -> Any:
        """The cached answer under ``key``, or None."""
        return await self._grouped().reads.submit(key)

    async def reserve(self, units: int) -> bool:
        """Books quota in the store before the call (a block at a time), so that processes never overshoot."""
        if self.daily_quota is None:
            return True
        with self._held_lock:
            if self._held_units >= units:
                self._held_units -= units
                return True
        block = self._calls_per_block * units
        granted = await in_store(self.store.reserve_quota_block, self.provider, units, self.daily_quota, block=block)
        if granted < units:
            return False
        with self._held_lock:
            self._held_units += granted - units
        return True

    def keep_unspent(self, units: int) -> None:
        """Holds reserved units that an answer did not cost (a free `unknown`) for the next call."""
        if self.daily_quota is not None and units > 0:
            with self._held_lock:
                self._held_units += units

    async def release(self) -> None:
        """Gives back quota reserved for calls that will no longer be made."""
        with self._held_lock:
            units, self._held_units = self._held_units, 0
        if units:
            await in_store(self.store.release_quota, self.provider, units)

    async def record(
        self,
        operation: str,
        outcome: Outcome,
        latency_ms: float,
        cost_units: int,
        batch_id: str | None,
        *,
        entry: CacheEntry | None = None,
    ) -> None:
        """Writes the attempt's `provider_calls` row, and the answer's cache entry with it, and meters its cost."""
        record = CallRecord(self.provider, operation, outcome.value, round(latency_ms, 3), cost_units, batch_id)
        meter = _METER.get()
        if meter is not None and cost_units:
            meter.units += cost_units
            meter.calls += 1
        writes = self._grouped().writes
        await asyncio.gather(writes.submit(record), *([writes.submit(entry)] if entry else []))

    def _grouped(self) -> _GroupedStore:
        loop = asyncio.get_running_loop()
        grouped = self._per_loop.get(loop)
        if grouped is None:
            grouped = self._per_loop[loop] = _GroupedStore(self.store, self.provider)
        return grouped


class _GroupedStore:
    """A ledger's grouped store reads and writes on one event loop (their futures belong to it)."""

    def __init__(self, store: CallStore, namespace: str) -> None:
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
