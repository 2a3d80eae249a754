"""``jengu messages``: see what was written, approve what waits for a person."""

from __future__ import annotations

import click

from jengu_pipeline.cli.common import CLI_ACTOR, emit_json, with_store
from jengu_pipeline.store.messages import approve as approve_messages
from jengu_pipeline.store.messages import list_messages

BODY_PREVIEW_CHARS = 300


@click.group(name="messages")
def messages() -> None:
    """Composed messages: list them, approve those of campaigns that require a person's approval."""


@messages.command(name="list")
@click.option("--status", type=click.Choice(["queued", "awaiting_approval", "rejected"]), default=None)
@click.option("--campaign", "campaign_id", default=None, help="Only this campaign's messages.")
@click.option("--batch", "batch_id", default=None, help="Only this batch's messages.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(status: str | None, campaign_id: str | None, batch_id: str | None, limit: int, as_json: bool) -> None:
    """Newest messages first, with subject, writer and any gate failures."""
    rows = with_store(
        lambda store: list_messages(store, status=status, campaign_id=campaign_id, batch_id=batch_id, limit=limit)
    )
    for row in rows:
        if as_json:
            emit_json(row)
            continue
        click.echo(
            f"{row['message_id']}  {row['status']:<17} {row['campaign_id']} step {row['step']}"
            f"  by {row['provider']}  prospect {row['prospect_id']}"
        )
        click.echo(f"  Subject: {row['subject']}")
        click.echo("  " + row["body"][:BODY_PREVIEW_CHARS].replace("\n", "\n  "))
        if row["gate_failures"] not in (None, "[]", []):
            click.echo(f"  gate: {row['gate_failures']}")
    if not as_json:
        click.echo(f"{len(rows)} messages")


@messages.command()
@click.argument("message_ids", nargs=-1, metavar="[MESSAGE_ID]...")
@click.option("--campaign", "campaign_id", default=None, help="Approve every message of this campaign that waits.")
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True, help="Who approves (kept on the message).")
@click.option("--json", "as_json", is_flag=True)
def approve(message_ids: tuple[str, ...], campaign_id: str | None, actor: str, as_json: bool) -> None:
    """Queue messages awaiting approval: the ids given, or all of --campaign."""
    if bool(message_ids) == bool(campaign_id):
        raise click.UsageError("give message ids or --campaign, not both")
    approved = with_store(
        lambda store: approve_messages(store, actor=actor, campaign_id=campaign_id, message_ids=message_ids)
    )
    if as_json:
        emit_json({"approved": approved})
    else:
        click.echo(f"{len(approved)} messages approved and queued")
