"""Running the unsubscribe receiver under uvicorn: in the foreground (the CLI) or on a background thread.

uvicorn's access log is off on purpose: its lines would hold the query string, and the token in it is the
authorisation to unsubscribe someone. Connections are bounded and idle ones closed quickly, so a slow or
flooding client cannot hold the receiver.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

LIMIT_CONCURRENCY = 64
KEEP_ALIVE_SECONDS = 5


def _config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=2,
        h11_max_incomplete_event_size=16 * 1024,
        http="h11",
    )


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve_forever(app: ASGIApp, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    uvicorn.Server(_config(app)).run(sockets=[_listen(host, port)])


@contextmanager
def running(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve on a background thread; yields the base URL (port 0 picks a free one) and stops on exit."""
    sock = _listen(host, port)
    server = uvicorn.Server(_config(app))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as error:  # reported to the starting thread below
            errors.append(error)

    thread = threading.Thread(target=run, name="jengu-unsubscribe", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the unsubscribe receiver did not start") from (errors[0] if errors else None)
        thread.join(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    netloc = f"[{bound_host}]" if ":" in bound_host else bound_host
    try:
        yield f"http://{netloc}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
