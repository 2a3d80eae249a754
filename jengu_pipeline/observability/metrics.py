"""Prometheus metrics, collected when scraped: the store read-only with a short time budget, and the Dagster
instance's last successful run per job. Nothing is cached between scrapes, so two endpoints agree and a
restart loses nothing.

Metric names (all gauges, since each is the current state of the store or the instance):

- ``jengu_sends{status}``: the send ledger by status
- ``jengu_inbox_bounce_rate{inbox}``, ``jengu_inbox_judged_sends{inbox}``, ``jengu_inbox_paused{inbox}``
- ``jengu_replies{intent}``: stored replies by category (``unclassified`` while not yet classified)
- ``jengu_queue_depth{queue}``: messages queued / awaiting approval, sends claimed / deferred / unknown / blocked,
  replies not yet processed
- ``jengu_provider_quota_used{provider}``, ``jengu_provider_quota_limit{provider}``,
  ``jengu_provider_quota_remaining{provider}``: today's (UTC) units
- ``jengu_integrity_open_findings{rule}``: what the latest integrity run left for a person
- ``jengu_job_last_success_timestamp_seconds{job}``, ``jengu_job_last_success_age_seconds{job}``
- ``jengu_store_up``, ``jengu_dagster_up``, ``jengu_scrape_duration_seconds``
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from wsgiref.simple_server import WSGIServer

import dagster as dg
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jengu_pipeline.store.metrics import ShortReadEngine, StoreReadings, read_metrics

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
DEFAULT_TIMEOUT_SECONDS = 2.0


def _gauge(name: str, documentation: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _single(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def store_metrics(readings: StoreReadings, quota_limits: Mapping[str, int]) -> Iterator[Metric]:
    yield _gauge("jengu_sends", "Sends in the ledger by status.", "status", readings.sends_by_status)
    yield _gauge(
        "jengu_inbox_bounce_rate",
        "Hard bounces over the inbox's latest sends since its last resume.",
        "inbox",
        {inbox: (b / n if n else 0.0) for inbox, (n, b) in readings.inbox_bounces.items()},
    )
    yield _gauge(
        "jengu_inbox_judged_sends",
        "Sends the bounce rate is computed over (at most 100).",
        "inbox",
        {inbox: n for inbox, (n, _) in readings.inbox_bounces.items()},
    )
    yield _gauge(
        "jengu_inbox_paused",
        "1 while the inbox is paused or blocked.",
        "inbox",
        {inbox: float(paused) for inbox, paused in readings.inbox_paused.items()},
    )
    yield _gauge("jengu_replies", "Stored replies by category.", "intent", readings.replies_by_intent)
    yield _gauge(
        "jengu_queue_depth",
        "Work waiting: messages to send, sends held or retrying, replies to process.",
        "queue",
        readings.queues,
    )
    yield _gauge(
        "jengu_provider_quota_used", "Units reserved today (UTC) per provider.", "provider", readings.quota_used_today
    )
    yield _gauge("jengu_provider_quota_limit", "Configured daily quota per provider.", "provider", quota_limits)
    yield _gauge(
        "jengu_provider_quota_remaining",
        "Units left today (UTC) per provider with a daily quota.",
        "provider",
        {name: max(0, limit - readings.quota_used_today.get(name, 0)) for name, limit in quota_limits.items()},
    )
    yield _gauge(
        "jengu_integrity_open_findings",
        "What the latest integrity run found and did not repair.",
        "rule",
        readings.integrity_open,
    )


def last_successes(instance: dg.DagsterInstance, job_names: Iterable[str]) -> dict[str, float]:
    """Each job's latest successful run's end time (Unix seconds); jobs that never succeeded are absent."""
    found: dict[str, float] = {}
    for job in job_names:
        records = instance.get_run_records(
            filters=dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
        )
        if records and records[0].end_time is not None:
            found[job] = float(records[0].end_time)
    return found


class JenguCollector(Collector):
    """Reads everything on each scrape; a store or instance that cannot be read shows as ``*_up 0``."""

    def __init__(
        self,
        store_url: str,
        *,
        quota_limits: Mapping[str, int],
        job_names: Sequence[str],
        instance: Callable[[], dg.DagsterInstance] | None,
        clock: Callable[[], datetime],
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._engine = ShortReadEngine(store_url, timeout_seconds)
        self._quota_limits = dict(quota_limits)
        self._job_names = list(job_names)
        self._instance = instance
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        now = self._clock()
        try:
            readings = read_metrics(self._engine, now)
        except Exception as error:
            log.warning("metrics: store not readable: %s", type(error).__name__)
            yield _single("jengu_store_up", "1 when the store could be read for this scrape.", 0)
        else:
            yield _single("jengu_store_up", "1 when the store could be read for this scrape.", 1)
            yield from store_metrics(readings, self._quota_limits)
        yield from self._dagster(now)
        yield _single("jengu_scrape_duration_seconds", "How long this scrape took.", time.monotonic() - started)

    def _dagster(self, now: datetime) -> Iterator[Metric]:
        if self._instance is None:
            return
        try:
            ends = last_successes(self._instance(), self._job_names)
        except Exception as error:
            log.warning("metrics: Dagster instance not readable: %s", type(error).__name__)
            yield _single("jengu_dagster_up", "1 when the Dagster instance could be read for this scrape.", 0)
            return
        yield _single("jengu_dagster_up", "1 when the Dagster instance could be read for this scrape.", 1)
        yield _gauge("jengu_job_last_success_timestamp_seconds", "End of the job's latest successful run.", "job", ends)
        yield _gauge(
            "jengu_job_last_success_age_seconds",
            "Seconds since the job's latest successful run ended.",
            "job",
            {job: max(0.0, now.timestamp() - end) for job, end in ends.items()},
        )


def serve_metrics(collector: Collector, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` (0 picks a free port) in a daemon thread; returns the server."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server
