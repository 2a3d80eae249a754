"""``jengu import``, ``jengu batches``, ``jengu export`` and ``jengu sql``: prospects in, where each batch stands,
rows out, read-only questions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import click
import duckdb
import polars as pl
import psycopg

from jengu_pipeline.cli.common import debug_enabled, emit_json, first_line
from jengu_pipeline.domain.sql_guard import SqlRefused
from jengu_pipeline.instance import dagster_instance
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, StoreError, open_store
from jengu_pipeline.store.ingest import BatchStatus, batch_statuses
from jengu_pipeline.store.read_only import read_table, run_read_only_query

EXPORTABLE_TABLES = ("prospects", "rejected_rows", "activities")


@click.command()
@click.argument("query")
@click.option(
    "--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
def sql(query: str, output_format: str) -> None:
    """Run one read-only SELECT against the CRM store (DuckDB or PostgreSQL).

    The query is parsed and checked first (README, "Read-only SQL"): files, extensions, settings and every
    statement but one SELECT are refused with the reason, and the connection itself is read-only.
    """
    frame = _read(lambda store: run_read_only_query(store.engine, query), "query failed")
    if output_format == "csv":
        click.echo(frame.write_csv(), nl=False)
    elif output_format == "json":
        click.echo(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False))
    elif frame.shape == (1, 1):
        click.echo(frame.item())
    else:
        with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
            click.echo(frame)


@click.command(name="import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object with the batch's counts.")
def import_command(file: Path, as_json: bool) -> None:
    """Import a prospect FILE (Sales Navigator export or CSV) as a batch and materialise it now.

    A file that cannot be imported is refused in one line naming it and the reason, exit 1, with nothing staged
    (``jengu --debug import`` shows the traceback and the run's log).
    """
    from jengu_pipeline.imports import QUIET_CONSOLE, SILENT_CONSOLE, ImportFailedError, ProgressCallback, import_file

    settings = get_settings()
    instance = dagster_instance(settings)
    with ExitStack() as stack:
        progress: ProgressCallback | None = None
        if not as_json and sys.stderr.isatty():
            bar = stack.enter_context(click.progressbar(length=1, label=f"importing {file.name}", file=sys.stderr))

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

        try:
            console = QUIET_CONSOLE if debug_enabled() else SILENT_CONSOLE
            imported = import_file(file, settings, instance, progress=progress, console=console)
        except ImportFailedError as error:
            raise click.ClickException(str(error)) from error
    summary = imported.summary
    if as_json:
        emit_json(
            {
                "batch_id": summary.batch_id,
                "rows": summary.rows,
                "accepted": summary.accepted,
                "rejected": summary.rejected,
                "duplicates": summary.duplicates,
                "new_prospects": summary.new_prospects,
                "state": imported.state,
            }
        )
    else:
        click.echo(
            f"batch {summary.batch_id} {imported.state}: {summary.rows} rows, {summary.accepted} accepted "
            f"({summary.new_prospects} new, {summary.duplicates} duplicates), {summary.rejected} rejected"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Last line: one JSON object, {"batches": [...]}.')
def batches(as_json: bool) -> None:
    """Every import batch, newest first, with its state (importing, imported, failed), counts and reason.

    A batch left ``importing`` by an import whose process died is marked ``failed`` first: import its file again
    to redo it.
    """
    from jengu_pipeline.imports import settle_abandoned_batches

    settings = get_settings()
    store = open_store(settings.store_url)
    settle_abandoned_batches(store, dagster_instance(settings))
    statuses = batch_statuses(store)
    if as_json:
        emit_json({"batches": [_status_json(status) for status in statuses]})
        return
    if not statuses:
        click.echo("no batches")
    for status in statuses:
        counts = status.summary
        line = (
            f"{status.batch_id}  {status.state:<9}  {counts.rows} rows, {counts.accepted} accepted, "
            f"{counts.rejected} rejected  {status.updated_at:%Y-%m-%d %H:%M} UTC"
        )
        click.echo(line + (f"  ({status.reason})" if status.reason else ""))


def _status_json(status: BatchStatus) -> dict[str, object]:
    counts = status.summary
    return {
        "batch_id": status.batch_id,
        "name": status.name,
        "state": status.state,
        "reason": status.reason,
        "run_id": status.run_id,
        "updated_at": status.updated_at.isoformat(),
        "rows": counts.rows,
        "accepted": counts.accepted,
        "rejected": counts.rejected,
        "duplicates": counts.duplicates,
        "new_prospects": counts.new_prospects,
    }


@click.command()
@click.argument("table", type=click.Choice(EXPORTABLE_TABLES))
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--where", "where", default=None, help="SQL condition, e.g. \"tier = 'hot' AND NOT archived\".")
def export(table: str, out: Path, where: str | None) -> None:
    """Export TABLE to a CSV that is safe to open in a spreadsheet (formula-like cells neutralised).

    ``--where`` is one condition on the table's columns, parsed and bound (never pasted into the query), run
    on a read-only connection: it can filter but never change anything.
    """
    from jengu_pipeline.domain.spreadsheet import neutralise_frame

    frame = _read(lambda store: read_table(store.engine, table, where), "export failed")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    neutralise_frame(frame).write_csv(partial)
    partial.replace(out)
    click.echo(f"{frame.height} {table} rows written to {out}")


def _read(work: Callable[[CrmStore], pl.DataFrame], failure: str) -> pl.DataFrame:
    """Run a person's read on the store: a refusal or a database error is one line and exit 1.

    The store is migrated only when it is behind, so that a reader role without write rights can run this.
    """
    try:
        store = CrmStore(get_settings().store_url)
        if not store.is_current():
            store.migrate()
        return work(store)
    except SqlRefused as error:
        raise click.ClickException(f"refused: {error}") from error
    except (StoreError, duckdb.Error, psycopg.Error) as error:
        raise click.ClickException(f"{failure}: {first_line(error)}") from error
