"""Session-wide real services for the tests: a PostgreSQL server on loopback, and store fixtures.

PostgreSQL comes from the machine (``pg_config --bindir``, Debian's /usr/lib/postgresql/*/bin) or from the
pip-installed ``pgserver`` wheel, so the suite has a real server even on a bare machine. When none can be
started the PostgreSQL tests skip loudly, unless ``JENGU_REQUIRE_SERVICES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store

sys.path.insert(0, str(Path(__file__).parent / "support"))  # shared test helpers (the suite imports in importlib mode)

PG_SYSTEM_USER = "jengu-pg"  # initdb refuses to run as root, so the server runs as this user when we are root


def services_required() -> bool:
    return os.environ.get("JENGU_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def missing_service(reason: str) -> None:
    """Skip loudly on a developer machine; fail in CI, where every service must be there."""
    if services_required():
        pytest.fail(f"JENGU_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(f"SERVICE MISSING, test not run: {reason}")


def _postgres_bindir() -> Path | None:
    candidates: list[Path] = []
    if os.environ.get("JENGU_PG_BINDIR"):
        candidates.append(Path(os.environ["JENGU_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout
        candidates.append(Path(out.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    return ["runuser", "-u", PG_SYSTEM_USER, "--"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1; yields a superuser URL without a database name."""
    bindir = _postgres_bindir()
    if bindir is None:
        missing_service("no PostgreSQL server binaries (install postgresql or the pgserver wheel)")
    assert bindir is not None
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="jengu-pg-"))
    data = root / "data"
    if prefix:
        shutil.chown(root, user=PG_SYSTEM_USER)
    port = _free_port()
    log = root / "server.log"
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "jengu",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
    started = subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        missing_service(f"PostgreSQL did not start: {started.stderr.strip()} {log.read_text()[-500:]}")
    try:
        yield f"postgresql://jengu@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _new_database(server_url: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty CRM store URL on each backend in turn."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/crm.duckdb"
    return _new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(store_url: str) -> CrmStore:
    return open_store(store_url)


@pytest.fixture
def jengu_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty JENGU_HOME for this test, with the cached settings cleared."""
    home = tmp_path / "jengu-home"
    monkeypatch.setenv("JENGU_HOME", str(home))
    monkeypatch.delenv("JENGU_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def store_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The pipeline's settings point at this test's store: JENGU_DATABASE_URL for PostgreSQL, else unset."""
    if store_url.startswith("postgresql"):
        monkeypatch.setenv("JENGU_DATABASE_URL", store_url)
    else:
        monkeypatch.delenv("JENGU_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def running_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox (seed 7, HTTP + SMTP on loopback) shared by the tests that do not change its world."""
    with start_sandbox(Path(tmp_path_factory.mktemp("sandbox-home")), seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with perfect providers and zeroed counters, restored after the test."""
    running_sandbox.reset(faults=True)
    yield running_sandbox
    running_sandbox.reset(faults=True)


@pytest.fixture
def jengu_env(store_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A JENGU_HOME + DAGSTER_HOME per test, on this test's store (DuckDB or PostgreSQL)."""
    home = tmp_path / "home"
    monkeypatch.setenv("JENGU_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_env: str) -> Iterator[Sandbox]:
    """A sandbox of its own (tests change its counters and quotas) with the environment it exports."""
    with start_sandbox(tmp_path / "home", seed=7) as sandbox:
        for name, value in sandbox.env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield sandbox
    get_settings.cache_clear()
