"""The ``jengu`` command. Each command group lives in its own module here; ``COMMANDS`` registers them."""

from __future__ import annotations

import click

from jengu_pipeline.cli.backup import backup_command, restore_command
from jengu_pipeline.cli.campaigns import campaign
from jengu_pipeline.cli.common import CliState, JenguGroup
from jengu_pipeline.cli.ingest import batches, export, import_command, sql
from jengu_pipeline.cli.integrity import integrity
from jengu_pipeline.cli.messages import messages
from jengu_pipeline.cli.metrics import metrics
from jengu_pipeline.cli.ops import demo, dev, health
from jengu_pipeline.cli.replies import replies
from jengu_pipeline.cli.sending import send, sending
from jengu_pipeline.cli.unsubscribe import unsubscribe
from jengu_pipeline.cli.warehouse import report, warehouse
from jengu_pipeline.sandbox.cli import sandbox_command


@click.group(cls=JenguGroup)
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of one line.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Jengu: a Dagster pipeline for hotel cold outreach. State lives in $JENGU_HOME (default ./.jengu)."""
    ctx.obj = CliState(debug=debug)


COMMANDS: tuple[click.Command, ...] = (
    import_command,
    export,
    sql,
    campaign,
    messages,
    send,
    sending,
    unsubscribe,
    replies,
    integrity,
    metrics,
    health,
    demo,
    dev,
    sandbox_command,
    warehouse,
    report,
    batches,
    backup_command,
    restore_command,
)
"""Every top-level command and group, one line each: a new group is one import and one line here."""

for command in COMMANDS:
    main.add_command(command)
