"""`jengu sql` and `jengu health` as an operator runs them, on both store backends."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jengu_cli import jengu

from jengu_pipeline.store import open_store


@pytest.fixture
def cli_env(store_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JENGU_", "DAGSTER_"))}
    env["JENGU_HOME"] = str(tmp_path)  # the duckdb store_url is $JENGU_HOME/crm.duckdb
    if store_url.startswith("postgresql"):
        env["JENGU_DATABASE_URL"] = store_url
    return env


def test_sql_on_a_fresh_home_prints_zero(cli_env: dict[str, str]) -> None:
    result = jengu("sql", "select count(*) from prospects", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_sql_formats_and_refuses_writes(cli_env: dict[str, str], store_url: str) -> None:
    open_store(store_url).set_flag("emergency_stop", "off", actor="test")
    as_json = jengu("sql", "select name, value from flags", "--format", "json", env=cli_env)
    assert json.loads(as_json.stdout) == [{"name": "emergency_stop", "value": "off"}]
    as_csv = jengu("sql", "select name, value from flags", "--format", "csv", env=cli_env)
    assert as_csv.stdout.splitlines() == ["name,value", "emergency_stop,off"]
    write = jengu("sql", "delete from flags", env=cli_env)
    assert write.returncode != 0
    assert "read-only" in write.stderr.lower() or "read only" in write.stderr.lower()
    assert open_store(store_url).count("flags") == 1


def test_health_reports_store_instance_and_provider_names_only(cli_env: dict[str, str], store_url: str) -> None:
    secret = "sk-test-very-secret-value"
    env = {**cli_env, "JENGU_BRAVE_API_KEY": secret}
    result = jengu("health", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["store"]["backend"] == store_url.split(":", maxsplit=1)[0]
    assert report["providers"]["brave"] is True
    assert report["providers"]["millionverifier"] is False
    assert secret not in result.stdout + result.stderr


def test_health_fails_when_the_store_is_down(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "JENGU_DATABASE_URL": "postgresql://nobody:pw@127.0.0.1:1/none"}
    result = jengu("health", env=env)
    assert result.returncode == 1
    assert "FAIL store" in result.stdout
    assert ":pw@" not in result.stdout


@pytest.mark.slow
def test_demo_runs_the_main_job_and_is_right_against_the_sandbox_truth(cli_env: dict[str, str]) -> None:
    """The README's run command, as a process: import, websites and email finding on the sample."""
    result = jengu("demo", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sandbox"] is True
    details = summary["details"]
    assert details["batch"]["rows"] == details["batch"]["accepted"] + details["batch"]["rejected"] == 150
    assert details["batch"]["duplicates"] == 15  # the sample's planted duplicates (data/sample/README.md)
    websites = details["websites"]
    assert websites["correct"] >= 0.95 * websites["found"] > 0
    emails = details["emails"]
    assert emails["ok"] > 0
    assert emails["ok_correct"] == emails["ok"]
    assert summary["prospects"] == details["batch"]["accepted"]
    assert summary["websites"] == websites["found"]
    assert summary["verified_emails"] == emails["ok"]
    assert summary["messages"] > 0
    assert 0 < summary["sent"] <= summary["messages"]  # one tick: caps and business hours leave some for later
    assert summary["skipped"] > 0
    assert summary["held"] == 0
    assert details["messages"]["llm_drafts_refused"] > 0  # hostile sandbox sites: the gate stopped those drafts
    heard = details["replies"]
    assert heard["delivered_by_sandbox"] == heard["first_pass"]["stored"] == sum(summary["replies"].values()) > 0
    assert heard["second_pass"]["stored"] == heard["second_pass"]["read"] == 0  # nothing is read twice
    assert heard["with_truth"] == heard["delivered_by_sandbox"]
    assert heard["classified_as_meant"] >= 0.9 * heard["with_truth"]
    assert heard["unmatched"] == 0  # every answer of the world names a message we sent
    unsubscribed_or_bounced = sum(summary["replies"].get(c, 0) for c in ("unsubscribe", "bounce_hard"))
    assert 0 < summary["suppressed"] <= unsubscribed_or_bounced  # two unsubscribes from one address count once


def test_errors_are_one_line_and_debug_shows_the_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "bad.yaml").write_text("name: [\n")
    plain = jengu("campaign", "load", "--dir", str(folder), env=cli_env)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == [plain.stderr.strip()]
    assert plain.stderr.startswith("Error: ")
    assert "bad.yaml" in plain.stderr
    debug = jengu("--debug", "campaign", "load", "--dir", str(folder), env=cli_env)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "CampaignFileError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_an_unexpected_error_is_one_line_naming_its_type_unless_debug(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "JENGU_DATABASE_URL": "postgresql://nobody:pw@127.0.0.1:1/none"}
    plain = jengu("campaign", "list", env=env)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == [plain.stderr.strip()]
    assert plain.stderr.startswith("Error: OperationalError: ")
    debug = jengu("--debug", "campaign", "list", env=env)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "psycopg.OperationalError" in debug.stderr
