"""``jengu replies classify|fetch|reclassify``: the reply classifier on files, one ingestion pass, and a redo."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click

from jengu_pipeline import clock
from jengu_pipeline.cli.common import emit_json, first_line, with_store
from jengu_pipeline.domain.inboxes import InboxFile, InboxFileError
from jengu_pipeline.domain.replies import ReplyClassification
from jengu_pipeline.instance import dagster_instance
from jengu_pipeline.resources.replies import ReplyMailboxResource, ReplySourceError, reclassify, unsubscribe_addresses
from jengu_pipeline.resources.reply_classifier import ReplyClassifier
from jengu_pipeline.resources.wiring import mailbox_resource
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.ticks import TickFailedError, run_replies_tick

CSV_COLUMNS = ("file", "category", "failed_recipients", "detail", "return_date")


def _messages(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Every message file under the paths: ``.eml`` files, and every file of a Maildir's ``new`` and ``cur``."""
    for path in paths:
        if path.is_file():
            yield path
        elif (path / "new").is_dir() or (path / "cur").is_dir():
            for folder in ("new", "cur"):
                yield from sorted(p for p in (path / folder).glob("*") if p.is_file())
        else:
            yield from sorted(path.rglob("*.eml"))


def _row(path: Path, result: ReplyClassification) -> dict[str, str]:
    return {
        "file": str(path),
        "category": result.category,
        "failed_recipients": ";".join(f.email for f in result.failed_recipients),
        "detail": result.detail or "",
        "return_date": result.return_date.isoformat() if result.return_date else "",
    }


@click.group()
def replies() -> None:
    """Replies: classify message files, read the reply mailboxes now, or classify stored replies again."""


@replies.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "output", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--received-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day the mail arrived, for return dates written without a year (default: each file's Date).",
)
@click.option(
    "--unsubscribe-address",
    "unsubscribe",
    multiple=True,
    help="A mailto: unsubscribe mailbox; mail to it is an unsubscribe (default: the inbox file's).",
)
@click.option("--llm", is_flag=True, help="Ask the configured LLM for a second opinion on a person's intent.")
def classify(
    paths: tuple[Path, ...], output: str, received_on: datetime | None, unsubscribe: tuple[str, ...], llm: bool
) -> None:
    """Classify .eml files (or Maildirs) without changing the store (--llm records its calls in the ledger)."""
    files = list(_messages(paths))
    if not files:
        raise click.ClickException(f"no message files found in {', '.join(map(str, paths))}")
    mailboxes = mailbox_resource()
    config = _inbox_config(mailboxes) if llm or not unsubscribe else None
    classifier = (
        mailboxes.classifier(open_store(get_settings().store_url), config, llm=True)
        if llm
        else ReplyClassifier(unsubscribe_addresses(config))
    )
    if llm and classifier.chat is None:
        raise click.ClickException("--llm: no LLM is configured (JENGU_LLM_API_KEY, JENGU_LLM_BASE_URL, ...)")
    if unsubscribe:
        classifier.unsubscribe = frozenset(address.lower() for address in unsubscribe)
    day = received_on.date() if received_on else None
    results = classifier.classify([(path.read_bytes(), day) for path in files])
    writer = csv.DictWriter(sys.stdout, CSV_COLUMNS, lineterminator="\n") if output == "csv" else None
    if writer is not None:
        writer.writeheader()
    for path, (_, result) in zip(files, results, strict=True):
        row = _row(path, result)
        if writer is not None:
            writer.writerow(row)
        else:
            click.echo(json.dumps({**row, "language": result.language, "signals": list(result.signals)}))
    counts = Counter(result.category for _, result in results)
    click.echo(", ".join(f"{category} {n}" for category, n in counts.most_common()), err=True)


def _inbox_config(mailboxes: ReplyMailboxResource) -> InboxFile | None:
    """The inbox file when there is a valid one: classifying files works without it."""
    try:
        return mailboxes.inbox_config()
    except InboxFileError as error:
        click.echo(f"note: inbox file not used: {first_line(error)}", err=True)
        return None


@replies.command("fetch")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line: the pass's counts.")
def fetch(as_json: bool) -> None:
    """Read every reply mailbox once now (as replies_job does), classify what is new and act on it."""
    try:
        summary = run_replies_tick(dagster_instance(get_settings()))
    except (TickFailedError, ReplySourceError) as error:
        raise click.ClickException(first_line(error)) from error
    categories = summary.get("this_pass_by_category") or {}
    click.echo(
        f"read {summary.get('read', 0)}, stored {summary.get('stored', 0)}, duplicates {summary.get('duplicates', 0)},"
        f" processed {summary.get('processed', 0)}, suppressed {summary.get('suppressed', 0)},"
        f" stopped {summary.get('sequences_stopped', 0)}, paused {summary.get('sequences_paused', 0)}"
    )
    for category, count in sorted(categories.items()):
        click.echo(f"  {category:<15} {count}")
    if as_json:
        emit_json({key: summary[key] for key in summary if key != "preview"})


@replies.command("reclassify")
@click.argument("reply_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every stored reply.")
@click.option("--llm", is_flag=True, help="With the LLM's second opinion on intent (default: JENGU_REPLY_LLM).")
@click.option("--json", "as_json", is_flag=True)
def reclassify_command(reply_ids: tuple[str, ...], every: bool, llm: bool, as_json: bool) -> None:
    """Classify stored replies again from their raw bytes (after a classifier change); prints what changed."""
    if not reply_ids and not every:
        raise click.UsageError("name reply ids, or --all")

    def work(store: CrmStore) -> list[tuple[str, str | None, str]]:
        ids = reply_ids or tuple(store.query("SELECT reply_id FROM replies ORDER BY received_at")["reply_id"])
        mailboxes = mailbox_resource()
        classifier = mailboxes.classifier(store, mailboxes.inbox_config(), llm=llm or None)
        return reclassify(store, list(ids), now=clock.now, classifier=classifier)

    changes = with_store(work)
    changed = [(reply_id, old, new) for reply_id, old, new in changes if old != new]
    for reply_id, old, new in changed:
        click.echo(f"{reply_id}: {old} -> {new}")
    click.echo(f"{len(changes)} replies classified again, {len(changed)} changed")
    if as_json:
        emit_json({"classified": len(changes), "changed": [{"reply_id": r, "from": o, "to": n} for r, o, n in changed]})
