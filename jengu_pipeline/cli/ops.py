"""The ``jengu`` command: import, query, export, check health, run the demo, start the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import polars as pl

from jengu_pipeline.cli_campaigns import campaign
from jengu_pipeline.cli_common import emit_json
from jengu_pipeline.cli_messages import messages
from jengu_pipeline.cli_sending import send, sending
from jengu_pipeline.instance import (
    DAGSTER_PG_URL_VARIABLE,
    PROJECT_ROOT,
    dagster_instance,
    prepare_dagster_home,
)
from jengu_pipeline.sandbox.cli import sandbox_command
from jengu_pipeline.settings import Settings, get_settings
from jengu_pipeline.store import open_store
from jengu_pipeline.store.migrations import latest_version

PROVIDER_VARIABLES = {
    "brave": "JENGU_BRAVE_API_KEY",
    "google_cse": "JENGU_GOOGLE_CSE_API_KEY",
    "searxng": "JENGU_SEARXNG_BASE_URL",
    "millionverifier": "JENGU_MILLIONVERIFIER_API_KEY",
    "llm": "JENGU_LLM_API_KEY",
    "anthropic": "JENGU_ANTHROPIC_API_KEY",
    "hunter": "JENGU_HUNTER_API_KEY",
    "alerts": "JENGU_ALERT_WEBHOOK_URL",
    "smtp": "JENGU_SMTP_HOST",
}
"""Which environment variable configures each provider. Health reports names only, never values."""

@click.group()
def main() -> None:
    """Jengu: a Dagster pipeline for hotel cold outreach. State lives in $JENGU_HOME (default ./.jengu)."""


@main.command()
@click.argument("query")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
def sql(query: str, output_format: str) -> None:
    """Run a read-only SQL QUERY against the CRM store (DuckDB or PostgreSQL)."""
    try:
        frame = open_store(get_settings().store_url).query(query)
    except Exception as error:
        raise click.ClickException(f"query failed: {error}") from error
    if output_format == "csv":
        click.echo(frame.write_csv(), nl=False)
    elif output_format == "json":
        click.echo(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False))
    elif frame.shape == (1, 1):
        click.echo(frame.item())
    else:
        with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
            click.echo(frame)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def health(as_json: bool) -> None:
    """Check the store, the Dagster instance and which providers are configured (names only)."""
    settings = get_settings()
    checks: dict[str, Any] = {"store": _store_health(settings), "dagster_instance": _instance_health(settings)}
    checks["providers"] = {name: bool(os.environ.get(var)) for name, var in PROVIDER_VARIABLES.items()}
    healthy = checks["store"]["ok"] and checks["dagster_instance"]["ok"]
    if as_json:
        emit_json({"ok": healthy, **checks})
    else:
        for name in ("store", "dagster_instance"):
            check = checks[name]
            click.echo(f"{'ok  ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
        configured = [name for name, on in checks["providers"].items() if on]
        click.echo(f"     providers configured: {', '.join(configured) or 'none (sandbox or offline fallbacks)'}")
    sys.exit(0 if healthy else 1)


def _store_health(settings: Settings) -> dict[str, Any]:
    try:
        store = open_store(settings.store_url)
        version = store.schema_version()
    except Exception as error:
        return {"ok": False, "detail": f"unreachable: {type(error).__name__}: {_first_line(error)}"}
    ok = version >= latest_version()
    return {"ok": ok, "backend": store.backend, "schema_version": version,
            "detail": f"{store.display_url} schema v{version}" + ("" if ok else f" (expected v{latest_version()})")}


def _instance_health(settings: Settings) -> dict[str, Any]:
    try:
        instance = dagster_instance(settings)
        instance.get_runs(limit=1)
    except Exception as error:
        return {"ok": False, "detail": f"unreadable: {type(error).__name__}: {_first_line(error)}"}
    storage = "postgres" if os.environ.get(DAGSTER_PG_URL_VARIABLE) else "sqlite"
    return {"ok": True, "storage": storage, "detail": f"{storage} at DAGSTER_HOME={os.environ['DAGSTER_HOME']}"}


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


@main.command(name="import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object with the batch's counts.")
def import_command(file: Path, as_json: bool) -> None:
    """Import a prospect FILE (Sales Navigator export or CSV) as a batch and materialise it now."""
    from jengu_pipeline.imports import ImportFailedError, ProgressCallback, import_file

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
            summary = import_file(file, settings, instance, progress).summary
        except ImportFailedError as error:
            raise click.ClickException(str(error)) from error
    if as_json:
        emit_json({"batch_id": summary.batch_id, "rows": summary.rows, "accepted": summary.accepted,
                   "rejected": summary.rejected, "duplicates": summary.duplicates,
                   "new_prospects": summary.new_prospects})
    else:
        click.echo(f"batch {summary.batch_id}: {summary.rows} rows, {summary.accepted} accepted "
                   f"({summary.new_prospects} new, {summary.duplicates} duplicates), {summary.rejected} rejected")


EXPORTABLE_TABLES = ("prospects", "rejected_rows", "activities")


@main.command()
@click.argument("table", type=click.Choice(EXPORTABLE_TABLES))
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--where", "where", default=None, help="SQL condition, e.g. \"tier = 'hot' AND NOT archived\".")
def export(table: str, out: Path, where: str | None) -> None:
    """Export TABLE to a CSV that is safe to open in a spreadsheet (formula-like cells neutralised).

    The query runs in a read-only transaction, so ``--where`` can filter but never change anything.
    """
    from jengu_pipeline.domain.spreadsheet import neutralise_frame

    query = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
    try:
        frame = open_store(get_settings().store_url).query(query)
    except Exception as error:
        raise click.ClickException(f"export failed: {error}") from error
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    neutralise_frame(frame).write_csv(partial)
    partial.replace(out)
    click.echo(f"{frame.height} {table} rows written to {out}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object summarising the run.")
def demo(as_json: bool) -> None:
    """Run the main job on the sample batch, every provider played by the loopback SANDBOX (no keys, no
    internet), and measure the result against the sandbox's ground truth."""
    from jengu_pipeline.demo import run_demo

    summary = run_demo(get_settings(), quiet=as_json)
    if as_json:
        emit_json(summary)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address; loopback unless told.")
@click.option("--port", default=3000, show_default=True)
def dev(host: str, port: int) -> None:
    """Start the Dagster UI and daemon (``dagster dev``) on this project, bound to loopback by default."""
    prepare_dagster_home(get_settings())
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
               "-h", host, "-p", str(port)]
    raise SystemExit(subprocess.call(command, cwd=PROJECT_ROOT))


main.add_command(sandbox_command, name="sandbox")
main.add_command(campaign)
main.add_command(messages)
main.add_command(send)
main.add_command(sending)

if __name__ == "__main__":
    main()
