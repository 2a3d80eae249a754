"""A JENGU_HOME + DAGSTER_HOME per test, on the DuckDB or the PostgreSQL CRM store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jengu_pipeline.settings import get_settings


@pytest.fixture
def jengu_env(store_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("JENGU_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
