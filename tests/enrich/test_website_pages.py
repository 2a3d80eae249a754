"""The page fetcher against the sandbox's hotel sites, on both store backends: mapping, cache, failures, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from jengu_pipeline.resources.call_policy import CircuitBreaker, ProviderLimits
from jengu_pipeline.resources.calls import ProviderCaller
from jengu_pipeline.resources.pages import BlockedUrl, FetchedPage, PageFetcher, check_public_url, sandbox_url
from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.store import CrmStore

FAST = ProviderLimits(concurrency=4, rate_per_second=200.0, burst=20, max_attempts=2, backoff_base_seconds=0.01)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with start_sandbox(Path(tmp_path_factory.mktemp("pages-home")), seed=7) as running:
        yield running


def fetch_all(sandbox: Sandbox, store: CrmStore, urls: list[str], **options: int) -> dict[str, FetchedPage]:
    async def run() -> dict[str, FetchedPage]:
        fetcher = PageFetcher(
            ProviderCaller("site", store, FAST, breaker=CircuitBreaker(5, 60.0)),
            site_base_url=sandbox.env["JENGU_SITE_BASE_URL"],
            **options,
        )
        try:
            return await fetcher.fetch_many(urls, batch_id=None)
        finally:
            await fetcher.aclose()

    return asyncio.run(run())


def site_calls(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["providers"].get("site", {}).get("calls", 0))


def test_sandbox_mapping_matches_the_sandbox(sandbox: Sandbox) -> None:
    url = "https://www.hotel-a.test/contact"
    assert sandbox_url(sandbox.env["JENGU_SITE_BASE_URL"], url) == sandbox.site_url(url)


def test_homepages_are_read_cached_and_classified(sandbox: Sandbox, store: CrmStore) -> None:
    sandbox.reset(faults=True)
    hotel = next(h for h in sandbox.world.hotels if h.has_mx and h.lookalike)
    dead = next(h for h in sandbox.world.hotels if not h.has_mx)
    urls = [hotel.website, f"http://{hotel.lookalike}/", dead.website, "https://www.nowhere-at-all.test/"]
    pages = fetch_all(sandbox, store, urls)
    assert pages[hotel.website].check.status == "ok"
    assert pages[hotel.website].homepage.site_name == hotel.name
    assert hotel.city in pages[hotel.website].homepage.text
    assert pages[f"http://{hotel.lookalike}/"].check.status == "parked"
    assert pages[dead.website].check.status == "parked"  # a dead hotel domain shows a parking page
    assert pages["https://www.nowhere-at-all.test/"].check.status == "missing"
    served = site_calls(sandbox)
    assert served == len(urls)

    again = fetch_all(sandbox, store, urls)
    assert again == pages
    assert site_calls(sandbox) == served, "every definite answer is cached"
    ledger = store.query("SELECT outcome, count(*) AS n FROM provider_calls WHERE provider = 'site' GROUP BY outcome")
    assert dict(ledger.rows()) == {"ok": len(urls), "cache_hit": len(urls)}


def test_a_failing_site_is_unknown_and_not_cached(sandbox: Sandbox, store: CrmStore) -> None:
    sandbox.reset(faults=True)
    hotel = next(h for h in sandbox.world.hotels if h.has_mx)
    sandbox.configure("site", error_rate=1.0)
    try:
        page = fetch_all(sandbox, store, [hotel.website])[hotel.website]
    finally:
        sandbox.reset(faults=True)
    assert page.status == 0
    assert page.check.status == "unreachable"
    assert site_calls(sandbox) == 0  # reset forgot the two failed attempts
    assert fetch_all(sandbox, store, [hotel.website])[hotel.website].check.status == "ok"
    assert site_calls(sandbox) == 1, "the failure was not cached: the next run asks again"


def test_the_body_is_capped(sandbox: Sandbox, store: CrmStore) -> None:
    sandbox.reset(faults=True)
    hotel = next(h for h in sandbox.world.hotels if h.has_mx)
    page = fetch_all(sandbox, store, [hotel.website], max_bytes=300)[hotel.website]
    assert page.check.status == "ok"
    assert page.homepage.title  # the head comes first
    assert len(page.homepage.text) < 120


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://x.test/",
        "http://127.0.0.1/",
        "http://10.0.0.8/",
        "http://localhost:8080/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://router.local/",
    ],
)
def test_private_and_non_web_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedUrl):
        check_public_url(url)


def test_public_addresses_pass() -> None:
    check_public_url("https://www.hotel-bellevue.ch/")
    check_public_url("http://8.8.8.8/")
