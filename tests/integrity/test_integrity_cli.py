"""``jengu integrity check|repair`` on both backends: the --json contract, the exit codes, an idempotent repair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from integrity_seeds import NOW, SEEDS, baseline, seed, snapshot

from jengu_pipeline.cli import main
from jengu_pipeline.clock import clock_setting
from jengu_pipeline.domain.integrity import RULES
from jengu_pipeline.instance import PROJECT_ROOT
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore

ALL_RULES = [rule.name for rule in RULES]


@pytest.fixture
def cli_env(store_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI on this test's store, its clock at the seeds' NOW."""
    monkeypatch.setenv("JENGU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JENGU_DATABASE_URL", store_url)
    monkeypatch.setenv("JENGU_CLOCK", clock_setting(NOW))
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()


def _json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_check_lists_every_rule_and_exits_one_on_findings(store: CrmStore, cli_env: str) -> None:
    seed(store, baseline)
    clean = CliRunner().invoke(main, ["integrity", "check", "--json"])
    assert clean.exit_code == 0, clean.output
    payload = _json(clean.output)
    assert list(payload) == ["findings"]
    assert [f["rule"] for f in payload["findings"]] == ALL_RULES
    assert all(list(f) == ["rule", "count", "examples", "repairable"] and f["count"] == 0 for f in payload["findings"])

    seed(store, SEEDS["stale_claims"][0], SEEDS["unknown_sends"][0])
    dirty = CliRunner().invoke(main, ["integrity", "check", "--json"])
    assert dirty.exit_code == 1
    found = {f["rule"]: f for f in _json(dirty.output)["findings"]}
    assert found["stale_claims"] == {
        "rule": "stale_claims",
        "count": 2,
        "examples": ["snd_maybe", "snd_noattempt"],
        "repairable": True,
    }
    assert found["unknown_sends"]["count"] == 1
    assert not found["unknown_sends"]["repairable"]


def test_repair_dry_run_then_repair_then_nothing_left(store: CrmStore, cli_env: str) -> None:
    seed(store, baseline, SEEDS["expired_leases"][0], SEEDS["stale_new_prospects"][0])
    before = snapshot(store)
    dry = CliRunner().invoke(main, ["integrity", "repair", "--dry-run", "--json"])
    assert dry.exit_code == 1  # a repair would change something
    assert _json(dry.output)["repaired"] == {}
    assert snapshot(store) == before

    done = CliRunner().invoke(main, ["integrity", "repair", "--json"])
    assert done.exit_code == 0, done.output
    assert _json(done.output)["repaired"] == {"expired_leases": 1, "stale_new_prospects": 1}
    again = CliRunner().invoke(main, ["integrity", "repair", "--json"])
    assert again.exit_code == 0
    assert _json(again.output)["repaired"] == {}
    assert all(f["count"] == 0 for f in _json(again.output)["findings"])
    assert store.query("SELECT count(DISTINCT run_id) FROM integrity_findings").item() == 2


def test_repair_exits_one_while_something_needs_a_person(store: CrmStore, cli_env: str) -> None:
    seed(store, baseline, SEEDS["unknown_sends"][0])
    result = CliRunner().invoke(main, ["integrity", "repair"])
    assert result.exit_code == 1
    assert "needs a person: unknown_sends (1)" in result.output


def test_an_unreachable_store_exits_two(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENGU_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["integrity", "check", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "secret" not in result.output


@pytest.mark.parametrize("store_url", ["duckdb"], indirect=True)
def test_the_installed_command_prints_the_contract_on_its_last_line(store: CrmStore, store_url: str, tmp_path) -> None:
    seed(store, baseline, SEEDS["orphan_rows"][0])
    env = {
        **os.environ,
        "JENGU_HOME": str(tmp_path / "home"),
        "JENGU_DATABASE_URL": store_url,
        "JENGU_CLOCK": clock_setting(NOW),
    }
    done = subprocess.run(
        [sys.executable, "-m", "jengu_pipeline.cli", "integrity", "check", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    found = {f["rule"]: f["count"] for f in _json(done.stdout)["findings"]}
    assert found == {**dict.fromkeys(ALL_RULES, 0), "orphan_rows": 2}
