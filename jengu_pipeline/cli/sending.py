"""``jengu send --once`` (one tick by hand) and ``jengu sending`` (emergency stop, inbox pause, held sends)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from jengu_pipeline import clock
from jengu_pipeline.cli.common import CLI_ACTOR, emit_json, with_store
from jengu_pipeline.instance import dagster_instance
from jengu_pipeline.resources.sending import SendingConfigError, SendingResource, preflight
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import sending as ledger
from jengu_pipeline.ticks import TickFailedError, run_sending_tick


@click.command()
@click.option("--once", is_flag=True, required=True, help="Run exactly one tick now (the schedule runs the rest).")
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="SANDBOX only: run the tick as if it were this UTC time.",
)
@click.option("--json", "as_json", is_flag=True, help="Last line: the tick's outcome as one JSON object.")
def send(once: bool, at: datetime | None, as_json: bool) -> None:
    """Send what the caps, business hours and the emergency stop allow right now."""
    settings = get_settings()
    try:
        report = run_sending_tick(dagster_instance(settings), at=at.replace(tzinfo=UTC) if at else None)
    except TickFailedError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"sent {report['sent']} of {report['planned']} planned; outcomes {report['outcomes']}; "
        f"left for later {report['skipped']}"
    )
    if report["emergency_stop"]:
        click.echo("sending is STOPPED: `jengu sending resume` to go on")
    for inbox in report["paused_inboxes"]:
        click.echo(f"inbox {inbox} was paused during this tick (see the alert)")


@click.group(name="sending")
def sending() -> None:
    """Emergency stop, per-inbox pause, and sends held for an operator."""


@sending.command()
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True)
def stop(actor: str) -> None:
    """Stop all sending now: a running tick sends nothing more after its current message."""
    with_store(lambda store: ledger.set_sending_stopped(store, True, actor=actor))
    click.echo("sending STOPPED")


@sending.command()
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True)
def resume(actor: str) -> None:
    """Lift the emergency stop."""
    with_store(lambda store: ledger.set_sending_stopped(store, False, actor=actor))
    click.echo("sending resumed")


@sending.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """The stop flag, each inbox's state and the ledger by status."""
    state = with_store(ledger.sending_status)
    if as_json:
        emit_json(state)
        return
    click.echo(f"sending {'STOPPED' if state['stopped'] else 'on'}")
    for inbox in state["inboxes"]:
        reason = f" ({inbox['paused_reason']})" if inbox["paused_reason"] else ""
        click.echo(
            f"  {inbox['inbox']:<32} {inbox['status']}{reason}, cap {inbox['daily_cap']}/day, "
            f"preflight {inbox['preflight_status'] or 'not run'}"
        )
    click.echo(f"  ledger: {state['ledger'] or 'empty'}")


@sending.group()
def inbox() -> None:
    """Pause or resume one inbox."""


@inbox.command(name="pause")
@click.argument("address")
@click.option("--reason", default="by an operator", show_default=True)
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True)
def pause_inbox(address: str, reason: str, actor: str) -> None:
    changed = with_store(lambda store: ledger.set_inbox_paused(store, address, True, reason=reason, actor=actor))
    click.echo(f"inbox {address} {'paused' if changed else 'was already paused'}")


@inbox.command(name="resume")
@click.argument("address")
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True)
def resume_inbox(address: str, actor: str) -> None:
    changed = with_store(lambda store: ledger.set_inbox_paused(store, address, False, reason="resumed", actor=actor))
    click.echo(f"inbox {address} {'resumed' if changed else 'was already active'}")


@sending.command()
@click.argument("send_id")
@click.option("--sent/--not-sent", required=True, help="Whether it went out (look in the inbox's Sent folder).")
@click.option("--as", "actor", default=CLI_ACTOR, show_default=True)
def resolve(send_id: str, sent: bool, actor: str) -> None:
    """Settle a held send (unknown or blocked): --sent records it; --not-sent lets the next tick retry it."""
    with_store(lambda store: ledger.resolve(store, send_id, sent=sent, actor=actor, now=clock.now()))
    click.echo(f"send {send_id} resolved as {'sent' if sent else 'not sent (will be retried)'}")


@sending.command()
@click.option("--json", "as_json", is_flag=True)
def check(as_json: bool) -> None:
    """Preflight every inbox's sender domain (MX, SPF, DKIM selector, DMARC) and keep the verdict.

    An inbox whose domain fails cannot send until it passes or has ``preflight_override: true``.
    """
    from jengu_pipeline.resources.wiring import resources

    resource = resources()["sending"]
    assert isinstance(resource, SendingResource)
    try:
        config = resource.inbox_config()
    except SendingConfigError as error:
        raise click.ClickException(str(error)) from error
    checks = with_store(lambda store: preflight(store, config))
    if as_json:
        emit_json(
            {
                address: {"status": c.status, "problems": c.problems, "warnings": c.warnings, "unknown": c.unknown}
                for address, c in checks.items()
            }
        )
        return
    for address, result in checks.items():
        click.echo(f"{address}: {result.status}")
        for line in (*result.problems, *result.warnings, *result.unknown):
            click.echo(f"  {line}")
