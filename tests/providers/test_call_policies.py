"""The pure pieces of the call mechanism: backoff, Retry-After, retry budget, breaker, token bucket,
cache keys and redaction. No I/O."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.resources.call_ledger import Outcome
from jengu_pipeline.resources.call_policy import (
    BreakerState,
    CircuitBreaker,
    ProviderLimits,
    TokenBucket,
    backoff_delay,
    cache_key,
    parse_retry_after,
    retry_delay,
    shared_breaker,
    shared_bucket,
)
from jengu_pipeline.resources.calls import ProviderError, QuotaExhausted, combined_error
from jengu_pipeline.resources.redaction import redact, redacting_logger, register_secret

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@given(
    retry=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0, max_value=60),
    cap=st.floats(min_value=0, max_value=600),
    draw=st.floats(min_value=0, max_value=1),
)
def test_backoff_is_full_jitter_under_the_capped_exponential(retry: int, base: float, cap: float, draw: float) -> None:
    delay = backoff_delay(retry, base=base, cap=cap, draw=draw)
    assert 0 <= delay <= min(cap, base * 2.0 ** min(retry, 64)) + 1e-9


def test_backoff_grows_until_the_cap() -> None:
    ceilings = [backoff_delay(r, base=0.5, cap=4.0, draw=1.0) for r in range(6)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),  # a date in the past: go now
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def _error(retryable: bool = True, retry_after: float | None = None) -> ProviderError:
    return ProviderError("p", "op", Outcome.ERROR_429, retryable=retryable, retry_after=retry_after)


LIMITS = ProviderLimits(max_attempts=4, backoff_base_seconds=1.0, backoff_cap_seconds=8.0, max_total_wait_seconds=20)


def test_retry_honours_retry_after_over_backoff() -> None:
    assert retry_delay(_error(retry_after=5.0), attempts_made=1, waited=0, limits=LIMITS, draw=0.5) == 5.0
    assert retry_delay(_error(), attempts_made=2, waited=0, limits=LIMITS, draw=0.5) == 1.0


def test_retry_gives_up_when_not_retryable_out_of_attempts_or_budget() -> None:
    assert retry_delay(_error(retryable=False), attempts_made=1, waited=0, limits=LIMITS, draw=1) is None
    assert retry_delay(_error(), attempts_made=4, waited=0, limits=LIMITS, draw=1) is None
    assert retry_delay(_error(retry_after=60.0), attempts_made=1, waited=0, limits=LIMITS, draw=1) is None


@given(
    after=st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=50)), min_size=1, max_size=12),
    draws=st.lists(st.floats(min_value=0, max_value=1), min_size=12, max_size=12),
)
def test_retry_schedule_never_exceeds_attempts_or_total_wait(after: list[float | None], draws: list[float]) -> None:
    waited, attempts = 0.0, 0
    for retry_after, draw in zip(after, draws, strict=False):
        attempts += 1
        delay = retry_delay(
            _error(retry_after=retry_after), attempts_made=attempts, waited=waited, limits=LIMITS, draw=draw
        )
        if delay is None:
            break
        waited += delay
    assert attempts <= LIMITS.max_attempts
    assert waited <= LIMITS.max_total_wait_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_with_one_probe_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record(success=False)
    assert breaker.state is BreakerState.CLOSED
    breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record(success=False)  # the probe failed: open for another cool-down
    assert breaker.state is BreakerState.OPEN
    clock.now = 20.0
    assert breaker.allow()
    breaker.record(success=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_breaker_gives_back_an_unused_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5, clock=clock)
    breaker.record(success=False)
    clock.now = 5.0
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


@given(st.lists(st.sampled_from(["ok", "fail", "tick", "ask", "release"]), max_size=60))
def test_breaker_transitions_follow_the_state_machine(events: list[str]) -> None:
    """A model check: after every event the breaker's state is what the state machine says."""
    clock = Clock()
    threshold, cooldown = 3, 10.0
    breaker = CircuitBreaker(threshold, cooldown, clock=clock)
    failures, opened_at, probing = 0, None, False
    for event in events:
        state = (
            BreakerState.CLOSED
            if opened_at is None
            else BreakerState.HALF_OPEN
            if clock.now - opened_at >= cooldown
            else BreakerState.OPEN
        )
        assert breaker.state is state
        if event == "tick":
            clock.now += 4.0
        elif event == "ask":
            expected = state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not probing)
            assert breaker.allow() is expected
            probing = probing or (expected and state is BreakerState.HALF_OPEN)
        elif event == "release":
            breaker.release()
            probing = False
        else:
            breaker.record(success=event == "ok")
            probing = False
            if event == "ok":
                failures, opened_at = 0, None
            else:
                failures += 1
                if opened_at is not None or failures >= threshold:
                    opened_at = clock.now


