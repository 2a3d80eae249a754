"""A real loopback HTTP server answering scripted responses, and helpers shared by the provider tests.

Clients are tested over real sockets (no mock transport): each route answers its scripted
responses in order (the last one repeats) and every request is recorded, so tests can count the
calls a provider actually received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jengu_pipeline.resources.call_policy import CircuitBreaker, ProviderLimits, TokenBucket
from jengu_pipeline.resources.calls import ProviderCaller
from jengu_pipeline.store import open_store


@dataclass(frozen=True)
class Canned:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Canned:
        return cls(status, json.dumps(data), {"Content-Type": "application/json", **headers})


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class Loopback:
    """The server's script and log; routes are matched on the path alone."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Canned]] = {}
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.url = ""

    def script(self, path: str, *responses: Canned) -> None:
        with self.lock:
            self.routes[path] = list(responses)

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def next_response(self, received: Received) -> Canned:
        with self.lock:
            self.requests.append(received)
            queue = self.routes.get(received.path)
            if not queue:
                return Canned(404, "no such route")
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(loopback: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(
                self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            canned = loopback.next_response(received)
            if canned.delay:
                time.sleep(canned.delay)
            payload = canned.body.encode() if isinstance(canned.body, str) else canned.body
            try:
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Silence: the test output should show the clients' logs only."""

    return Handler


@contextmanager
def serve() -> Iterator[Loopback]:
    loopback = Loopback()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(loopback))
    server.daemon_threads = True
    loopback.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield loopback
    finally:
        server.shutdown()
        server.server_close()


FAST = ProviderLimits(
    timeout_seconds=2.0,
    max_attempts=4,
    backoff_base_seconds=0.01,
    backoff_cap_seconds=0.05,
    max_total_wait_seconds=10.0,
    breaker_threshold=50,
    breaker_cooldown_seconds=0.2,
)
"""Limits for tests: small delays and a breaker that stays out of the way unless a test wants it."""


class SleepLog:
    """An injectable sleep that records what was asked and sleeps a hundredth of it."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(seconds / 100)


def fast_caller(
    name: str,
    store: Any,
    *,
    limits: ProviderLimits = FAST,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **changes: Any,
) -> ProviderCaller:
    """A caller with its own breaker and bucket (tests must not share process-wide state)."""
    limits = limits.model_copy(update=changes)
    rate = limits.rate_per_second
    return ProviderCaller(
        name,
        store,
        limits,
        sleep=sleep or SleepLog(),
        breaker=CircuitBreaker(limits.breaker_threshold, limits.breaker_cooldown_seconds),
        bucket=TokenBucket(rate, limits.burst, time.monotonic()) if rate else None,
    )


def outcomes(store_url: str, provider: str) -> list[str]:
    """Ledger outcomes of one provider, oldest first."""
    frame = open_store(store_url).query(
        "SELECT outcome FROM provider_calls WHERE provider = ? ORDER BY call_id", [provider]
    )
    return [str(v) for v in frame["outcome"].to_list()]


def race_worker(store_url: str, base_url: str, calls: int, daily_quota: int) -> tuple[int, int]:
    """One OS process of the quota race: `calls` distinct paid calls; returns (succeeded, refused)."""
    from jengu_pipeline.resources.calls import QuotaExhausted
    from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest

    async def main() -> tuple[int, int]:
        store = open_store(store_url)
        caller = fast_caller("race", store, daily_quota=daily_quota, cache_ttl_seconds=0, concurrency=4)
        client = HttpProvider(caller, base_url)
        succeeded = refused = 0

        async def one(i: int) -> None:
            nonlocal succeeded, refused
            try:
                await client.request("ping", HttpRequest("GET", "/ping", params={"i": i}), lambda r: r.json())
                succeeded += 1
            except QuotaExhausted:
                refused += 1

        await asyncio.gather(*(one(i) for i in range(calls)))
        await client.aclose()
        return succeeded, refused

    return asyncio.run(main())
