"""The call mechanism over real sockets and a real store: retries, timeouts, bad bodies, the breaker,
the cache, quotas (across OS processes too), the ledger, and redaction."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from provider_testkit import Canned, Loopback, SleepLog, fast_caller, outcomes, race_worker

from jengu_pipeline.resources.call_ledger import Outcome
from jengu_pipeline.resources.call_policy import BreakerState
from jengu_pipeline.resources.calls import BreakerOpen, ProviderError, QuotaExhausted, run_batch
from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest
from jengu_pipeline.resources.runtime import BackgroundLoop
from jengu_pipeline.store import CrmStore, open_store

OK = Canned.json({"answer": 42})


LOOP = BackgroundLoop()  # one loop for the module: an httpx.AsyncClient belongs to the loop it used


def ping(client: HttpProvider, i: int = 0, *, cache: bool = False) -> Any:
    return LOOP.run(_ping(client, i, cache=cache))


async def _ping(client: HttpProvider, i: int = 0, *, cache: bool = False) -> Any:
    return await client.request(
        "ping",
        HttpRequest("GET", "/ping", params={"i": i}),
        lambda r: r.json(),
        cache_params={"i": i} if cache else None,
    )


def client_for(loopback: Loopback, store: CrmStore, name: str = "p", **changes: Any) -> HttpProvider:
    sleep = changes.pop("sleep", None)
    return HttpProvider(fast_caller(name, store, sleep=sleep, **changes), loopback.url)


def test_429_storm_waits_as_told_then_succeeds(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    storm = Canned.json({"error": "slow down"}, status=429, **{"Retry-After": "2"})
    loopback.script("/ping", storm, storm, storm, OK)
    sleep = SleepLog()
    assert ping(client_for(loopback, duck, sleep=sleep)) == {"answer": 42}
    assert loopback.count("/ping") == 4
    assert sleep.asked == [2.0, 2.0, 2.0]
    assert outcomes(duck_url, "p") == ["error_429", "error_429", "error_429", "ok"]


def test_retry_after_as_an_http_date_is_honoured(loopback: Loopback, duck: CrmStore) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    loopback.script("/ping", Canned(503, "busy", {"Retry-After": when}), OK)
    sleep = SleepLog()
    ping(client_for(loopback, duck, sleep=sleep, max_total_wait_seconds=60))
    assert len(sleep.asked) == 1
    assert 27 <= sleep.asked[0] <= 30


def test_a_retry_after_beyond_the_wait_budget_gives_up_at_once(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/ping", Canned(429, "", {"Retry-After": "3600"}), OK)
    with pytest.raises(ProviderError) as raised:
        ping(client_for(loopback, duck))
    assert raised.value.outcome is Outcome.ERROR_429
    assert raised.value.retry_after == 3600
    assert loopback.count() == 1


def test_5xx_backs_off_with_jitter_and_stops_after_max_attempts(
    loopback: Loopback, duck: CrmStore, duck_url: str
) -> None:
    loopback.script("/ping", Canned(500, "oops"))
    sleep = SleepLog()
    with pytest.raises(ProviderError) as raised:
        ping(client_for(loopback, duck, sleep=sleep, max_attempts=3, backoff_base_seconds=1, backoff_cap_seconds=8))
    assert raised.value.outcome is Outcome.ERROR_5XX
    assert loopback.count() == 3
    assert len(sleep.asked) == 2
    assert 0 <= sleep.asked[0] <= 1
    assert 0 <= sleep.asked[1] <= 2
    assert outcomes(duck_url, "p") == ["error_5xx"] * 3


def test_timeouts_are_retried_then_reported(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", Canned(200, "{}", delay=0.5))
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        ping(client_for(loopback, duck, timeout_seconds=0.1, max_attempts=2))
    assert raised.value.outcome is Outcome.TIMEOUT
    assert raised.value.retryable
    assert time.monotonic() - started < 2
    assert outcomes(duck_url, "p") == ["timeout", "timeout"]
    loopback.script("/ping", Canned(200, "{}", delay=0.5), OK)
    assert ping(client_for(loopback, duck, name="q", timeout_seconds=0.1)) == {"answer": 42}


def test_client_errors_are_not_retried(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", Canned(422, "bad parameter"))
    with pytest.raises(ProviderError) as raised:
        ping(client_for(loopback, duck))
    assert raised.value.outcome is Outcome.CLIENT_ERROR
    assert "bad parameter" in str(raised.value)
    loopback.script("/ping", Canned(401, "who are you"))
    with pytest.raises(ProviderError) as raised:
        ping(client_for(loopback, duck))
    assert raised.value.outcome is Outcome.CONFIG_ERROR
    assert loopback.count() == 2
    assert outcomes(duck_url, "p") == ["client_error", "config_error"]


def test_malformed_json_is_an_error_never_retried_nor_cached(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", Canned(200, '{"answer": 4', {"Content-Type": "application/json"}))
    client = client_for(loopback, duck)
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            ping(client, cache=True)
        assert raised.value.outcome is Outcome.BAD_RESPONSE
    assert loopback.count() == 2  # one call each: no retry, and no cached garbage
    assert outcomes(duck_url, "p") == ["bad_response", "bad_response"]


def test_a_refused_connection_is_a_transport_error(duck: CrmStore) -> None:
    client = HttpProvider(fast_caller("p", duck, max_attempts=2), "http://127.0.0.1:9")
    with pytest.raises(ProviderError) as raised:
        ping(client)
    assert raised.value.outcome is Outcome.TRANSPORT_ERROR


def test_breaker_opens_then_half_opens_then_closes(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", Canned(500, "down"))
    client = client_for(loopback, duck, max_attempts=1, breaker_threshold=2, breaker_cooldown_seconds=0.3)
    for _ in range(2):
        with pytest.raises(ProviderError):
            ping(client)
    assert client.caller.breaker.state is BreakerState.OPEN
    with pytest.raises(BreakerOpen):
        ping(client)
    assert loopback.count() == 2  # the open breaker sent nothing
    time.sleep(0.35)
    assert client.caller.breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(ProviderError):  # the probe fails: open again
        ping(client)
    assert client.caller.breaker.state is BreakerState.OPEN
    time.sleep(0.35)
    loopback.script("/ping", OK)
    assert ping(client) == {"answer": 42}  # the probe succeeds: closed
    assert client.caller.breaker.state is BreakerState.CLOSED
    assert ping(client) == {"answer": 42}
    assert outcomes(duck_url, "p") == ["error_5xx", "error_5xx", "breaker_open", "error_5xx", "ok", "ok"]


def test_half_open_lets_exactly_one_probe_through(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/ping", Canned(500, "down"))
    client = client_for(loopback, duck, max_attempts=1, breaker_threshold=1, breaker_cooldown_seconds=0.2)
    with pytest.raises(ProviderError):
        ping(client)
    time.sleep(0.25)
    loopback.script("/ping", Canned(200, "{}", delay=0.2))

    async def burst() -> list[Any]:
        return await asyncio.gather(*(_ping(client, i) for i in range(5)), return_exceptions=True)

    results = LOOP.run(burst())
    assert sum(isinstance(r, BreakerOpen) for r in results) == 4
    assert loopback.count() == 2


def test_a_cached_answer_is_never_paid_twice(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", OK)
    client = client_for(loopback, duck)
    assert ping(client, 7, cache=True) == ping(client, 7, cache=True) == {"answer": 42}

    async def same_question_at_once() -> list[Any]:
        return await asyncio.gather(*(_ping(client, 8, cache=True) for _ in range(5)))

    assert LOOP.run(same_question_at_once()) == [{"answer": 42}] * 5
    assert loopback.count() == 2  # one for 7, one for 8
    other_process_view = client_for(loopback, open_store(duck_url))
    assert ping(other_process_view, 7, cache=True) == {"answer": 42}
    assert loopback.count() == 2
    assert Counter(outcomes(duck_url, "p")) == {"ok": 2, "cache_hit": 6}


def test_quota_refuses_before_calling_and_names_the_provider(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", OK)
    client = client_for(loopback, duck, name="brave", daily_quota=3)
    for i in range(3):
        ping(client, i)
    with pytest.raises(QuotaExhausted) as raised:
        ping(client, 99)
    assert raised.value.provider == "brave"
    assert "3 units" in str(raised.value)
    assert loopback.count() == 3
    assert duck.quota_used("brave") == 3
    assert outcomes(duck_url, "brave") == ["ok", "ok", "ok", "quota_exhausted"]


def test_retries_spend_quota_too(loopback: Loopback, duck: CrmStore) -> None:
    """Every attempt reaches the provider, so every attempt is reserved: the quota bounds real calls."""
    loopback.script("/ping", Canned(503, "", {"Retry-After": "0"}), OK)
    ping(client_for(loopback, duck, daily_quota=10))
    assert duck.quota_used("p") == loopback.count() == 2


def test_batch_stops_on_quota_and_returns_the_rest_pending(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/ping", OK)
    client = client_for(loopback, duck, name="mv", daily_quota=5, concurrency=2)
    items = [str(i) for i in range(12)]
    done, pending = LOOP.run(run_batch(items, lambda item: _ping(client, int(item)), workers=3))
    assert len(done) == 5 == loopback.count()
    assert len(pending) == 7
    assert all("quota_exhausted" in p.reason and "mv" in p.reason for p in pending)
    assert len(done) + len(pending) == len(items)
    refusals = outcomes(duck_url, "mv").count("quota_exhausted")
    assert 1 <= refusals <= 3  # only the workers already in flight asked; nothing new started


def test_secrets_and_addresses_stay_out_of_logs_and_errors(
    loopback: Loopback, duck: CrmStore, caplog: pytest.LogCaptureFixture
) -> None:
    key, email = "S3cr3t-Key-0123456789", "zoe.orsted@nordlys-hotel.test"
    loopback.script("/v", Canned(500, f"internal error for {email} with api={key}"), Canned(401, f"bad key {key}"))
    client = HttpProvider(fast_caller("p", duck), loopback.url, headers={"x-api-key": key}, secrets=[key])
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as raised:
        LOOP.run(
            client.request("verify", HttpRequest("GET", "/v", params={"api": key, "email": email}), lambda r: r.json())
        )
    assert "HTTP Request" in caplog.text  # httpx did log the URL, redacted
    for text in (caplog.text, str(raised.value), repr(raised.value.args)):
        assert key not in text
        assert email not in text
        assert "zoe.orsted%40" not in text
    assert "z***@nordlys-hotel.test" in caplog.text
    assert key not in "".join(traceback.format_exception(raised.value))


@pytest.mark.slow
def test_quota_holds_across_racing_os_processes(loopback: Loopback, store_url: str) -> None:
    """4 processes x 26 calls against a daily quota of 100: the provider sees at most 100 calls,
    and every call it answered is in the ledger."""
    loopback.script("/ping", OK)
    open_store(store_url)  # migrate once, before the race
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(race_worker, [(store_url, loopback.url, 26, 100)] * 4)
    succeeded = sum(ok for ok, _ in results)
    refused = sum(no for _, no in results)
    assert loopback.count("/ping") == succeeded == 100
    assert succeeded + refused == 104
    ledger = Counter(outcomes(store_url, "race"))
    assert ledger == {"ok": 100, "quota_exhausted": 4}
    assert open_store(store_url).quota_used("race") == 100


def test_concurrent_calls_share_store_transactions(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    """40 cached calls, 8 in flight: the ledger and cache writes are grouped, not one transaction each."""
    loopback.script("/ping", OK)
    transactions = Counter[str]()
    original_record, original_read = duck.record_calls, duck.cache_get_many

    def counted_record(*args: Any, **kwargs: Any) -> None:
        transactions["write"] += 1
        original_record(*args, **kwargs)

    def counted_read(*args: Any, **kwargs: Any) -> dict[str, Any]:
        transactions["read"] += 1
        return original_read(*args, **kwargs)

    duck.record_calls, duck.cache_get_many = counted_record, counted_read  # type: ignore[method-assign]
    client = client_for(loopback, duck, concurrency=8)
    done, pending = LOOP.run(run_batch([str(i) for i in range(40)], lambda i: _ping(client, int(i), cache=True)))
    assert len(done) == 40
    assert not pending
    assert len(outcomes(duck_url, "p")) == 40  # every call is in the ledger ...
    assert transactions["write"] < 40
    assert transactions["read"] < 40
    again, _ = LOOP.run(run_batch([str(i) for i in range(40)], lambda i: _ping(client, int(i), cache=True)))
    assert again == done
    assert loopback.count("/ping") == 40


def test_quota_is_reserved_in_blocks_and_unused_units_are_given_back(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/ping", OK)
    client = client_for(loopback, duck, daily_quota=10_000, concurrency=4)
    ping(client)
    assert duck.quota_used("p") == 4  # one call made, a block of 4 held: the next three cost no transaction
    for i in range(3):
        ping(client, i)
    assert duck.quota_used("p") == 4
    ping(client)
    LOOP.run(client.aclose())
    assert duck.quota_used("p") == 5 == loopback.count("/ping")


def test_quota_blocks_shrink_to_single_units_near_the_limit(duck: CrmStore) -> None:
    assert duck.reserve_quota_block("q", 1, 1000, block=8) == 8
    assert duck.reserve_quota_block("q", 1, 1000, block=50) == 9  # at most 1% of the 992 left
    assert duck.reserve_quota_block("q", 1, 1000, block=8) == 8
    duck.reserve_quota_block("q", 900, 1000, block=900)
    assert [duck.reserve_quota_block("q", 1, 1000, block=8) for _ in range(80)] == [1] * 75 + [0] * 5
