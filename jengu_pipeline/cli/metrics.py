"""``jengu metrics serve``: the Prometheus endpoint (loopback by default)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from jengu_pipeline import clock
from jengu_pipeline.observability.metrics import DEFAULT_HOST, DEFAULT_PORT, JenguCollector, serve_metrics
from jengu_pipeline.observability.sentry import init_sentry
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store


@click.group(name="metrics")
def metrics() -> None:
    """Prometheus metrics of the store and the Dagster instance."""


@metrics.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to bind; loopback unless told.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port (printed).",
)
@click.option(
    "--timeout",
    "timeout_seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 30),
    help="Seconds a scrape may wait for the store before reporting it down.",
)
def serve(host: str, port: int, timeout_seconds: float) -> None:
    """Serve /metrics until stopped (SIGINT or SIGTERM): sends by status, bounce rate per inbox, replies by
    category, queue depths, provider quota left, last successful run age per job."""
    from jengu_pipeline.definitions import defs
    from jengu_pipeline.instance import dagster_instance
    from jengu_pipeline.observability.quotas import configured_daily_quotas

    init_sentry()
    settings = get_settings()
    open_store(settings.store_url)  # migrate once here, so that scrapes only ever read
    instance = dagster_instance(settings)
    jobs = sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__"))
    collector = JenguCollector(
        settings.store_url,
        quota_limits=configured_daily_quotas(defs.resources or {}),
        job_names=jobs,
        instance=lambda: instance,
        clock=clock.now,
        timeout_seconds=timeout_seconds,
    )
    server = serve_metrics(collector, host=host, port=port)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"serving metrics on http://{host}:{server.server_port}/metrics", err=True)
    stopped.wait()
    server.shutdown()
    server.server_close()
