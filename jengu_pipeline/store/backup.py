"""Backups of a DuckDB CRM store: ``EXPORT DATABASE`` into a folder, ``IMPORT DATABASE`` into a new store file.

A backup folder holds DuckDB's ``schema.sql`` and ``load.sql``, one Parquet file per table and ``jengu-backup.json``
(the schema version and every table's row count). It is written beside its final
name and renamed into place, so a folder under that name is always whole. A restore builds the new store beside
the target, checks every table's row count against the manifest, and only then renames it into place; it never
overwrites an existing store.

PostgreSQL stores are backed up with PostgreSQL's own ``pg_dump`` / ``pg_restore`` (README, "Backups"): they take a
consistent snapshot while the pipeline writes, which an export through this module could not.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jengu_pipeline.store.engine import Engine, StoreError, StoreUrl, Tx, redact_url
from jengu_pipeline.store.migrations import latest_version

MANIFEST = "jengu-backup.json"
BACKUP_FORMAT = "jengu-duckdb-export"
BACKUP_FORMAT_VERSION = 1
PG_DUMP_HINT = (
    "back up a PostgreSQL store with PostgreSQL's own tools: pg_dump --format=custom --file=jengu.dump "
    '"$JENGU_DATABASE_URL", restore into an empty database with pg_restore --no-owner --exit-on-error '
    '--dbname="$JENGU_DATABASE_URL" jengu.dump (README, Backups)'
)


class BackupError(StoreError):
    """A backup or restore that cannot be done as asked; nothing was written under the requested name."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    store: str
    schema_version: int
    tables: dict[str, int]
    created_at: str

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "store": self.store,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "rows": self.rows,
            "tables": self.tables,
        }


def _duckdb_path(store_url: str, action: str) -> Path:
    url = StoreUrl.parse(store_url)
    if url.backend != "duckdb":
        raise BackupError(
            f"jengu {action} handles DuckDB stores; {redact_url(store_url)} is PostgreSQL: {PG_DUMP_HINT}"
        )
    return Path(url.target)


def _literal(path: Path) -> str:
    """A path as a SQL string literal (EXPORT/IMPORT DATABASE take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _tables(tx: Tx) -> list[str]:
    return [
        row[0]
        for row in tx.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    ]


def _row_counts(tx: Tx) -> dict[str, int]:
    return {table: int(tx.fetch_value(f'SELECT count(*) FROM "{table}"')) for table in _tables(tx)}


def backup(store_url: str, out: Path, *, now: datetime) -> BackupSummary:
    """Export the DuckDB store at ``store_url`` into the new folder ``out`` (absent or empty)."""
    source = _duckdb_path(store_url, "backup")
    if not source.exists():
        raise BackupError(f"no DuckDB store at {source}: nothing to back up")
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder: a backup goes into a new folder")
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # the leftover of a backup that was cut off
    out.parent.mkdir(parents=True, exist_ok=True)

    def export(tx: Tx) -> tuple[dict[str, int], int]:
        counts = _row_counts(tx)
        version = int(tx.fetch_value("SELECT coalesce(max(version), 0) FROM schema_migrations"))
        tx.execute(f"EXPORT DATABASE {_literal(partial)} (FORMAT parquet)")  # sequences resume after their last id
        return counts, version

    engine = Engine(f"duckdb:///{source}")
    counts, version = engine.run(export, read_only=True)  # one snapshot: the counts and the files agree
    summary = BackupSummary(out, engine.display_url, version, counts, now.isoformat())
    manifest: dict[str, Any] = {"format": BACKUP_FORMAT, "format_version": BACKUP_FORMAT_VERSION}
    manifest |= {key: value for key, value in summary.to_json().items() if key not in ("folder", "rows")}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()
    partial.rename(out)
    return summary


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BackupError(f"{folder} is not a jengu backup: no {MANIFEST}") from error
    except json.JSONDecodeError as error:
        raise BackupError(f"{path}: line {error.lineno}: not JSON ({error.msg})") from error
    if manifest.get("format") != BACKUP_FORMAT or manifest.get("format_version") != BACKUP_FORMAT_VERSION:
        raise BackupError(
            f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r}; "
            f"this jengu reads {BACKUP_FORMAT!r} version {BACKUP_FORMAT_VERSION}"
        )
    return manifest


def restore(folder: Path, store_url: str) -> BackupSummary:
    """Build the DuckDB store at ``store_url`` (which must not exist yet) from the backup in ``folder``."""
    target = _duckdb_path(store_url, "restore")
    folder = folder.resolve()
    manifest = read_manifest(folder)
    version = int(manifest["schema_version"])
    if version > latest_version():
        raise BackupError(
            f"{folder}: the backup has schema version {version}, newer than this jengu's {latest_version()}: "
            "restore it with the release that wrote it"
        )
    leftovers = [p for p in (target, target.with_name(f"{target.name}.wal")) if p.exists()]
    if leftovers:
        raise BackupError(
            f"{leftovers[0]} exists: restore never overwrites a store; move it away (or point JENGU_HOME / "
            "JENGU_DATABASE_URL elsewhere) and run restore again"
        )
    expected: dict[str, int] = {name: int(rows) for name, rows in manifest["tables"].items()}
    building = target.with_name(f".{target.name}.restoring")
    for leftover in (building, building.with_name(f"{building.name}.wal")):
        leftover.unlink(missing_ok=True)

    def load(tx: Tx) -> None:
        tx.execute(f"IMPORT DATABASE {_literal(folder)}")
        found = _row_counts(tx)
        if found != expected:
            differ = sorted(t for t in expected.keys() | found.keys() if expected.get(t) != found.get(t))
            raise BackupError(
                f"{folder}: the restored tables do not match the manifest ({', '.join(differ)}): nothing was restored"
            )

    try:
        Engine(f"duckdb:///{building}").run(load)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, target)
    return BackupSummary(folder, f"duckdb:///{target}", version, expected, str(manifest["created_at"]))
