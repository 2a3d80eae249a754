"""``jengu warehouse publish`` builds the analysts' DuckDB warehouse now, publishes it atomically and checks it;
``jengu report`` draws the published warehouse as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from jengu_pipeline.assets.warehouse import check_outcomes, publish
from jengu_pipeline.cli.common import emit_json
from jengu_pipeline.domain.yaml_files import ConfigFileError
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import StoreError, open_store
from jengu_pipeline.store.warehouse_report import write_report


@click.group(name="warehouse")
def warehouse() -> None:
    """The analysts' DuckDB warehouse ($JENGU_HOME/warehouse.duckdb): dims, facts and marts of the CRM store."""


@warehouse.command(name="publish")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Last line: {"path", "tables": {table: rows}, "built_at", "seconds", "store_sent", "schema_version", '
    '"sending_rules", "checks": {check: passed}}.',
)
def publish_command(as_json: bool) -> None:
    """Copy the CRM store into a new warehouse file, replace the published one with it in one rename (readers
    holding the old file keep reading it), then check it against the store.

    Exit status: 0 when it is published and every check passes, 1 otherwise.
    """
    settings = get_settings()
    sending = resources()["sending"]  # the same inbox file (JENGU_INBOX_FILE) the sending ticks read
    assert isinstance(sending, SendingResource)
    try:
        crm = open_store(settings.store_url)
        published, rules_source = publish(crm, sending, settings.warehouse_path)
        checks = check_outcomes(published.path, crm)
    except (ConfigFileError, StoreError) as error:
        raise click.ClickException(f"warehouse not published: {error}") from error
    if as_json:
        emit_json(
            {
                **published.to_json(),
                "sending_rules": rules_source,
                "checks": {name: outcome.passed for name, outcome in checks.items()},
            }
        )
    else:
        click.echo(f"published {published.path} in {published.seconds:.2f}s (sending rules: {rules_source})")
        width = max(len(table) for table in published.tables)
        for table, rows in published.tables.items():
            click.echo(f"  {table:<{width}}  {rows:>9}")
    failed = [name for name, outcome in checks.items() if not outcome.passed]
    for name in failed:
        click.echo(f"check failed: {name}: {checks[name].metadata}", err=True)
    click.get_current_context().exit(1 if failed else 0)


@click.command(name="report")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write (replaced whole).",
)
def report(out: Path) -> None:
    """Write the outreach report of the published warehouse: one self-contained HTML page (charts of the funnel,
    campaign arms, inbox health, replies by intent and provider cost, with the tables behind them) that opens
    offline. Run `jengu warehouse publish` first for today's figures."""
    try:
        size = write_report(get_settings().warehouse_path, out)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {out} ({size / 1_000_000:.1f} MB, opens offline)")
