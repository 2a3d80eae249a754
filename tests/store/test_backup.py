"""`jengu backup` / `jengu restore` round-trip a DuckDB store table for table, and refuse what they cannot do well."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parents[1] / "integrity"))  # the integrity tests' world of broken states
from integrity_seeds import SEEDS, baseline, seed, snapshot

from jengu_pipeline.cli import main
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.backup import MANIFEST


def jengu(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def filled_store(jengu_home: Path) -> CrmStore:
    """The configured DuckDB store holding every kind of row the integrity tests know, activities included."""
    store = open_store(get_settings().store_url)
    seed(store, baseline, *(step for step, _, _ in SEEDS.values()))
    for n in range(3):  # ids from the activity sequence, which a restore must continue, not repeat
        store.add_activity("note", f"before the backup {n}")
    return store


def test_backup_then_restore_gives_back_every_table_row_for_row(filled_store: CrmStore, tmp_path: Path) -> None:
    before = snapshot(filled_store)
    non_empty = [table for table, rows in before.items() if rows]
    assert len(non_empty) >= 12, f"the seeds should fill most tables, filled {non_empty}"

    out = tmp_path / "backup-1"
    made = jengu("backup", "--out", str(out), "--json")
    assert made.exit_code == 0, made.output
    report = json.loads(made.output.splitlines()[-1])
    assert report["tables"] == {table: len(rows) for table, rows in before.items()}
    assert (out / MANIFEST).is_file()
    assert not (tmp_path / ".backup-1.partial").exists()

    store_file = get_settings().duckdb_path
    store_file.rename(tmp_path / "lost.duckdb")  # the disk is gone
    restored = jengu("restore", str(out), "--json")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.output.splitlines()[-1])["rows"] == sum(len(rows) for rows in before.values())

    after = snapshot(open_store(get_settings().store_url))
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], f"{table} differs after the round trip"

    store = open_store(get_settings().store_url)
    store.add_activity("note", "after the restore")  # the sequence goes on after the last exported id
    ids = store.query("SELECT activity_id FROM activities")["activity_id"].to_list()
    assert len(ids) == len(set(ids)) == len(before["activities"]) + 1


def test_restore_never_overwrites_a_store_and_checks_the_manifest(filled_store: CrmStore, tmp_path: Path) -> None:
    out = tmp_path / "backup"
    assert jengu("backup", "--out", str(out)).exit_code == 0
    before = snapshot(filled_store)
    filled_store.add_activity("note", "written after the backup")

    refused = jengu("restore", str(out))
    assert refused.exit_code == 1
    assert "restore never overwrites a store" in refused.output
    assert len(snapshot(filled_store)["activities"]) == len(before["activities"]) + 1

    manifest = json.loads((out / MANIFEST).read_text())
    manifest["tables"]["prospects"] += 1  # a backup that lost rows (or a hand-edited one)
    (out / MANIFEST).write_text(json.dumps(manifest))
    get_settings().duckdb_path.rename(tmp_path / "moved-away.duckdb")
    mismatch = jengu("restore", str(out))
    assert mismatch.exit_code == 1
    assert "do not match the manifest (prospects)" in mismatch.output
    assert not get_settings().duckdb_path.exists(), "a failed restore leaves no store behind"

    assert jengu("backup", "--out", str(out)).exit_code == 1  # not over a folder that holds something
    not_a_backup = tmp_path / "empty"
    not_a_backup.mkdir()
    assert "is not a jengu backup" in jengu("restore", str(not_a_backup)).output


@pytest.mark.postgres
def test_postgresql_store_is_refused_with_the_pg_dump_commands(
    jengu_home: Path, postgres_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JENGU_DATABASE_URL", f"{postgres_server}/postgres")
    get_settings.cache_clear()
    for args in (("backup", "--out", str(tmp_path / "b")), ("restore", str(tmp_path))):
        result = jengu(*args)
        assert result.exit_code == 1
        assert "pg_dump --format=custom" in result.output
        assert "pg_restore" in result.output
    assert not (tmp_path / "b").exists()
