"""``jengu integrity check`` and ``jengu integrity repair``: the store's integrity rules from the command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import click

from jengu_pipeline import clock
from jengu_pipeline.cli.common import CLI_ACTOR, emit_json, first_line
from jengu_pipeline.domain.integrity import (
    RULES,
    RULES_BY_NAME,
    Finding,
    IntegrityPolicy,
    check_exit_code,
    needs_a_person,
    repair_exit_code,
    summary_line,
)
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store import integrity as integrity_store

RULE_NAMES = [rule.name for rule in RULES]


class StoreUnavailable(click.ClickException):
    """The rules could not be run at all: exit 2, so a script tells "found problems" (1) from "could not look"."""

    exit_code = 2


def _against_store(work: Callable[[CrmStore], list[Finding]]) -> list[Finding]:
    try:
        return work(open_store(get_settings().store_url))
    except Exception as error:
        raise StoreUnavailable(f"integrity rules could not run: {first_line(error)}") from error


def _policy(stale_days: int) -> IntegrityPolicy:
    return IntegrityPolicy(stale_after=timedelta(days=stale_days))


def _print(findings: Sequence[Finding], *, repairing: bool) -> None:
    width = max(len(rule) for rule in RULE_NAMES)
    for f in findings:
        fixed = f"  repaired {f.repaired}" if repairing and f.repaired else ""
        kind = "safe to repair" if f.repairable else "needs a person"
        examples = f"  e.g. {', '.join(f.examples[:5])}" if f.examples else ""
        click.echo(f"{f.rule:<{width}}  {f.count:>6}  {kind}{fixed}{examples}")
    click.echo(summary_line(findings))


_rule_option = click.option(
    "--rule",
    "rules",
    multiple=True,
    type=click.Choice(RULE_NAMES),
    help="Only this rule (repeatable); default: every rule.",
)
_stale_option = click.option(
    "--stale-days",
    default=90,
    show_default=True,
    type=click.IntRange(min=1),
    help="Days without activity before a prospect in stage `new` counts as stale.",
)


@click.group(name="integrity")
def integrity() -> None:
    """Check the CRM store against its integrity rules, and repair what is safe to repair."""


@integrity.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Last line: {"findings": [{"rule", "count", "examples", "repairable"}, ...]}, every rule listed.',
)
@_rule_option
@_stale_option
def check(as_json: bool, rules: tuple[str, ...], stale_days: int) -> None:
    """Run every integrity rule and report what each found; reads only.

    Exit status: 0 when every rule is clean, 1 when any rule found something, 2 when the store could not be
    checked.
    """
    findings = _against_store(
        lambda store: integrity_store.check(store, clock.now(), policy=_policy(stale_days), rules=list(rules) or None)
    )
    if as_json:
        emit_json({"findings": [f.to_json() for f in findings]})
    else:
        _print(findings, repairing=False)
    click.get_current_context().exit(check_exit_code(findings))


@integrity.command()
@click.option("--dry-run", is_flag=True, help="Say what a repair would do; change nothing.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Last line: {"findings": [...], "repaired": {rule: n}, "dry_run": bool}; each finding is as '
    "found before its repair.",
)
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True, help="Who the activities name.")
@_rule_option
@_stale_option
def repair(dry_run: bool, as_json: bool, actor: str, rules: tuple[str, ...], stale_days: int) -> None:
    """Repair what is safe (expired leases, stale claims, messages to suppressed or archived prospects, counters
    and stages behind the ledger, stale new prospects) and list what needs a person. A second repair finds
    nothing more to do.

    Exit status: 0 when nothing is left to do; 1 when a finding needs a person (or, with --dry-run, when a
    repair would change something); 2 when the store could not be reached.
    """
    at = clock.now()

    def run(store: CrmStore) -> list[Finding]:
        found = integrity_store.repair(
            store, dry_run=dry_run, now=at, actor=actor, policy=_policy(stale_days), rules=list(rules) or None
        )
        if not dry_run:
            integrity_store.record_findings(store, found, mode="repair", actor=actor, at=at)
        return found

    findings = _against_store(run)
    if as_json:
        emit_json(
            {
                "findings": [f.to_json() for f in findings],
                "repaired": {f.rule: f.repaired for f in findings if f.repaired},
                "dry_run": dry_run,
            }
        )
    else:
        _print(findings, repairing=not dry_run)
        for f in needs_a_person(findings):
            click.echo(f"needs a person: {f.rule} ({f.count}): {RULES_BY_NAME[f.rule].description}")
    click.get_current_context().exit(repair_exit_code(findings, dry_run=dry_run))
