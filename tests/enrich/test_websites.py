"""The websites asset against the sandbox: found sites match the world, quotas stop work gracefully."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from jengu_pipeline.assets.enrich import websites, websites_domains_resolvable
from jengu_pipeline.assets.ingest import prospects_and_rejects, raw_prospects
from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.demo import SAMPLE_FILE
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sandbox import Sandbox, World
from jengu_pipeline.sandbox.world import Hotel
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store


def materialize_batch(
    sandbox: Sandbox, source: Path = SAMPLE_FILE, **resource_overrides: object
) -> tuple[str, dg.ExecuteInProcessResult]:
    staged = stage_file(source, get_settings().home)
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


def _hotel(
    world: World,
    *,
    has_mx: bool = True,
    indexed: bool = True,
    lookalike: bool | None = None,
    skip: tuple[Hotel, ...] = (),
) -> Hotel:
    return next(
        h
        for h in world.hotels
        if h.has_mx == has_mx
        and h.indexed == indexed
        and h not in skip
        and (lookalike is None or (h.lookalike is not None) == lookalike)
        and not any(o.name == h.name for o in world.hotels if o is not h)  # no namesake anywhere: a clear case
    )


def test_an_imported_website_is_checked_first_and_replaced_when_it_fails(sandbox_env: Sandbox, tmp_path: Path) -> None:
    world = sandbox_env.world
    right = _hotel(world)
    hidden = _hotel(world, indexed=False)
    parked = _hotel(world, lookalike=True, skip=(right,))
    wrong = _hotel(world, skip=(right, parked))
    other = _hotel(world, skip=(right, parked, wrong))
    unknown = _hotel(world, indexed=False, skip=(hidden,))
    assert parked.lookalike is not None
    rows = [  # (first name, hotel, imported website)
        ("Ada", right, right.domain),  # right: kept without a search
        ("Bo", hidden, f"https://www.{hidden.domain}/"),  # no engine knows it: only the import can find it
        ("Cy", parked, parked.lookalike),  # a parked look-alike: search instead
        ("Di", wrong, other.domain),  # another hotel's live site: search instead
        ("Ed", unknown, ""),  # nothing imported, not indexed: not found, every tier tried
    ]
    source = tmp_path / "with-websites.csv"
    lines = ["First Name,Last Name,Company,Website,City"]
    lines += [f"{first},Tester,{hotel.name},{site},{hotel.city}" for first, hotel, site in rows]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    batch_id, result = materialize_batch(sandbox_env, source)
    assert result.success
    metadata = result.asset_materializations_for_node("websites")[0].metadata
    assert metadata["from_import"].value == 2
    assert metadata["import_rejected"].value == 2
    assert metadata["not_found"].value == 1
    store = open_store(get_settings().store_url)
    got = {
        first: (website, source, json.loads(evidence) if evidence else None)
        for first, website, source, evidence in store.query(
            "SELECT p.first_name, p.website, w.source, w.evidence FROM prospects p"
            " LEFT JOIN websites w ON w.prospect_id = p.prospect_id WHERE p.batch_id = ?",
            [batch_id],
        ).rows()
    }
    assert got["Ada"][:2] == (right.domain, "import")
    assert got["Bo"][:2] == (hidden.domain, "import")
    assert got["Cy"][:2] == (parked.domain, "searxng")
    assert got["Cy"][2]["import_check"] == "homepage parked"
    assert got["Di"][:2] == (wrong.domain, "searxng")
    assert got["Di"][2]["import_check"] == "homepage does not name the hotel"
    assert got["Ed"][1] is None
    assert sandbox_env.stats()["providers"]["searxng"]["calls"] == 3, "imported sites that check out are not searched"

    tiers = json.loads(store.query("SELECT tiers_tried FROM website_not_found")["tiers_tried"][0])
    assert [t["tier"] for t in tiers] == metadata["search_tiers"].value, "every tier asked before giving up"
    assert {t["outcome"] for t in tiers} <= {"not_confident", "no_hits"}
    activity = store.query("SELECT title, metadata FROM activities WHERE type = 'website_not_found'").rows()
    assert len(activity) == 1
    assert [t["tier"] for t in json.loads(activity[0][1])] == metadata["search_tiers"].value


def test_when_every_tier_is_out_of_quota_prospects_stay_pending_not_missing(
    sandbox_env: Sandbox,
) -> None:
    _, result = materialize_batch(sandbox_env, search=searxng_only(daily_quota=0))
    assert result.success
    metadata = result.asset_materializations_for_node("websites")[0].metadata
    assert metadata["pending"].value == metadata["candidates"].value - metadata["not_found"].value > 0
    assert metadata["dagster/partition_row_count"].value == 0
    assert metadata["not_found"].value == 1, "only the prospect without a company, which no search can help"
