"""``jengu campaign``: load campaign files, assign and remove prospects, list campaigns."""

from __future__ import annotations

from pathlib import Path

import click

from jengu_pipeline.cli.common import CLI_ACTOR, emit_json, with_store
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
        click.echo(
            f"{row['campaign_id']}  {row['status']}  {row['starts_on']}..{row['ends_on']}"
            f"  {row['members']} members, {row['removed']} removed  ({row['source_file']})"
        )
