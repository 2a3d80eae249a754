"""The metrics endpoint answers a real HTTP GET of /metrics with what the store and the Dagster instance say,
on both backends; a store it cannot read in time shows as down instead of hanging the scrape."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jengu_pipeline.instance import PROJECT_ROOT
from jengu_pipeline.observability.metrics import JenguCollector, serve_metrics
from jengu_pipeline.store import CrmStore, Tx

NOW = datetime.now(UTC)
INBOX = "sales@nordlys-hotel.test"


def world(tx: Tx) -> None:
    tx.execute("INSERT INTO inboxes (inbox, daily_cap) VALUES (?, 20), ('paused@nordlys-hotel.test', 20)", [INBOX])
    tx.execute("UPDATE inboxes SET status = 'paused' WHERE inbox = 'paused@nordlys-hotel.test'")
    tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES ('p1')")
    statuses = ["sent"] * 8 + ["bounced"] * 2 + ["deferred", "unknown", "unknown"]
    for n, status in enumerate(statuses):
        tx.execute(
            "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
            " rfc_message_id, status, claimed_at) VALUES (?, 'p1', 'c1', ?, 'm', ?, 'a@h.test', ?, ?, ?)",
            [f"s{n}", n + 1, INBOX, f"<{n}@x>", status, NOW - timedelta(hours=n + 1)],
        )
    tx.execute(
        "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status)"
        " VALUES ('q1', 'p1', 'c1', 99, 's', 'b', 'queued'), ('q2', 'p1', 'c1', 1, 's', 'b', 'queued')"
    )
    tx.execute("INSERT INTO provider_quota (provider, day, used) VALUES ('google_cse', ?, 30)", [NOW.date()])
    for n, intent in enumerate(("interested", "auto_reply", "auto_reply", None)):
        tx.execute("INSERT INTO reply_raw (sha256, size_bytes, raw) VALUES (?, 1, ?)", [f"h{n}", b"x"])
        tx.execute(
            "INSERT INTO replies (reply_id, raw_sha256, source, source_key, received_at, intent, processed_at)"
            " VALUES (?, ?, 'maildir', ?, ?, ?, ?)",
            [f"r{n}", f"h{n}", f"k{n}", NOW, intent, NOW if intent else None],
        )


@dg.op
def ok() -> None:
    return None


@dg.job
def nightly_job() -> None:
    ok()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_a_scrape_over_http_reports_the_store_and_the_instance(
    store: CrmStore, store_url: str, instance: dg.DagsterInstance
) -> None:
    store.run(world)
    run = nightly_job.execute_in_process(instance=instance)
    assert run.success
    record = instance.get_run_record_by_id(run.run_id)
    assert record is not None
    assert record.end_time is not None
    scraped_at = datetime.fromtimestamp(record.end_time, UTC) + timedelta(minutes=10)  # Dagster stamps wall time
    collector = JenguCollector(
        store_url,
        quota_limits={"google_cse": 100, "duckduckgo": 300},
        job_names=["nightly_job", "never_ran_job"],
        instance=lambda: instance,
        clock=lambda: scraped_at,
    )
    server = serve_metrics(collector, host="127.0.0.1", port=0)
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200
    got = samples(answer.text)
    assert got[("jengu_store_up", ())] == 1
    assert got[("jengu_dagster_up", ())] == 1
    assert got[("jengu_sends", (("status", "sent"),))] == 8
    assert got[("jengu_sends", (("status", "unknown"),))] == 2
    assert got[("jengu_inbox_bounce_rate", (("inbox", INBOX),))] == pytest.approx(0.2)
    assert got[("jengu_inbox_judged_sends", (("inbox", INBOX),))] == 10
    assert got[("jengu_inbox_paused", (("inbox", "paused@nordlys-hotel.test"),))] == 1
    assert got[("jengu_replies", (("intent", "auto_reply"),))] == 2
    assert got[("jengu_replies", (("intent", "unclassified"),))] == 1
    assert got[("jengu_queue_depth", (("queue", "messages_queued"),))] == 1  # q2 already has its send
    assert got[("jengu_queue_depth", (("queue", "sends_deferred"),))] == 1
    assert got[("jengu_queue_depth", (("queue", "sends_unknown"),))] == 2
    assert got[("jengu_queue_depth", (("queue", "replies_unprocessed"),))] == 1
    assert got[("jengu_provider_quota_remaining", (("provider", "google_cse"),))] == 70
    assert got[("jengu_provider_quota_remaining", (("provider", "duckduckgo"),))] == 300
    assert got[("jengu_job_last_success_age_seconds", (("job", "nightly_job"),))] == pytest.approx(600, abs=1)
    assert ("jengu_job_last_success_age_seconds", (("job", "never_ran_job"),)) not in got


HOLDER = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_store_locked_by_a_writer_shows_as_down_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "crm.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "20"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        collector = JenguCollector(
            f"duckdb:///{path}", quota_limits={}, job_names=[], instance=None, clock=lambda: NOW, timeout_seconds=0.5
        )
        started = time.monotonic()
        got = {m.name: m.samples[0].value for m in collector.collect() if m.samples}
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert got["jengu_store_up"] == 0


@pytest.mark.parametrize("store_url", ["duckdb"], indirect=True)
def test_jengu_metrics_serve_binds_loopback_and_stops_on_sigterm(
    store: CrmStore, store_url: str, tmp_path: Path
) -> None:
    store.run(world)
    env = {
        **os.environ,
        "JENGU_HOME": str(tmp_path / "home"),
        "JENGU_DATABASE_URL": store_url,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jengu_pipeline.cli", "metrics", "serve", "--port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert match, line
        got = samples(httpx.get(f"http://127.0.0.1:{match.group(1)}/metrics", timeout=30).text)
        assert got[("jengu_sends", (("status", "sent"),))] == 8
        assert got[("jengu_dagster_up", ())] == 1
        assert got[("jengu_provider_quota_limit", (("provider", "google_cse"),))] == 100
        server.terminate()
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.mark.parametrize("store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_postgresql_table_locked_by_a_writer_shows_as_down_within_the_timeout(
    store: CrmStore, store_url: str
) -> None:
    import psycopg

    with psycopg.connect(store_url) as writer:
        writer.execute("LOCK TABLE sends IN ACCESS EXCLUSIVE MODE")  # held until this transaction ends
        collector = JenguCollector(
            store_url, quota_limits={}, job_names=[], instance=None, clock=lambda: NOW, timeout_seconds=0.5
        )
        started = time.monotonic()
        got = {m.name: m.samples[0].value for m in collector.collect() if m.samples}
        assert time.monotonic() - started < 5
        writer.rollback()
    assert got["jengu_store_up"] == 0
    assert {m.name: m.samples[0].value for m in collector.collect() if m.samples}["jengu_store_up"] == 1
