"""Read-only SQL on the real store, both backends: every attack refused, nothing changed, real queries work.

Three walls are tested apart: the parser's allow-list (run_read_only_query / read_table), the hardened
connection with the parser bypassed (ReadOnlyEngine), and on PostgreSQL the documented reader role.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psycopg
import pytest
from psycopg import errors as pg_errors
from sql_attacks import ATTACKS, FILTER_ATTACKS, fingerprint, seed

from jengu_pipeline.domain.sql_guard import SqlRefused
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.read_only import ReadOnlyEngine, read_table, run_read_only_query

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def seeded(store: CrmStore) -> CrmStore:
    seed(store)
    return store


def test_every_attack_is_refused_with_its_reason_and_changes_nothing(seeded: CrmStore, tmp_path: Path) -> None:
    before = fingerprint(seeded)
    problems = []
    for attack in ATTACKS:
        if seeded.backend not in attack.backends:
            continue
        try:
            frame = run_read_only_query(seeded.engine, attack.text(tmp_path))
        except SqlRefused as error:
            message = str(error)
            if attack.refusal not in message.lower() or "\n" in message:
                problems.append(f"{attack.name}: refused with {message!r}, expected {attack.refusal!r}")
        else:
            problems.append(f"{attack.name}: ran and returned {frame.shape}")
        problems += [f"{attack.name}: created {path}" for path in attack.paths(tmp_path) if path.exists()]
    assert problems == []
    assert fingerprint(seeded) == before


def test_every_filter_injection_is_refused_and_changes_nothing(seeded: CrmStore, tmp_path: Path) -> None:
    before = fingerprint(seeded)
    problems = []
    for attack in FILTER_ATTACKS:
        try:
            frame = read_table(seeded.engine, "prospects", attack.text(tmp_path))
        except SqlRefused as error:
            if attack.refusal not in str(error).lower():
                problems.append(f"{attack.name}: refused with {str(error)!r}, expected {attack.refusal!r}")
        else:
            problems.append(f"{attack.name}: ran and returned {frame.height} rows")
        problems += [f"{attack.name}: created {path}" for path in attack.paths(tmp_path) if path.exists()]
    assert problems == []
    assert fingerprint(seeded) == before


LEGITIMATE = {
    "aggregate": (
        "SELECT tier, count(*) AS n, max(score) AS top FROM prospects GROUP BY tier ORDER BY tier",
        [("cold", 1, 10), ("hot", 2, 90), ("warm", 1, 55)],
    ),
    "join": (
        "SELECT p.first_name, count(a.activity_id) AS n FROM prospects p "
        "LEFT JOIN activities a ON a.prospect_id = p.prospect_id GROUP BY p.first_name ORDER BY n DESC, 1",
        [("Ana", 2), ("Per", 1), ("Mia", 0), ("O'Brien", 0)],
    ),
    "cte-union": (
        "WITH hot AS (SELECT prospect_id FROM prospects WHERE tier = 'hot') "
        "SELECT prospect_id FROM hot UNION SELECT prospect_id FROM activities WHERE type = 'reply' "
        "ORDER BY 1",
        [("p1",), ("p4",)],
    ),
    "window": (
        "SELECT prospect_id, rank() OVER (PARTITION BY batch_id ORDER BY score DESC) AS r FROM prospects "
        "ORDER BY prospect_id",
        [("p1", 1), ("p2", 2), ("p3", 2), ("p4", 1)],
    ),
    "like-percent-literal": (
        "SELECT company FROM prospects WHERE company LIKE '%50\\%%' ESCAPE '\\'",
        [("Alpenhof 50% off",)],
    ),
    "quotes-and-semicolon-in-a-string": (
        "SELECT count(*) FROM prospects WHERE first_name <> 'x; DROP TABLE flags' AND first_name LIKE '%''%'",
        [(1,)],
    ),
    "subquery-exists-case": (
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM flags WHERE value = 'off') THEN 'running' ELSE 'stopped' END",
        [("running",)],
    ),
    "dates": (
        "SELECT count(*) FROM prospects WHERE created_at > CAST('2000-01-01' AS DATE) "
        "AND date_trunc('day', created_at) <= current_date + 1",
        [(4,)],
    ),
    "information-schema": (
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'flags' "
        "AND table_schema = current_schema() ORDER BY ordinal_position LIMIT 2",
        [("name",), ("value",)],
    ),
    "comment-and-trailing-semicolon": (
        "-- how many are active\nSELECT count(*) FROM prospects /* all */ WHERE NOT archived;",
        [(3,)],
    ),
    "from-first-duckdb-or-select": ("SELECT count(DISTINCT batch_id) FROM prospects", [(2,)]),
}


@pytest.mark.parametrize("name", LEGITIMATE)
def test_legitimate_queries_keep_working(seeded: CrmStore, name: str) -> None:
    sql, expected = LEGITIMATE[name]
    assert run_read_only_query(seeded.engine, sql).rows() == expected


def test_parameters_are_bound(seeded: CrmStore) -> None:
    frame = run_read_only_query(
        seeded.engine, "SELECT first_name FROM prospects WHERE tier = ? AND score > ?", ["hot", 80]
    )
    assert frame.rows() == [("Ana",)]


def test_filters_select_the_rows_they_say(seeded: CrmStore) -> None:
    def ids(where: str | None) -> list[str]:
        return sorted(read_table(seeded.engine, "prospects", where)["prospect_id"].to_list())

    assert ids(None) == ["p1", "p2", "p3", "p4"]
    assert ids("NOT archived") == ["p1", "p2", "p3"]
    assert ids("tier = 'hot' AND NOT archived") == ["p1"]
    assert ids("TIER IN ('warm', 'cold') OR score >= 90") == ["p1", "p2", "p3"]
    assert ids("score BETWEEN 50 AND 80") == ["p2", "p4"]
    assert ids("lower(company) LIKE '%nordlys%' AND email IS NOT NULL") == ["p1", "p2"]
    assert ids("company ILIKE 'SEAVIEW'") == ["p4"]
    assert ids("first_name = 'O''Brien'") == ["p4"]
    assert ids("email IS NULL AND coalesce(email, 'none') = 'none'") == ["p3", "p4"]
    assert ids("created_at > DATE '2000-01-01' AND score > -1") == ["p1", "p2", "p3", "p4"]
    assert ids("tier = 'hot' --") == ["p1", "p4"]  # a trailing comment cannot comment out anything


def test_a_filter_on_another_table_uses_that_tables_columns(seeded: CrmStore) -> None:
    assert read_table(seeded.engine, "activities", "type = 'reply'")["title"].to_list() == ["interested"]
    with pytest.raises(SqlRefused, match="unknown column 'tier'"):
        read_table(seeded.engine, "activities", "tier = 'hot'")
    with pytest.raises(SqlRefused, match="not a table of the store"):
        read_table(seeded.engine, "nonexistent; DROP TABLE flags")


# The second wall: the connection itself, with the parser bypassed --------------------------------------------


def _raw(store: CrmStore, sql: str, timeout_seconds: float = 60.0) -> list[tuple[Any, ...]]:
    return ReadOnlyEngine(store.engine, timeout_seconds).run(lambda tx: tx.fetch_all(sql), read_only=True)


def test_duckdb_connection_cannot_touch_files_extensions_or_settings(seeded: CrmStore, tmp_path: Path) -> None:
    if seeded.backend != "duckdb":
        pytest.skip("DuckDB's connection settings; PostgreSQL has its own test")
    before = fingerprint(seeded)
    leak = pl.DataFrame({"secret": ["python variable"]})  # a replacement scan would find it by name
    attempts = {
        f"COPY (SELECT * FROM prospects) TO '{tmp_path}/out.csv'": "file system operations are disabled",
        f"COPY (SELECT 'import os') TO '{tmp_path}/evil.pth'": "file system operations are disabled",
        "SELECT * FROM read_csv('/etc/passwd')": "file system operations are disabled",
        "SELECT * FROM glob('/etc/*')": "file system operations are disabled",
        f"ATTACH '{tmp_path}/other.duckdb' AS other": "file system operations are disabled",
        "INSTALL httpfs": "file system operations are disabled",
        "LOAD httpfs": "disabled",
        "SET enable_external_access = true": "configuration has been locked",
        "SET threads = 1": "configuration has been locked",
        "RESET lock_configuration": "locked",
        "DELETE FROM flags": "read-only",
        "CREATE TABLE loot AS SELECT * FROM prospects": "read-only",
        "SELECT * FROM leak": "does not exist",
    }
    problems = []
    for sql, refusal in attempts.items():
        try:
            rows = _raw(seeded, sql)
        except duckdb.Error as error:
            if refusal not in str(error).lower():
                problems.append(f"{sql}: {error}")
        else:
            problems.append(f"{sql}: ran, returned {rows}")
    assert problems == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.duckdb"]
    assert fingerprint(seeded) == before
    assert leak.height == 1


def _postgres(store: CrmStore) -> None:
    if store.backend != "postgresql":
        pytest.skip("PostgreSQL's read-only transaction; DuckDB has its own test")


def test_postgres_transaction_is_read_only_single_statement_and_timed(seeded: CrmStore) -> None:
    _postgres(seeded)
    before = fingerprint(seeded)
    with pytest.raises(pg_errors.SyntaxError, match="multiple commands"):
        _raw(seeded, "SELECT 1; DELETE FROM flags")
    for sql in (
        "DELETE FROM flags",
        "CREATE TABLE loot (a int)",
        "SELECT nextval('activity_ids')",
        "WITH gone AS (DELETE FROM flags RETURNING *) SELECT count(*) FROM gone",
    ):
        with pytest.raises(pg_errors.ReadOnlySqlTransaction):
            _raw(seeded, sql)
    with pytest.raises(pg_errors.ActiveSqlTransaction):
        _raw(seeded, "SET TRANSACTION READ WRITE")
    with pytest.raises(pg_errors.QueryCanceled, match="statement timeout"):
        _raw(seeded, "SELECT pg_sleep(5)", timeout_seconds=0.3)
    assert _raw(
        seeded,
        "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout')",
        timeout_seconds=2,
    ) == [("on", "2s")]
    assert fingerprint(seeded) == before


def _readme_role_sql() -> str:
    section = README.read_text(encoding="utf-8").split("<!-- read-only-sql:start -->", 1)[1]
    section = section.split("<!-- read-only-sql:end -->", 1)[0]
    match = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert match, "README's read-only SQL section has no sql block"
    return match.group(1)


def test_postgres_documented_reader_role_has_no_file_access(seeded: CrmStore, store_url: str, tmp_path: Path) -> None:
    _postgres(seeded)
    role = f"jengu_reader_{uuid.uuid4().hex[:8]}"
    database = store_url.rsplit("/", 1)[1]
    owner = store_url.split("://", 1)[1].split("@", 1)[0]
    script = (
        _readme_role_sql()
        .replace("jengu_reader", role)
        .replace("DATABASE jengu", f"DATABASE {database}")
        .replace("FOR ROLE jengu ", f"FOR ROLE {owner} ")
    )
    with psycopg.connect(store_url, autocommit=True) as admin:
        admin.execute(script)
    reader_url = store_url.replace(f"://{owner}@", f"://{role}:unused@")
    reader = CrmStore(reader_url)
    assert reader.is_current()
    before = fingerprint(seeded)
    for sql, error in (
        ("SELECT pg_read_file('/etc/hostname')", pg_errors.InsufficientPrivilege),
        ("SELECT * FROM pg_ls_dir('/')", pg_errors.InsufficientPrivilege),
        ("SELECT lo_import('/etc/hostname')", pg_errors.InsufficientPrivilege),
        (f"COPY (SELECT 1) TO '{tmp_path}/role.csv'", pg_errors.InsufficientPrivilege),
        ("COPY prospects TO PROGRAM 'touch /tmp/jengu-owned'", pg_errors.InsufficientPrivilege),
        ("SELECT * FROM pg_authid", pg_errors.InsufficientPrivilege),
    ):
        with pytest.raises(error):
            _raw(reader, sql)
    assert not (tmp_path / "role.csv").exists()
    assert run_read_only_query(reader.engine, "SELECT count(*) FROM prospects").item() == 4
    assert read_table(reader.engine, "prospects", "tier = 'hot'").height == 2
    assert fingerprint(seeded) == before
    assert open_store(store_url).count("flags") == 1