@given(
    rate=st.floats(min_value=0.5, max_value=50),
    capacity=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=80),
)
def test_token_bucket_never_admits_more_than_burst_plus_rate(rate: float, capacity: int, gaps: list[float]) -> None:
    bucket = TokenBucket(rate, capacity, now=0.0)
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        admitted.append(now + bucket.reserve(now))
    admitted.sort()
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            window = admitted[j] - start
            assert j - i + 1 <= capacity + rate * window + 1e-6


def test_token_bucket_spaces_a_burst() -> None:
    bucket = TokenBucket(2.0, 1, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_breakers_and_buckets_are_shared_per_provider_in_a_process() -> None:
    limits = ProviderLimits(rate_per_second=3.0)
    assert shared_breaker("tests-shared", limits) is shared_breaker("tests-shared", limits)
    assert shared_breaker("tests-shared", limits) is not shared_breaker("tests-other", limits)
    assert shared_bucket("tests-shared", limits) is shared_bucket("tests-shared", limits)
    assert shared_bucket("tests-shared", ProviderLimits()) is None


def test_cache_key_normalises_and_ignores_order_but_not_meaning() -> None:
    key = cache_key("web_search", {"q": "Hotel  Bellevue\tGeneva ", "count": 10})
    assert key == cache_key("web_search", {"count": 10, "q": "Hotel Bellevue Geneva"})
    assert key != cache_key("web_search", {"q": "Hotel Bellevue Geneva", "count": 5})
    assert key != cache_key("verify", {"q": "Hotel Bellevue Geneva", "count": 10})
    assert cache_key("v", {"q": "Zoe\u0308"}) == cache_key("v", {"q": "Zoë"})  # NFC


@pytest.mark.parametrize("name", ["api", "key", "api_key", "token", "Authorization"])
def test_cache_key_refuses_credentials(name: str) -> None:
    with pytest.raises(ValueError, match="credentials"):
        cache_key("verify", {name: "x", "email": "a@b.test"})


@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        (
            "GET https://api.millionverifier.com/api/v3/?api=K3yS3cret&email=zoe%40nordlys-hotel.test",
            ["K3yS3cret", "zoe%40"],
            ["z***%40nordlys-hotel.test", "api=***"],
        ),
        ("https://www.googleapis.com/customsearch/v1?key=AIzaSyFAKE&cx=abc&q=x", ["AIzaSyFAKE"], ["key=***", "cx=abc"]),
        ("{'Authorization': 'Bearer xai-abcdefghijklmnop'}", ["abcdefghijklmnop"], ["Authorization"]),
        ("X-Subscription-Token: BSAtoken123", ["BSAtoken123"], ["X-Subscription-Token: ***"]),
        ("x-api-key=sk-ant-api03-abcdefghijkl", ["abcdefghijkl"], ["x-api-key=***"]),
        (
            "post to https://hooks.slack.com/services/T000/B000/XXXXSECRET failed",
            ["XXXXSECRET", "T000"],
            ["hooks.slack.com/services/***"],
        ),
        ("RCPT 550 <zoe.orsted@nordlys-hotel.test> unknown", ["zoe.orsted@"], ["z***@nordlys-hotel.test"]),
        ("Zoë.Ørsted@hotel-bellevue.test", ["Zoë.Ørsted"], ["Z***@hotel-bellevue.test"]),
    ],
)
def test_redact_masks_keys_and_addresses(text: str, hidden: list[str], shown: list[str]) -> None:
    clean = redact(text)
    for secret in hidden:
        assert secret not in clean
    for part in shown:
        assert part in clean
    assert redact(clean) == clean


def test_redact_masks_registered_secrets_anywhere() -> None:
    register_secret("plain-opaque-value-42")
    assert redact("body said plain-opaque-value-42!") == "body said ***!"
    assert redact("short", secrets=["abc"]) == "short"  # too short to be a secret: left alone


def test_redacting_logger_masks_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = redacting_logger("jengu.tests.redaction")
    with caplog.at_level(logging.INFO, logger="jengu.tests.redaction"):
        logger.info("calling %s for %s", "https://x.test/?api=K3yS3cret", "zoe@nordlys-hotel.test")
    assert "K3yS3cret" not in caplog.text
    assert "zoe@" not in caplog.text
    assert "z***@nordlys-hotel.test" in caplog.text


def test_errors_are_redacted_and_combined() -> None:
    error = ProviderError("mv", "verify", Outcome.CLIENT_ERROR, "bad api=K3yS3cret for zoe@x.test")
    assert "K3yS3cret" not in str(error)
    assert "zoe@" not in str(error)
    quota = [QuotaExhausted("brave", "web_search"), QuotaExhausted("google_cse", "web_search")]
    assert isinstance(combined_error("search", "web_search", quota), QuotaExhausted)
    mixed = combined_error("search", "web_search", [quota[0], error])
    assert mixed.outcome is Outcome.UNAVAILABLE
    assert "brave" in str(mixed)
    assert combined_error("search", "web_search", []).outcome is Outcome.CONFIG_ERROR
