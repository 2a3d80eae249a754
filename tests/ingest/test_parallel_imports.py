"""Several `jengu import` processes at once, on DuckDB + SQLite and on PostgreSQL + dagster-postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from jengu_pipeline.store import open_store

FILES = {
    "alps.csv": "Name,Title,Company,LinkedIn\n"
    "Anna Berg,Owner,Hotel Alpina,https://www.linkedin.com/in/anna-berg\n"
    "Luca Rossi,Director of Sales,Hotel Alpina,https://www.linkedin.com/in/luca-rossi\n",
    "coast.csv": "Name,Title,Company,LinkedIn\n"
    "Marie Dubois,General Manager,Hôtel de la Plage,https://www.linkedin.com/in/marie-dubois\n"
    "Anna Berg,Owner,Hotel Alpina,https://de.linkedin.com/in/anna-berg/\n",
}


def import_in_parallel(tmp_path: Path, env: dict[str, str]) -> list[dict[str, object]]:
    processes = []
    for name, text in FILES.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "jengu_pipeline.cli", "import", str(path), "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JENGU_DATABASE", "JENGU_DAGSTER", "DAGSTER"))}
    return {**env, "JENGU_HOME": str(tmp_path / "home")}


def test_parallel_imports_on_duckdb_lose_nothing(tmp_path: Path) -> None:
    results = import_in_parallel(tmp_path, base_env(tmp_path))
    assert sorted(r["rows"] for r in results) == [2, 2]
    store = open_store(f"duckdb:///{tmp_path}/home/crm.duckdb")
    assert store.count("raw_prospects") == 4
    assert store.count("prospect_sources") == 4
    assert store.count("prospects") == 3, "Anna Berg is one prospect whichever batch came first"


@pytest.mark.postgres
def test_parallel_imports_on_postgres_with_dagster_postgres(tmp_path: Path, postgres_server: str) -> None:
    databases = {role: f"{role}_{uuid.uuid4().hex[:8]}" for role in ("crm", "dagster")}
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
        for name in databases.values():
            connection.execute(f"CREATE DATABASE {name}")
    env = {
        **base_env(tmp_path),
        "JENGU_DATABASE_URL": f"{postgres_server}/{databases['crm']}",
        "JENGU_DAGSTER_PG_URL": f"{postgres_server}/{databases['dagster']}",
    }
    results = import_in_parallel(tmp_path, env)
    assert sorted(r["rows"] for r in results) == [2, 2]
    store = open_store(env["JENGU_DATABASE_URL"])
    assert store.count("prospects") == 3
    assert not (tmp_path / "home" / "crm.duckdb").exists()

    health = subprocess.run(
        [sys.executable, "-m", "jengu_pipeline.cli", "health", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(health.stdout.strip().splitlines()[-1])
    assert health.returncode == 0, health.stderr
    assert report["store"]["backend"] == "postgresql"
    assert report["dagster_instance"]["storage"] == "postgres"
    with psycopg.connect(env["JENGU_DAGSTER_PG_URL"]) as connection:
        runs = connection.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'").fetchone()
    assert runs is not None
    assert runs[0] == 2
