"""The sandbox every enrich test runs against, with the environment a `jengu sandbox` session exports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jengu_pipeline.demo import SANDBOX_SEED
from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.settings import get_settings


@pytest.fixture
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_env: str) -> Iterator[Sandbox]:
    """A sandbox of its own (tests change its counters and quotas) with the environment it exports."""
    with start_sandbox(tmp_path / "home", seed=SANDBOX_SEED) as sandbox:
        for name, value in sandbox.env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield sandbox
    get_settings.cache_clear()
