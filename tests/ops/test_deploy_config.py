"""deploy/ cannot rot: Dagster's own loader builds an instance from each instance file against a real PostgreSQL,
every systemd unit's command line is accepted by the command it starts, and all of them read one environment
file and bind loopback."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_docker import DockerRunLauncher
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from jengu_pipeline.instance import PRODUCTION_INSTANCE, PROJECT_ROOT, prepare_dagster_home
from jengu_pipeline.settings import Settings

DEPLOY = PROJECT_ROOT / "deploy"
DOCKER_INSTANCE = DEPLOY / "docker" / "dagster.yaml"
INSTALL_ROOT = "/opt/jengu"
"""Where the units expect the checkout (with its .venv); the test reads them against this repository instead."""
ENV_FILE = "/etc/jengu/jengu.env"
CODE_SERVER_PORT = 4266


@pytest.fixture
def dagster_pg_url(postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    monkeypatch.setenv("JENGU_DAGSTER_PG_URL", url)
    return url


def instance_from(config: Path, home: Path) -> dg.DagsterInstance:
    """What dagster-webserver and dagster-daemon do with DAGSTER_HOME/dagster.yaml."""
    home.mkdir()
    (home / "dagster.yaml").write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))


def test_production_instance_runs_on_postgresql_with_queue_limits_and_run_monitoring(
    dagster_pg_url: str, tmp_path: Path
) -> None:
    with instance_from(PRODUCTION_INSTANCE, tmp_path / "dagster-home") as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        instance.add_dynamic_partitions("prospect_batches", ["deploy-check-0123456789ab"])  # a real write
        assert instance.get_dynamic_partitions("prospect_batches") == ["deploy-check-0123456789ab"]

        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == 4
        limits = {(limit["key"], limit.get("value")): limit["limit"] for limit in queue.tag_concurrency_limits}
        assert limits == {("jengu/lane", "send"): 1, ("dagster/backfill", None): 2}
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1

        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 7200
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
    with psycopg.connect(dagster_pg_url) as connection:
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "instigators", "job_ticks", "dynamic_partitions"} <= tables


def without_launcher(config: dict[str, Any]) -> dict[str, Any]:
    rest = {key: value for key, value in config.items() if key != "run_launcher"}
    rest["run_monitoring"] = {k: v for k, v in rest["run_monitoring"].items() if k != "max_resume_run_attempts"}
    return rest


def test_docker_variant_is_the_production_instance_launching_runs_in_containers(
    dagster_pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = yaml.safe_load(PRODUCTION_INSTANCE.read_text(encoding="utf-8"))
    docker = yaml.safe_load(DOCKER_INSTANCE.read_text(encoding="utf-8"))
    assert without_launcher(docker) == production, "deploy/docker/dagster.yaml drifted from deploy/dagster.yaml"

    monkeypatch.setenv("JENGU_RUN_IMAGE", "jengu-pipeline:test")
    with instance_from(DOCKER_INSTANCE, tmp_path / "dagster-home") as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher)  # built from its config; Docker itself is only asked at launch
        assert launcher.image == "jengu-pipeline:test"
        assert launcher.supports_check_run_worker_health
        assert launcher.supports_resume_run
        assert instance.run_monitoring_max_resume_run_attempts == 2
        forwarded = set(launcher.env_vars)
    documented = set(env_file_variables())
    assert forwarded <= documented, (
        f"forwarded to run containers but not in jengu.env.example: {forwarded - documented}"
    )
    assert {"JENGU_DATABASE_URL", "JENGU_DAGSTER_PG_URL", "JENGU_HOME"} <= forwarded


def env_file_variables(*, commented: bool = True) -> dict[str, str]:
    """The variables jengu.env.example sets (and, with ``commented``, those it names commented out), with their
    example values; a set value wins over a commented alternative."""
    found: dict[str, str] = {}
    for line in (DEPLOY / "jengu.env.example").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match and (commented or not match[1]) and not (match[1] and match[2] in found):
            found[match[2]] = match[3]
    return found


def test_environment_file_example_holds_no_secret_and_names_the_instance_files() -> None:
    variables = env_file_variables()
    assert {"JENGU_HOME", "DAGSTER_HOME", "JENGU_DATABASE_URL", "JENGU_DAGSTER_PG_URL"} <= set(
        env_file_variables(commented=False)
    )
    assert variables["JENGU_DAGSTER_INSTANCE"] == f"{INSTALL_ROOT}/deploy/dagster.yaml"
    docker = [
        line
        for line in (DEPLOY / "jengu.env.example").read_text().splitlines()
        if line.startswith("#JENGU_DAGSTER_INSTANCE=")
    ]
    assert docker == [f"#JENGU_DAGSTER_INSTANCE={INSTALL_ROOT}/deploy/docker/dagster.yaml"]
    for name, value in variables.items():
        if re.search(r"KEY|SECRET|PASSWORD|DSN|WEBHOOK", name):
            assert value in {"CHANGE-ME", ""}, f"{name} has an example value that looks real"
        if name.endswith("_URL") and "@" in value:
            assert ":CHANGE-ME@" in value, f"{name} carries a password"
            assert "@127.0.0.1:" in value, f"{name} should point at loopback in the example"


def test_jengu_writes_the_instance_file_the_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`jengu metrics serve` and the other commands prepare DAGSTER_HOME too: they must not undo the variant the
    Dagster units copied there."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    monkeypatch.setenv("JENGU_DAGSTER_INSTANCE", str(DOCKER_INSTANCE))
    home = prepare_dagster_home(Settings(home=tmp_path / "jengu"))
    assert (home / "dagster.yaml").read_text() == DOCKER_INSTANCE.read_text()
    monkeypatch.delenv("JENGU_DAGSTER_INSTANCE")
    monkeypatch.setenv("JENGU_DAGSTER_PG_URL", "postgresql://jengu@127.0.0.1/dagster")
    prepare_dagster_home(Settings(home=tmp_path / "jengu"))
    assert (home / "dagster.yaml").read_text() == PRODUCTION_INSTANCE.read_text()


def units() -> dict[str, configparser.ConfigParser]:
    parsed = {}
    for path in sorted((DEPLOY / "systemd").iterdir()):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
        parser.read(path, encoding="utf-8")
        parsed[path.name] = parser
    return parsed


def test_every_unit_reads_the_one_environment_file_and_the_target_wants_them_all() -> None:
    parsed = units()
    services = {name: unit for name, unit in parsed.items() if name.endswith(".service")}
    assert set(services) == {
        "jengu-code-server.service",
        "jengu-webserver.service",
        "jengu-daemon.service",
        "jengu-unsubscribe.service",
        "jengu-metrics.service",
    }
    for name, unit in services.items():
        assert unit["Service"]["EnvironmentFile"] == ENV_FILE, name
        if "dagster" in unit["Service"]["ExecStart"]:  # the same instance file in every Dagster process
            assert unit["Service"]["ExecStartPre"] == (
                "/usr/bin/install -D -m 0644 ${JENGU_DAGSTER_INSTANCE} ${DAGSTER_HOME}/dagster.yaml"
            ), name
        assert unit["Service"]["Restart"] == "always", name
        assert unit["Install"]["WantedBy"] == "jengu.target", name
    assert set(parsed["jengu.target"]["Unit"]["Wants"].split()) == set(services)


def exec_start(unit: configparser.ConfigParser) -> list[str]:
    return shlex.split(unit["Service"]["ExecStart"].replace(INSTALL_ROOT, str(PROJECT_ROOT)))


def option(command: list[str], *names: str) -> str | None:
    return next((command[i + 1] for i, word in enumerate(command[:-1]) if word in names), None)


@pytest.mark.parametrize(
    "unit_name", ["jengu-code-server", "jengu-webserver", "jengu-daemon", "jengu-unsubscribe", "jengu-metrics"]
)
def test_unit_command_is_accepted_by_the_program_and_binds_loopback(unit_name: str) -> None:
    command = exec_start(units()[f"{unit_name}.service"])
    assert Path(command[0]).is_file(), f"{command[0]} is not installed by uv.lock"
    if unit_name != "jengu-daemon":  # the daemon serves nothing
        assert option(command, "-h", "--host") == "127.0.0.1"
    workspace = option(command, "-w", "--workspace")
    if workspace is not None:
        assert Path(workspace) == DEPLOY / "workspace.yaml"
    # Click parses every option before --help runs, so an option the program no longer has fails here.
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workspace_reaches_the_code_server_on_loopback() -> None:
    [location] = yaml.safe_load((DEPLOY / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    server = location["grpc_server"]
    assert (server["host"], server["port"], server["location_name"]) == (
        "127.0.0.1",
        CODE_SERVER_PORT,
        "jengu_pipeline",
    )
    code_server = exec_start(units()["jengu-code-server.service"])
    assert option(code_server, "-p", "--port") == str(CODE_SERVER_PORT)
    assert option(code_server, "--location-name") == "jengu_pipeline"
    assert option(code_server, "-m", "--module-name") == "jengu_pipeline.definitions"
