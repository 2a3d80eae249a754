"""``jengu backup --out DIR`` and ``jengu restore DIR``: a DuckDB store to a folder and back (PostgreSQL: pg_dump)."""

from __future__ import annotations

from pathlib import Path

import click

from jengu_pipeline import clock
from jengu_pipeline.cli.common import emit_json
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import StoreError
from jengu_pipeline.store.backup import BackupSummary, backup, restore


def _report(action: str, summary: BackupSummary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.to_json())
        return
    non_empty = sum(1 for rows in summary.tables.values() if rows)
    click.echo(
        f"{action} {summary.store}: {len(summary.tables)} tables ({non_empty} with rows), {summary.rows} rows, "
        f"schema v{summary.schema_version}, backup of {summary.created_at}, folder {summary.folder}"
    )


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="A new (or empty) folder.")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object (folder, tables, rows, ...).")
def backup_command(out: Path, as_json: bool) -> None:
    """Export the DuckDB store (schema, then one Parquet file per table) into a new folder. PostgreSQL: pg_dump."""
    try:
        summary = backup(get_settings().store_url, out, now=clock.now())
    except StoreError as error:
        raise click.ClickException(str(error)) from error
    _report("backed up", summary, as_json)


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object (folder, tables, rows, ...).")
def restore_command(folder: Path, as_json: bool) -> None:
    """Build the DuckDB store from a backup folder; refuses when a store is already there. PostgreSQL: pg_restore."""
    try:
        summary = restore(folder, get_settings().store_url)
    except StoreError as error:
        raise click.ClickException(str(error)) from error
    _report("restored", summary, as_json)
