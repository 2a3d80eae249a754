"""The email_verifications asset end to end per batch, on both store backends, against the sandbox."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import pytest
from world_batches import write_batch

from jengu_pipeline.assets.emails import email_verifications, email_verifications_chosen_addresses_verified
from jengu_pipeline.assets.enrich import websites
from jengu_pipeline.assets.ingest import prospects_and_rejects, raw_prospects
from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.demo import SAMPLE_FILE
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sandbox import Sandbox
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store

UPSTREAM = [raw_prospects, prospects_and_rejects, websites]
EMAILS = [email_verifications, email_verifications_chosen_addresses_verified]


def stage(source: Path, instance: dg.DagsterInstance) -> str:
    key = stage_file(source, get_settings().home).key
    instance.add_dynamic_partitions(PROSPECT_BATCHES, [key])
    return key


def run(assets: list, key: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Materialize ``assets`` (upstream ones already stored are read from the store, not recomputed)."""
    return dg.materialize(assets, instance=instance, partition_key=key, resources=resources())


def paid(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["providers"]["millionverifier"]["paid"])


def costs_per_address(store: CrmStore) -> list[int]:
    return store.query("SELECT email, sum(cost_units) AS units FROM email_verifications GROUP BY email")[
        "units"
    ].to_list()


def test_the_sample_batch_gets_verified_addresses_and_a_rerun_pays_nothing(sandbox_env: Sandbox) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = stage(SAMPLE_FILE, instance)
    result = run([*UPSTREAM, *EMAILS], key, instance)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    metadata = result.asset_materializations_for_node("email_verifications")[0].metadata
    assert metadata["found"].value > 0
    assert metadata["cost_units"].value == paid(sandbox_env)

    store = open_store(get_settings().store_url)
    truth = {p.linkedin_url: p.email for h in sandbox_env.world.hotels for p in h.staff}
    chosen = store.query("SELECT linkedin_url, email FROM prospects WHERE email_status = 'ok'").rows()
    taken = metadata["email_taken_by_another_prospect"].value  # the same person imported twice, not merged
    assert metadata["found"].value - taken <= len(chosen) <= metadata["found"].value
    assert all(email == truth[url] for url, email in chosen if url in truth)
    stages = dict(store.query("SELECT stage, count(*) FROM prospects WHERE batch_id = ? GROUP BY stage", [key]).rows())
    changes = store.query("SELECT count(*) AS n FROM activities WHERE type = 'stage_changed'")["n"][0]
    assert changes == stages.get("enriched", 0) + stages.get("unreachable", 0)
    assert max(costs_per_address(store)) == 1

    spent = paid(sandbox_env)
    again = run(EMAILS, key, instance)
    assert again.success
    assert paid(sandbox_env) == spent  # only greylisted (free, undecided) addresses were asked again
    assert max(costs_per_address(store)) == 1


def test_a_pattern_learned_in_one_batch_saves_calls_in_the_next(sandbox_env: Sandbox, tmp_path: Path) -> None:
    target = next(
        h
        for h in sandbox_env.world.hotels
        if h.has_mx
        and not h.catch_all
        and not h.greylisting
        and h.indexed
        and not h.expands_umlauts
        and h.pattern not in ("{first}.{last}", "{first}")
        and len(h.staff) >= 3
        and all(p.mailbox_exists for p in h.staff)
    )
    instance = dg.DagsterInstance.ephemeral()
    first = stage(write_batch(tmp_path / "first.csv", [(target, range(1))]), instance)
    assert run([*UPSTREAM, *EMAILS], first, instance).success
    spent = paid(sandbox_env)
    assert spent > 1

    rest = stage(write_batch(tmp_path / "rest.csv", [(target, range(1, len(target.staff)))]), instance)
    result = run([*UPSTREAM, *EMAILS], rest, instance)
    assert result.success
    assert result.asset_materializations_for_node("email_verifications")[0].metadata["found"].value == (
        len(target.staff) - 1
    )
    assert paid(sandbox_env) - spent == len(target.staff) - 1  # one call each: the learned pattern


def test_two_runs_on_one_batch_never_verify_the_same_prospect(sandbox_env: Sandbox) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = stage(SAMPLE_FILE, instance)
    assert run(UPSTREAM, key, instance).success
    sandbox_env.configure("millionverifier", latency_ms=20)
    results: list[dg.ExecuteInProcessResult] = []

    def other_run() -> None:  # another run (its own Dagster instance, as another process has) on the same store
        own = dg.DagsterInstance.ephemeral()
        own.add_dynamic_partitions(PROSPECT_BATCHES, [key])
        results.append(run(EMAILS, key, own))

    threads = [threading.Thread(target=other_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.success for r in results)
    store = open_store(get_settings().store_url)
    assert max(costs_per_address(store)) == 1
    assert store.query("SELECT sum(cost_units) AS n FROM email_verifications")["n"][0] == paid(sandbox_env)
    decided = store.query(
        "SELECT prospect_id, count(*) AS n FROM activities WHERE type = 'stage_changed' GROUP BY prospect_id"
    )["n"].to_list()
    assert decided
    assert max(decided) == 1
    assert store.count("enrichment_leases") == 0


@pytest.mark.parametrize("fault", [{"daily_quota": 10}])
def test_a_run_out_of_credits_resumes_without_paying_twice(sandbox_env: Sandbox, fault: dict[str, int]) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = stage(SAMPLE_FILE, instance)
    assert run(UPSTREAM, key, instance).success
    sandbox_env.configure("millionverifier", **fault)
    stopped = run(EMAILS, key, instance)
    assert stopped.success
    assert stopped.asset_materializations_for_node("email_verifications")[0].metadata["pending"].value > 0
    assert any("pending" in a["payload"].get("text", "") for a in sandbox_env.alerts())
    sandbox_env.configure("millionverifier", daily_quota=None)
    resumed = run(EMAILS, key, instance)
    assert resumed.success
    store = open_store(get_settings().store_url)
    assert max(costs_per_address(store)) == 1
    assert store.query("SELECT sum(cost_units) AS n FROM email_verifications")["n"][0] == paid(sandbox_env)
