"""What every provider resource shares: the CRM store handle and one event loop per resource.

Assets are plain functions, while the clients are async (to run many calls concurrently under
one semaphore). An ``httpx.AsyncClient`` belongs to the loop it first used, so each resource runs
its coroutines on one long-lived loop in a daemon thread instead of a new ``asyncio.run`` per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr

from jengu_pipeline.resources.call_ledger import CallStore
from jengu_pipeline.settings import get_settings

T = TypeVar("T")


class BackgroundLoop:
    """An event loop on a daemon thread; `run` submits a coroutine from synchronous code and waits."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jengu-providers", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class ProviderResource(dg.ConfigurableResource):
    """Base of the provider resources: opens the store, builds clients, runs them on one loop.

    Subclasses build their clients in `_open` (called by `setup_for_execution`) and list what must
    be closed in `_closers`; the loop starts on first use, so a resource never used costs nothing.
    """

    store_url: str = Field(
        default="",
        description=(
            "CRM store holding quotas, the result cache and the call ledger. Leave empty to resolve it from "
            "JENGU_ settings when a step runs (a PostgreSQL URL may carry a password: keep it out of config)."
        ),
    )

    _store: CallStore = PrivateAttr()
    _loop: BackgroundLoop | None = PrivateAttr(default=None)
    _closers: list[Callable[[], Awaitable[None]]] = PrivateAttr(default_factory=list)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from jengu_pipeline.store import open_store

        self._store = open_store(self.store_url or get_settings().store_url)
        self._open(self._store)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._loop is not None:
            self._loop.run(self._close_all())
            self._loop.close()
            self._loop = None

    def _open(self, store: CallStore) -> None:
        raise NotImplementedError

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop.run(coroutine)

    async def _close_all(self) -> None:
        for close in self._closers:
            await close()
        self._closers.clear()
