"""One real sandbox (HTTP + SMTP on loopback) for the whole sandbox test session.

Each test gets it back with perfect providers and zeroed counters, so tests can inject faults
freely without leaking them into the next one.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from jengu_pipeline.sandbox import Sandbox, World, build_world


@pytest.fixture(scope="session")
def world() -> World:
    """The same world the sandbox serves (seed 7), built independently to check answers against."""
    return build_world(7)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as http:
        yield http
