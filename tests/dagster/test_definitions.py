"""The code location loads, validates and is served by a real webserver on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from jengu_pipeline.definitions import defs
from jengu_pipeline.instance import PROJECT_ROOT
from jengu_pipeline.store.warehouse import WAREHOUSE_TABLES

EXPECTED_ASSETS = {
    "raw_prospects": "ingest",
    "prospects": "ingest",
    "rejected_rows": "ingest",
    "websites": "enrich",
    "email_verifications": "enrich",
    "messages": "compose",
    "follow_up_messages": "compose",
    "sends": "send",
    "replies": "replies",
    "integrity_findings": "integrity",
    **dict.fromkeys(WAREHOUSE_TABLES, "warehouse"),
}
EXPECTED_CHECKS = {
    ("prospects", "prospects_rows_conserved"),
    ("prospects", "prospects_unique_active_identity"),
    ("websites", "websites_domains_resolvable"),
    ("email_verifications", "email_verifications_chosen_addresses_verified"),
    ("messages", "messages_cleared_pass_gate"),
    ("sends", "sends_never_after_suppression"),
    ("sends", "sends_within_daily_caps"),
    ("replies", "replies_all_classified"),
    ("replies", "replies_no_send_after_suppression"),
    ("replies", "replies_processed_once"),
    # integrity rules (assets/integrity.py), on the asset each concerns
    ("prospects", "prospects_no_orphan_rows"),
    ("prospects", "prospects_no_duplicate_active_email"),
    ("prospects", "prospects_no_duplicate_active_linkedin_url"),
    ("prospects", "prospects_no_stale_new"),
    ("prospects", "prospects_stage_matches_ledger"),
    ("sends", "sends_no_stale_claims"),
    ("sends", "sends_unknown_reconciled"),
    ("sends", "sends_hard_bounces_suppressed"),
    ("messages", "messages_none_to_suppressed_or_archived"),
    ("messages", "messages_none_in_inactive_campaigns"),
    ("email_verifications", "enrichment_leases_none_expired"),
    ("integrity_findings", "provider_quota_matches_ledger"),
    ("replies", "replies_classified_in_time"),
    # the warehouse (assets/warehouse.py), reconciled with the store
    ("fct_sends", "fct_sends_sent_matches_ledger"),
    ("mart_funnel", "mart_funnel_never_widens"),
    ("mart_funnel", "mart_funnel_rates_in_unit_interval"),
    ("mart_campaign_variants", "mart_campaign_variants_rates_in_unit_interval"),
    ("mart_inbox_health", "mart_inbox_health_rates_in_unit_interval"),
    ("mart_provider_costs", "mart_provider_costs_rates_in_unit_interval"),
    ("mart_reply_intents", "mart_reply_intents_rates_in_unit_interval"),
}
"""A snapshot of the asset graph: renaming an asset or check breaks operators' and analysts' habits, so it
must be a deliberate change here."""


def test_definitions_load_with_the_expected_assets_checks_and_automation() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == EXPECTED_ASSETS
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert checks == EXPECTED_CHECKS
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.owners == ["team:jengu"]
    assert {job.name for job in defs.resolve_all_job_defs()} >= {
        "ingest_job",
        "prospect_batch_job",
        "campaign_membership_job",
        "message_approval_job",
        "sending_job",
        "sending_control_job",
        "replies_job",
        "integrity_job",
        "daily_digest_job",
        "follow_up_job",
        "campaign_lifecycle_job",
    }
    assert defs.resolve_sensor_def("prospect_drop_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def("sending_schedule")
    assert schedule.cron_schedule == "*/5 8-18 * * 1-6"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # real email: an operator turns it on
    integrity = defs.resolve_schedule_def("integrity_schedule")
    assert (integrity.cron_schedule, integrity.default_status) == ("30 3 * * *", dg.DefaultScheduleStatus.RUNNING)
    assert defs.resolve_schedule_def("daily_digest_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    follow_ups = defs.resolve_schedule_def("follow_up_schedule")  # writes, never sends: on by default
    assert (follow_ups.cron_schedule, follow_ups.default_status) == ("50 * * * *", dg.DefaultScheduleStatus.RUNNING)
    assert defs.resolve_sensor_def("run_failure_alert_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("reply_ingestion_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("warehouse_automation_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    for table in WAREHOUSE_TABLES:
        assert graph.get(dg.AssetKey(table)).automation_condition is not None, table


LAUNCHED_JOBS = {
    "prospect_drop_sensor": "prospect_batch_job",
    "reply_ingestion_sensor": "replies_job",
    "sending_schedule": "sending_job",
    "integrity_schedule": "integrity_job",
    "daily_digest_schedule": "daily_digest_job",
    "follow_up_schedule": "follow_up_job",
}
"""What each sensor and schedule launches: a job an operator recognises in the runs list, never Dagster's
``__anonymous_asset_job_<sensor>``."""


def test_every_sensor_and_schedule_launches_a_named_job() -> None:
    repository = defs.get_repository_def()
    launching = [*repository.schedule_defs, *(sensor for sensor in repository.sensor_defs if sensor.has_jobs)]
    launched = {definition.name: definition.job_name for definition in launching}
    assert launched == LAUNCHED_JOBS
    job_names = {job.name for job in defs.resolve_all_job_defs()}
    for name, job in launched.items():
        assert job in job_names, f"{name} launches {job}, which is not among the Definitions' jobs"
        assert not job.startswith("__"), f"{name} launches an anonymous job"


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    return {**os.environ, "DAGSTER_HOME": str(home), "JENGU_HOME": str(tmp_path / "jengu")}


def test_dagster_definitions_validate_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName } }"


def test_webserver_serves_the_assets_over_graphql_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        nodes = None
        while time.monotonic() < deadline and nodes is None:
            if server.poll() is not None:
                pytest.fail(f"webserver exited: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": ASSETS_QUERY}, timeout=10)
                nodes = answer.json()["data"]["assetNodes"]
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(1)
        assert nodes is not None, "webserver never answered GraphQL"
        served = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
        assert served == EXPECTED_ASSETS
    finally:
        server.terminate()
        server.wait(timeout=30)
