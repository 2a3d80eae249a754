"""`jengu sql` and `jengu export --where` as a person runs them, on both backends: attacks refused in one line
with exit 1 and nothing written anywhere; real questions still answered."""

from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from jengu_cli import jengu
from sql_attacks import ATTACKS, FILTER_ATTACKS, fingerprint, seed

from jengu_pipeline.cli import main
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store


@pytest.fixture
def seeded(jengu_env: Path) -> CrmStore:
    store = open_store(get_settings().store_url)
    seed(store)
    return store


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _refused_in_one_line(result: Result, fragment: str) -> str | None:
    """What is wrong with a refusal, or None: exit 1, one line, the reason, no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    if result.exit_code != 1:
        return f"exit {result.exit_code}: {result.output[-300:]!r}"
    if len(lines) != 1 or not lines[0].startswith("Error: refused: ") or fragment not in lines[0].lower():
        return f"output {result.output!r}, expected one 'Error: refused: ...{fragment}...' line"
    return None


def test_sql_refuses_every_attack_and_writes_nothing(seeded: CrmStore, tmp_path: Path) -> None:
    before = fingerprint(seeded)
    problems = []
    for attack in ATTACKS:
        problem = _refused_in_one_line(invoke("sql", attack.text(tmp_path)), attack.refusal)
        if problem:
            problems.append(f"{attack.name}: {problem}")
        problems += [f"{attack.name}: created {path}" for path in attack.paths(tmp_path) if path.exists()]
    assert problems == []
    assert fingerprint(seeded) == before


def test_export_where_refuses_every_injection_and_writes_nothing(seeded: CrmStore, tmp_path: Path) -> None:
    before = fingerprint(seeded)
    out = tmp_path / "out" / "prospects.csv"
    problems = []
    for attack in FILTER_ATTACKS:
        problem = _refused_in_one_line(
            invoke("export", "prospects", "--out", str(out), "--where", attack.text(tmp_path)), attack.refusal
        )
        if problem:
            problems.append(f"{attack.name}: {problem}")
        problems += [f"{attack.name}: created {path}" for path in attack.paths(tmp_path) if path.exists()]
    assert problems == []
    assert not out.parent.exists()
    assert fingerprint(seeded) == before


def test_sql_answers_joins_aggregates_and_ctes(seeded: CrmStore) -> None:
    result = invoke(
        "sql",
        "WITH active AS (SELECT * FROM prospects WHERE NOT archived) "
        "SELECT a.tier, count(DISTINCT a.prospect_id) AS people, count(x.activity_id) AS activities "
        "FROM active a LEFT JOIN activities x USING (prospect_id) GROUP BY a.tier ORDER BY a.tier",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["tier,people,activities", "cold,1,0", "hot,1,2", "warm,1,1"]


def test_export_where_filters_with_bound_values(seeded: CrmStore, tmp_path: Path) -> None:
    out = tmp_path / "hot.csv"
    result = invoke(
        "export",
        "prospects",
        "--out",
        str(out),
        "--where",
        "tier = 'hot' AND first_name <> 'x''; DROP TABLE flags; --'",
    )
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        assert sorted(row["prospect_id"] for row in csv.DictReader(handle)) == ["p1", "p4"]
    assert seeded.count("flags") == 1


def test_a_database_error_is_one_line_not_a_traceback(seeded: CrmStore) -> None:
    result = invoke("sql", "SELECT no_such_column FROM prospects")
    assert result.exit_code == 1
    assert result.output.startswith("Error: query failed: ")
    assert len(result.output.strip().splitlines()) == 1


# As a process: the real exit code and stderr ------------------------------------------------------------------


@pytest.fixture
def process_env(seeded: CrmStore) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(("JENGU_", "DAGSTER_")) or k in {"PATH", "HOME"}}


def test_the_issues_attacks_fail_as_a_process_and_leave_no_file(
    process_env: dict[str, str], seeded: CrmStore, tmp_path: Path
) -> None:
    before = fingerprint(seeded)
    pth = tmp_path / "evil.pth"
    attempts = [
        ("sql", f"COPY (SELECT 'import os') TO '{pth}'"),
        ("sql", "SELECT * FROM read_csv('/etc/passwd')"),
        ("sql", "INSTALL httpfs"),
        ("sql", "SET enable_external_access = true"),
        ("sql", "SELECT 1; DROP TABLE prospects"),
        ("export", "prospects", "--out", str(tmp_path / "x.csv"), "--where", f"1=0; COPY prospects TO '{pth}'"),
    ]
    for args in attempts:
        result = jengu(*args, env=process_env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("Error: refused: "), (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in {"home", "dagster"}) == []
    assert fingerprint(seeded) == before


def test_postgres_reader_role_runs_jengu_sql_without_write_rights(
    process_env: dict[str, str], seeded: CrmStore, store_url: str
) -> None:
    if seeded.backend != "postgresql":
        pytest.skip("the reader role is PostgreSQL's")
    role = f"cli_reader_{uuid.uuid4().hex[:8]}"
    database = store_url.rsplit("/", 1)[1]
    with psycopg.connect(store_url, autocommit=True) as admin:
        admin.execute(
            f"CREATE ROLE {role} LOGIN NOSUPERUSER; GRANT CONNECT ON DATABASE {database} TO {role}; "
            f"GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
            f"ALTER ROLE {role} SET default_transaction_read_only = on"
        )
    owner = store_url.split("://", 1)[1].split("@", 1)[0]
    env = {**process_env, "JENGU_DATABASE_URL": store_url.replace(f"://{owner}@", f"://{role}@")}
    answered = jengu("sql", "SELECT count(*) FROM prospects WHERE tier = 'hot'", env=env)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == "2"
    refused = jengu("sql", "SELECT pg_read_file('/etc/hostname')", env=env)
    assert refused.returncode == 1
    assert "refused: function pg_read_file() is not allowed" in refused.stderr
