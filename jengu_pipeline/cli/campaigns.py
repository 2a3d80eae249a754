"""``jengu campaign``: load campaign files, assign and remove prospects, list campaigns, and move a campaign
through its lifecycle (pause, resume, complete)."""

from __future__ import annotations

from pathlib import Path

import click

from jengu_pipeline import clock
from jengu_pipeline.cli.common import CLI_ACTOR, emit_json, with_store
from jengu_pipeline.domain.campaign_lifecycle import CampaignAction, LifecycleError
from jengu_pipeline.store.campaign_lifecycle import StatusChange, change_status
from jengu_pipeline.store.campaigns import (
    MembershipChange,
    assign_by_rules,
    assign_manually,
    list_campaigns,
    load_campaigns,
    remove_manually,
)


def _report(campaign_id: str, change: MembershipChange, as_json: bool) -> None:
    if as_json:
        emit_json(
            {"campaign": campaign_id, "added": change.added, "removed": change.removed, "unchanged": change.unchanged}
        )
        return
    for prospect_id, variant in change.added.items():
        click.echo(f"added {prospect_id}" + (f" (variant {variant})" if variant else ""))
    for prospect_id in change.removed:
        click.echo(f"removed {prospect_id}")
    click.echo(
        f"{campaign_id}: {len(change.added)} added, {len(change.removed)} removed, {len(change.unchanged)} unchanged"
    )


@click.group(name="campaign")
def campaign() -> None:
    """Campaigns defined in campaigns/*.yaml: load them, manage who is in each."""


@campaign.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path("campaigns"),
    show_default=True,
    help="Folder of campaign files, one <name>.yaml per campaign.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def load(folder: Path, as_json: bool) -> None:
    """Validate every campaign file and store the definitions (all or none; unchanged files are skipped)."""
    result = with_store(lambda store: load_campaigns(store, folder))
    if as_json:
        emit_json({"added": result.added, "updated": result.updated, "unchanged": result.unchanged})
        return
    for label, names in (("added", result.added), ("updated", result.updated), ("unchanged", result.unchanged)):
        for name in names:
            click.echo(f"{label} {name}")


@campaign.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("prospect_ids", metavar="[PROSPECT_ID]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def assign(campaign_id: str, prospect_ids: tuple[str, ...], as_json: bool) -> None:
    """Add prospects to CAMPAIGN: the given ids, or without ids every eligible prospect its audience rules match."""
    if prospect_ids:
        change = with_store(lambda store: assign_manually(store, campaign_id, prospect_ids, actor=CLI_ACTOR))
    else:
        change = with_store(lambda store: assign_by_rules(store, campaign_id, actor=CLI_ACTOR))
    _report(campaign_id, change, as_json)


@campaign.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("prospect_ids", metavar="PROSPECT_ID...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def remove(campaign_id: str, prospect_ids: tuple[str, ...], as_json: bool) -> None:
    """Take prospects out of CAMPAIGN for good: its rules will not add them again."""
    change = with_store(lambda store: remove_manually(store, campaign_id, prospect_ids, actor=CLI_ACTOR))
    _report(campaign_id, change, as_json)


@campaign.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_command(as_json: bool) -> None:
    """Loaded campaigns with their status, dates and member counts."""
    rows = with_store(list_campaigns)
    if as_json:
        emit_json({"campaigns": rows})
        return
    if not rows:
        click.echo("no campaigns loaded (jengu campaign load)")
    for row in rows:
        by = f" by {row['status_changed_by']}: {row['status_reason']}" if row["status_changed_by"] else ""
        click.echo(
            f"{row['campaign_id']}  {row['status']}{by}  {row['starts_on']}..{row['ends_on']}"
            f"  {row['members']} members, {row['removed']} removed  ({row['source_file']})"
        )


def _change_status(campaign_id: str, action: CampaignAction, reason: str, as_json: bool) -> None:
    try:
        change: StatusChange = with_store(
            lambda store: change_status(store, campaign_id, action, actor=CLI_ACTOR, reason=reason, now=clock.now())
        )
    except LifecycleError as error:
        raise click.ClickException(f"campaign {campaign_id}: {error}") from error
    if as_json:
        emit_json(
            {"campaign": campaign_id, "from": change.before, "to": change.after, "sequences_stopped": change.stopped}
        )
        return
    stopped = f"; {change.stopped} running sequences stopped" if change.after == "completed" else ""
    click.echo(f"{campaign_id}: {change.before} -> {change.after}{stopped}")


_REASON = click.option("--reason", default="by an operator", show_default=True, help="Why (kept in the activity).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


@campaign.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@_REASON
@_JSON
def pause(campaign_id: str, reason: str, as_json: bool) -> None:
    """Pause an active CAMPAIGN: nothing more goes out for it (the claim re-checks) until it is resumed."""
    _change_status(campaign_id, "pause", reason, as_json)


@campaign.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@_REASON
@_JSON
def resume(campaign_id: str, reason: str, as_json: bool) -> None:
    """Resume a paused CAMPAIGN (also one the health guard paused): its due steps go out on the next ticks."""
    _change_status(campaign_id, "resume", reason, as_json)


@campaign.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@_REASON
@_JSON
def complete(campaign_id: str, reason: str, as_json: bool) -> None:
    """Complete CAMPAIGN for good: every running sequence stops and its unsent messages are cancelled."""
    _change_status(campaign_id, "complete", reason, as_json)
