"""Fixtures of the provider tests: a loopback HTTP server, a DuckDB store per test, the SANDBOX.

The suite imports test files in importlib mode, so this folder is put on ``sys.path`` for the
shared helpers in ``provider_testkit``; spawned worker processes inherit it and can import them too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from provider_testkit import Loopback, serve

from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.store import CrmStore, open_store


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with serve() as server:
        yield server


@pytest.fixture
def duck_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path}/crm.duckdb"


@pytest.fixture
def duck(duck_url: str) -> CrmStore:
    return open_store(duck_url)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One SANDBOX for the session (it takes seconds to start); tests reset it with `fresh_sandbox`."""
    with start_sandbox(tmp_path_factory.mktemp("sandbox"), hotels=40) as running:
        yield running


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    sandbox.reset(faults=True)
    return sandbox
