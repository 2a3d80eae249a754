"""The websites asset against the sandbox: found sites match the world, quotas stop work gracefully."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from jengu_pipeline.assets.enrich import websites, websites_domains_resolvable
from jengu_pipeline.assets.ingest import prospects_and_rejects, raw_prospects
from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.demo import SAMPLE_FILE, SANDBOX_SEED
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.resources.calls import ProviderLimits
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store


@pytest.fixture
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Iterator[Sandbox]:
    home = tmp_path / "home"
    with start_sandbox(home, seed=SANDBOX_SEED) as sandbox:
        for name, value in sandbox.env.items():
            monkeypatch.setenv(name, value)
        if store_url.startswith("postgresql"):
            monkeypatch.setenv("JENGU_DATABASE_URL", store_url)
        else:
            monkeypatch.delenv("JENGU_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        yield sandbox
    get_settings.cache_clear()


def materialize_batch(sandbox: Sandbox, **resource_overrides: object) -> tuple[str, dg.ExecuteInProcessResult]:
    staged = stage_file(SAMPLE_FILE, get_settings().home)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PROSPECT_BATCHES, [staged.key])
    result = dg.materialize(
        [raw_prospects, prospects_and_rejects, websites, websites_domains_resolvable],
        instance=instance,
        partition_key=staged.key,
        resources={**resources(), **resource_overrides},
    )
    return staged.key, result


def truth_by_linkedin(sandbox: Sandbox) -> dict[str, str]:
    return {p["linkedin_url"]: h["domain"] for h in sandbox.world.ground_truth()["hotels"] for p in h["staff"]}


def hotels_by_linkedin(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {p["linkedin_url"]: h for h in sandbox.world.ground_truth()["hotels"] for p in h["staff"]}


def test_websites_are_found_through_the_sandbox_and_match_the_world(sandbox_env: Sandbox) -> None:
    batch_id, result = materialize_batch(sandbox_env)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    metadata = result.asset_materializations_for_node("websites")[0].metadata
    assert metadata["pending"].value == 0
    store = open_store(get_settings().store_url)
    rows = store.query(
        "SELECT linkedin_url, website FROM prospects WHERE batch_id = ? AND company IS NOT NULL", [batch_id]
    ).rows()
    hotels = hotels_by_linkedin(sandbox_env)
    known = [(hotels[url], site) for url, site in rows if url in hotels]
    found = [(hotel, site) for hotel, site in known if site is not None]
    correct = sum(1 for hotel, site in found if site == hotel["domain"])
    assert correct / len(found) >= 0.98, f"{correct} of {len(found)} websites right"
    # A hotel whose domain is dead serves a parked page, and one the engines don't index can't be found:
    # every other hotel's site must be found.
    findable = [(hotel, site) for hotel, site in known if hotel["has_mx"] and hotel["indexed"]]
    assert sum(1 for hotel, site in findable if site == hotel["domain"]) >= 0.97 * len(findable)
    assert not [site for hotel, site in found if not hotel["has_mx"]], "a parked homepage was taken"

    with_site = sum(1 for _, site in store.query("SELECT linkedin_url, website FROM prospects").rows() if site)
    assert store.query("SELECT count(DISTINCT prospect_id) AS n FROM websites")["n"][0] == with_site
    not_found = store.query("SELECT prospect_id, tiers_tried FROM website_not_found")
    assert not_found.height == metadata["not_found"].value > 0
    assert store.count("websites") + not_found.height == metadata["candidates"].value
    assert metadata["found_rate_by_tier"].value["searxng"]["asked"] == metadata["queries"].value
    assert set(metadata["provider_calls"].value) >= {"searxng", "site"}
    evidence = json.loads(store.query("SELECT evidence FROM websites LIMIT 1")["evidence"][0])
    assert {"domain_similarity", "title_similarity", "site_name", "city_on_page", "tiers_tried"} <= evidence.keys()
    pages = store.query("SELECT domain, title, excerpt FROM website_pages")
    assert set(pages["domain"]) == set(store.query("SELECT DISTINCT domain FROM websites")["domain"])
    assert all(title and excerpt for title, excerpt in zip(pages["title"], pages["excerpt"], strict=True))

    ledger_ok = store.query("SELECT count(*) AS n FROM provider_calls WHERE provider = 'searxng' AND outcome = 'ok'")
    served = sandbox_env.stats()["providers"]["searxng"]["calls"]
    assert served == ledger_ok["n"][0] == metadata["queries"].value, "one search per hotel, each recorded once"

    before = {name: counts["calls"] for name, counts in sandbox_env.stats()["providers"].items()}
    _, again = materialize_batch(sandbox_env)
    assert again.success
    after = {name: counts["calls"] for name, counts in sandbox_env.stats()["providers"].items()}
    assert after == before, "re-running pays for nothing, not-found hotels retried from the cache"
    assert again.asset_materializations_for_node("websites")[0].metadata["not_found"].value == not_found.height
    activities = store.query("SELECT count(*) AS n FROM activities WHERE type = 'website_not_found'")["n"][0]
    assert activities == not_found.height, "one activity per prospect, not one per run"


def searxng_only(daily_quota: int) -> SearchResource:
    limits = ProviderLimits(daily_quota=daily_quota, concurrency=4, rate_per_second=200.0, burst=20)
    return SearchResource(
        searxng_base_url=os.environ["JENGU_SEARXNG_BASE_URL"], searxng_limits=limits, order=["searxng"]
    )


def test_quota_exhaustion_leaves_work_pending_succeeds_with_a_warning_and_alerts(sandbox_env: Sandbox) -> None:
    _, result = materialize_batch(sandbox_env, search=searxng_only(daily_quota=10))
    assert result.success, "running out of quota is not a failure"
    metadata = result.asset_materializations_for_node("websites")[0].metadata
    assert metadata["pending"].value > 0
    assert "quota" in metadata["warning"].value.lower()
    assert sandbox_env.stats()["providers"]["searxng"]["calls"] == 10, "the quota holds at the provider"
    alerts = sandbox_env.alerts()
    assert any("pending" in alert["payload"]["text"] for alert in alerts), alerts
    store = open_store(get_settings().store_url)
    found_first = store.count("websites")
    assert found_first == metadata["dagster/partition_row_count"].value

    _, resumed = materialize_batch(sandbox_env, search=searxng_only(daily_quota=1000))  # as on the next day
    assert resumed.success
    again = resumed.asset_materializations_for_node("websites")[0].metadata
    assert again["pending"].value == 0
    assert store.count("websites") > found_first
    assert again["candidates"].value < metadata["candidates"].value, "what was done is not redone"


def test_no_secret_reaches_run_events_metadata_or_the_store(sandbox_env: Sandbox) -> None:
    from jengu_pipeline.sandbox import SANDBOX_KEYS

    secrets = [key for key in SANDBOX_KEYS.values() if key]
    brave = SearchResource(
        order=["brave"],
        brave_api_key=dg.EnvVar("JENGU_BRAVE_API_KEY"),
        brave_base_url=os.environ["JENGU_BRAVE_BASE_URL"],
        brave_limits=ProviderLimits(daily_quota=20, rate_per_second=200.0, burst=20),
    )
    _, result = materialize_batch(sandbox_env, search=brave)
    assert result.success
    assert sandbox_env.alerts(), "the quota alert went out through the webhook, whose URL holds a token"
    events = "\n".join(repr(event) for event in result.all_events)
    assert "websites" in events
    store = open_store(get_settings().store_url)
    stored = "\n".join(
        store.query(f"SELECT * FROM {table}").write_csv()
        for table in ("provider_calls", "provider_cache", "activities", "websites")
    )
    assert "brave" in stored
    for secret in secrets:
        assert secret not in events
        assert secret not in stored
