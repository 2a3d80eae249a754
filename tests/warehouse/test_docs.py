"""docs/warehouse.md documents every table and column of a built warehouse, with the types it has, and every
example query in it runs on that warehouse."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.warehouse import MARTS, publish_warehouse

DOC = Path(__file__).parents[2] / "docs" / "warehouse.md"
TYPE_NAMES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def documented() -> dict[str, list[tuple[str, str, str]]]:
    """(column, type, meaning) per table, in the order the doc lists them."""
    tables: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if heading := re.fullmatch(r"### (\w+)", line):
            current = heading[1]
            tables[current] = []
        elif current and (row := re.fullmatch(r"\| `(\w+)` \| ([A-Z ]+) \| (.*) \|", line)):
            tables[current].append((row[1], row[2], row[3].strip()))
        elif line.startswith("## "):
            current = None
    return tables


def example_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.fixture
def built(seeded: CrmStore, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=datetime(2025, 2, 1, 6, 0, tzinfo=UTC))
    return duckdb.connect(str(path), read_only=True)


def test_every_table_and_column_is_documented_with_its_type(built: duckdb.DuckDBPyConnection) -> None:
    actual: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in built.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " ORDER BY table_name, ordinal_position"
    ).fetchall():
        actual.setdefault(table, []).append((column, TYPE_NAMES.get(kind, kind)))
    doc = documented()
    assert set(doc) == set(actual)
    for table, columns in actual.items():
        assert [(column, kind) for column, kind, _ in doc[table]] == columns, table
        assert all(meaning for _, _, meaning in doc[table]), table


def test_every_example_query_runs_and_the_funnel_one_gives_the_seeded_figures(
    built: duckdb.DuckDBPyConnection,
) -> None:
    queries = example_queries()
    assert len(queries) >= 10
    for query in queries:
        built.execute(query).fetchall()
    for mart in MARTS:
        assert any(mart in query for query in queries), f"no example query reads {mart}"
    funnel = next(query for query in queries if "FROM mart_funnel" in query)
    assert built.execute(funnel).fetchone() == (12, 11, 10, 8, 6, 2, 1, 0.5)
