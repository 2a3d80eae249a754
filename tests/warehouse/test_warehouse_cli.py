"""`jengu warehouse publish` as an analyst runs it, on a seeded store on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from jengu_pipeline.cli import main
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.warehouse import WAREHOUSE_TABLES


@pytest.fixture
def cli_home(seeded: CrmStore, store_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """JENGU_HOME where the seeded DuckDB store is (``$JENGU_HOME/crm.duckdb``), or any folder on PostgreSQL."""
    monkeypatch.setenv("JENGU_HOME", str(tmp_path))
    monkeypatch.setenv("JENGU_INBOX_FILE", str(tmp_path / "no-inboxes.yaml"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_publish_json_gives_the_path_tables_and_row_counts(cli_home: Path) -> None:
    result = CliRunner().invoke(main, ["warehouse", "publish", "--json"])
    assert result.exit_code == 0, result.output
    payload = last_json(result.output)
    path = cli_home / "warehouse.duckdb"
    assert payload["path"] == str(path)
    with duckdb.connect(str(path), read_only=True) as reader:
        counts = {t: reader.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WAREHOUSE_TABLES}  # type: ignore[index]
    assert payload["tables"] == counts
    assert list(payload["tables"]) == list(WAREHOUSE_TABLES)  # type: ignore[arg-type]
    assert counts["dim_prospects"] == 12
    assert counts["fct_sends"] == 8
    assert payload["store_sent"] == 7
    assert payload["sending_rules"] == f"defaults ({cli_home / 'no-inboxes.yaml'} not found)"
    checks = payload["checks"]
    assert isinstance(checks, dict)
    assert len(checks) == 7
    assert all(checks.values())


def test_publish_prints_every_table_and_a_second_publish_replaces_the_file(cli_home: Path, seeded: CrmStore) -> None:
    first = CliRunner().invoke(main, ["warehouse", "publish"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"published {cli_home / 'warehouse.duckdb'}")
    for table in WAREHOUSE_TABLES:
        assert f"  {table} " in first.output
    seeded.run(lambda tx: tx.execute("UPDATE sends SET status = 'sent', sent_at = claimed_at WHERE send_id = 's05'"))
    second = CliRunner().invoke(main, ["warehouse", "publish", "--json"])
    assert second.exit_code == 0, second.output
    assert last_json(second.output)["store_sent"] == 8
    with duckdb.connect(str(cli_home / "warehouse.duckdb"), read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone() == (8,)


def test_an_invalid_inbox_file_is_one_line_naming_it_and_nothing_is_published(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = cli_home / "inboxes.yaml"
    broken.write_text("sending:\n  warmup_stage_days: 0\ninboxes: []\n")
    monkeypatch.setenv("JENGU_INBOX_FILE", str(broken))
    result = CliRunner().invoke(main, ["warehouse", "publish", "--json"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: warehouse not published: {broken}: ")
    assert f"{broken}: line 2: sending.warmup_stage_days" in result.output
    assert not (cli_home / "warehouse.duckdb").exists()
