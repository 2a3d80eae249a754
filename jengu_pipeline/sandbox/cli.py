"""``jengu sandbox``: run the SANDBOX in the foreground and point the pipeline at it.

Writes ``<home>/sandbox.env`` (``source`` it before running ``jengu``/Dagster), exports the
world's ground truth to ``<home>/sandbox/ground_truth.json`` and, every ``--reply-every``
seconds, turns the mail the pipeline sent into the world's replies in the Maildir.
"""

from __future__ import annotations

from pathlib import Path
from time import sleep

import click

from jengu_pipeline.sandbox.runner import Sandbox, start_sandbox
from jengu_pipeline.settings import get_settings


def banner(sandbox: Sandbox, env_path: Path) -> str:
    """The unmistakable label: nothing printed here is a real provider."""
    rule = "=" * 30 + " JENGU SANDBOX " + "=" * 30
    return "\n".join(
        [
            rule,
            f" SANDBOX world    seed {sandbox.world.seed}, {len(sandbox.world.hotels)} synthetic hotels "
            "(reserved TLDs .test/.example only)",
            f" SANDBOX HTTP     {sandbox.base_url}  (stats: {sandbox.base_url}/_sandbox/stats)",
            f" SANDBOX SMTP     {sandbox.smtp_host}:{sandbox.smtp_port}  (never relays; stored in {sandbox.smtp_dir})",
            f" SANDBOX Maildir  {sandbox.maildir}",
            f" Ground truth     {sandbox.ground_truth_path}",
            f" Environment      source {env_path}",
            " No real provider is contacted. Ctrl-C stops the sandbox.",
            "=" * len(rule),
        ]
    )


@click.command("sandbox")
@click.option("--home", type=click.Path(path_type=Path), default=None, help="State folder (default: JENGU_HOME).")
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic world.")
@click.option("--hotels", default=200, show_default=True, help="Number of hotels in the world.")
@click.option("--http-port", default=0, show_default=True, help="0 picks a free port.")
@click.option("--smtp-port", default=0, show_default=True, help="0 picks a free port.")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added to every provider answer.")
@click.option("--error-rate", default=0.0, show_default=True, help="Share of calls answered with a 5xx.")
@click.option("--rate-limit", default=0, show_default=True, help="Calls per second per provider; 0 is unlimited.")
@click.option("--daily-quota", type=int, default=None, help="Paid calls per provider per day.")
@click.option("--malformed-rate", default=0.0, show_default=True, help="Share of answers with a broken body.")
@click.option("--reply-every", default=5.0, show_default=True, help="Seconds between reply deliveries; 0: never.")
def sandbox_command(
    *,
    home: Path | None,
    seed: int,
    hotels: int,
    http_port: int,
    smtp_port: int,
    latency_ms: float,
    error_rate: float,
    rate_limit: int,
    daily_quota: int | None,
    malformed_rate: float,
    reply_every: float,
) -> None:
    """Run the SANDBOX: loopback emulators of every provider over a seeded synthetic world."""
    with start_sandbox(
        home or get_settings().home,
        seed,
        hotels=hotels,
        http_port=http_port,
        smtp_port=smtp_port,
        latency_ms=latency_ms,
        error_rate=error_rate,
        rate_limit_per_s=rate_limit,
        daily_quota=daily_quota,
        malformed_rate=malformed_rate,
    ) as sandbox:
        click.echo(banner(sandbox, sandbox.write_env()))
        try:
            while True:
                sleep(reply_every or 3600)
                if reply_every and (written := sandbox.deliver_replies()):
                    click.echo(f"SANDBOX: {len(written)} simulated replies delivered to {sandbox.maildir}")
        except KeyboardInterrupt:
            click.echo("SANDBOX stopped.")
