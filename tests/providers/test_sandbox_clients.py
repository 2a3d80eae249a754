"""Every client against the SANDBOX's emulators over its synthetic world: the verdicts and hits must
match the world's truth, and the sandbox's own counters show what was actually paid for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from provider_testkit import fast_caller

from jengu_pipeline.resources.alerts import WebhookAlerter
from jengu_pipeline.resources.call_ledger import Outcome
from jengu_pipeline.resources.calls import ProviderConfigError, ProviderError, QuotaExhausted
from jengu_pipeline.resources.llm import AnthropicMessages, FallbackChat, OpenAiChat, Prompt
from jengu_pipeline.resources.runtime import BackgroundLoop
from jengu_pipeline.resources.search import (
    BraveSearch,
    DuckDuckGoHtml,
    GoogleCustomSearch,
    SearchTier,
    SearxngSearch,
    Waterfall,
)
from jengu_pipeline.resources.verify import MillionVerifier, SmtpProbeVerifier, SyntaxMxVerifier, verify_many
from jengu_pipeline.sandbox import GOOGLE_CSE_CX, SANDBOX_KEYS, Mailbox, Sandbox
from jengu_pipeline.sandbox.world import Hotel, Person
from jengu_pipeline.store import CrmStore

LOOP = BackgroundLoop()


pytestmark = pytest.mark.usefixtures("fresh_sandbox")


def calls(sandbox: Sandbox, provider: str) -> int:
    return int(sandbox.stats()["providers"][provider]["calls"])


def a_hotel(sandbox: Sandbox, **wanted: bool) -> Hotel:
    return next(h for h in sandbox.world.hotels if all(getattr(h, k) == v for k, v in wanted.items()))


def a_person(sandbox: Sandbox, mailbox: Mailbox) -> Person:
    return next(
        p
        for h in sandbox.world.hotels
        if not h.greylisting
        for p in h.staff
        if sandbox.world.mailbox(p.email) is mailbox
    )


def search_tiers(sandbox: Sandbox, store: CrmStore) -> dict[str, SearchTier]:
    base = sandbox.base_url
    return {
        "brave": BraveSearch(fast_caller("brave", store), api_key=SANDBOX_KEYS["brave"], base_url=base),
        "google_cse": GoogleCustomSearch(
            fast_caller("google_cse", store), api_key=SANDBOX_KEYS["google_cse"], cx=GOOGLE_CSE_CX, base_url=base
        ),
        "duckduckgo": DuckDuckGoHtml(fast_caller("duckduckgo", store), base_url=base),
        "searxng": SearxngSearch(fast_caller("searxng", store), base_url=base),
    }


@pytest.mark.parametrize("provider", ["brave", "google_cse", "duckduckgo", "searxng"])
def test_search_clients_find_the_official_site(sandbox: Sandbox, duck: CrmStore, provider: str) -> None:
    hotel = a_hotel(sandbox, indexed=True)
    client = search_tiers(sandbox, duck)[provider]
    hits = LOOP.run(client.search(f"{hotel.name} {hotel.city}"))
    assert hotel.website in [hit.url for hit in hits]
    assert all(hit.source == provider and hit.title for hit in hits)
    LOOP.run(client.search(f"{hotel.name.upper()}  {hotel.city}"))  # the same question again
    assert calls(sandbox, provider) == 1


def test_search_quota_at_the_provider_is_quota_exhausted(sandbox: Sandbox, duck: CrmStore) -> None:
    sandbox.configure("brave", daily_quota=2)
    brave = search_tiers(sandbox, duck)["brave"]
    for hotel in sandbox.world.hotels[:2]:
        LOOP.run(brave.search(f"{hotel.name} {hotel.city}"))
    with pytest.raises(QuotaExhausted):
        LOOP.run(brave.search("one query too many"))
    assert calls(sandbox, "brave") == 3


def test_our_rate_limit_keeps_us_under_the_providers(sandbox: Sandbox, duck: CrmStore) -> None:
    """The sandbox allows 2 calls a second; our token bucket (2/s, real sleeps) never trips it."""
    sandbox.configure("brave", rate_limit_per_s=2)
    caller = fast_caller("brave", duck, sleep=asyncio.sleep, rate_per_second=2.0, burst=1)
    brave = BraveSearch(caller, api_key=SANDBOX_KEYS["brave"], base_url=sandbox.base_url)
    started = time.monotonic()
    for hotel in sandbox.world.hotels[:4]:
        assert LOOP.run(brave.search(f"{hotel.name} {hotel.city}"))
    assert time.monotonic() - started >= 1.4
    assert sandbox.stats()["providers"]["brave"]["outcomes"] == {"ok": 4}


def test_waterfall_skips_broken_tiers_and_keeps_unanswered_queries_pending(sandbox: Sandbox, duck: CrmStore) -> None:
    tiers = search_tiers(sandbox, duck)
    waterfall = Waterfall([tiers["searxng"], tiers["duckduckgo"], tiers["brave"]])
    sandbox.configure("searxng", forbidden=True)  # JSON output disabled: a configuration error
    sandbox.configure("duckduckgo", forbidden=True)  # a challenge page: unavailable
    hotel = a_hotel(sandbox, indexed=True)
    hits = LOOP.run(waterfall.search(f"{hotel.name} {hotel.city}"))
    assert {hit.source for hit in hits} == {"brave"}
    assert hotel.website in [h.url for h in hits]
    sandbox.configure("brave", error_rate=1.0)
    with pytest.raises(ProviderError) as raised:
        LOOP.run(waterfall.search("Another Hotel Somewhere"))
    assert raised.value.outcome is Outcome.UNAVAILABLE
    assert all(name in str(raised.value) for name in ("searxng", "duckduckgo", "brave"))
    # The misconfigured tier was asked once; the throttled one is asked again (it may recover).
    assert calls(sandbox, "searxng") == 1
    assert calls(sandbox, "duckduckgo") == 2


@pytest.mark.parametrize(
    ("mailbox", "expected"),
    [(Mailbox.EXISTS, "valid"), (Mailbox.MISSING, "invalid"), (Mailbox.CATCH_ALL, "catch_all")],
)
def test_millionverifier_agrees_with_the_world(
    sandbox: Sandbox, duck: CrmStore, mailbox: Mailbox, expected: str
) -> None:
    client = MillionVerifier(
        fast_caller("millionverifier", duck), api_key=SANDBOX_KEYS["millionverifier"], base_url=sandbox.base_url
    )
    person = a_person(sandbox, mailbox)
    assert LOOP.run(client.verify(person.email)).result == expected


def test_millionverifier_wrong_key_and_spent_credits_are_errors(sandbox: Sandbox, duck: CrmStore) -> None:
    wrong = MillionVerifier(fast_caller("millionverifier", duck), api_key="wrong-key-123", base_url=sandbox.base_url)
    email = a_person(sandbox, Mailbox.EXISTS).email
    with pytest.raises(ProviderConfigError):
        LOOP.run(wrong.verify(email))
    sandbox.configure("millionverifier", daily_quota=0)
    right = MillionVerifier(
        fast_caller("millionverifier", duck), api_key=SANDBOX_KEYS["millionverifier"], base_url=sandbox.base_url
    )
    with pytest.raises(QuotaExhausted):
        LOOP.run(right.verify(email))


def test_verify_many_stops_at_our_daily_quota_and_keeps_the_rest_pending(sandbox: Sandbox, duck: CrmStore) -> None:
    client = MillionVerifier(
        fast_caller("millionverifier", duck, daily_quota=5),
        api_key=SANDBOX_KEYS["millionverifier"],
        base_url=sandbox.base_url,
    )
    emails = [p.email for h in sandbox.world.hotels if not h.greylisting for p in h.staff][:12]
    done, pending = LOOP.run(verify_many(client, emails, workers=3))
    assert len(done) == 5
    assert len(pending) == 7
    assert calls(sandbox, "millionverifier") == 5
    assert {v.email for v in done} | {p.item for p in pending} == set(emails)
    assert all(p.reason.startswith("millionverifier verify quota_exhausted") for p in pending)


def smtp_probe(sandbox: Sandbox, store: CrmStore) -> SmtpProbeVerifier:
    return SmtpProbeVerifier(
        fast_caller("smtp_probe", store),
        mx_lookup=sandbox.world.mx,
        helo_name="probe.jengu.test",
        mail_from="probe@jengu.test",
        connect=lambda host: (sandbox.smtp_host, sandbox.smtp_port),
    )


@pytest.mark.parametrize(
    ("mailbox", "expected"),
    [(Mailbox.EXISTS, "valid"), (Mailbox.MISSING, "invalid"), (Mailbox.CATCH_ALL, "catch_all")],
)
def test_smtp_probe_agrees_with_the_world(sandbox: Sandbox, duck: CrmStore, mailbox: Mailbox, expected: str) -> None:
    verdict = LOOP.run(smtp_probe(sandbox, duck).verify(a_person(sandbox, mailbox).email))
    assert verdict.result == expected
    assert verdict.provider == "smtp_probe"


def test_smtp_probe_dead_domain_greylisting_and_refused_connections(sandbox: Sandbox, duck: CrmStore) -> None:
    probe = smtp_probe(sandbox, duck)
    dead = a_hotel(sandbox, has_mx=False)
    assert LOOP.run(probe.verify(f"someone@{dead.domain}")).result == "invalid"
    grey = next(h for h in sandbox.world.hotels if h.greylisting and not h.catch_all and h.staff)
    address = next(p.email for p in grey.staff if p.mailbox_exists)
    assert LOOP.run(probe.verify(address)).result == "unknown"  # 451 the first time
    assert LOOP.run(probe.verify(address)).result == "valid"  # unknown is not cached: asked again
    closed = SmtpProbeVerifier(
        fast_caller("smtp_closed", duck, max_attempts=2),
        mx_lookup=sandbox.world.mx,
        helo_name="probe.jengu.test",
        mail_from="probe@jengu.test",
        connect=lambda host: ("127.0.0.1", 9),
    )
    with pytest.raises(ProviderError) as raised:
        LOOP.run(closed.verify(a_person(sandbox, Mailbox.EXISTS).email))
    assert raised.value.outcome is Outcome.TRANSPORT_ERROR


def test_smtp_probe_blocked_by_policy_gives_no_verdict(sandbox: Sandbox, duck: CrmStore) -> None:
    sandbox.configure("smtp", forbidden=True)  # 554 5.7.1: our IP is "blocklisted"
    probe = smtp_probe(sandbox, duck)
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            LOOP.run(probe.verify(a_person(sandbox, Mailbox.MISSING).email))
        assert raised.value.outcome is Outcome.UNAVAILABLE
        assert "5.7.1" in str(raised.value)


def test_syntax_mx_verifier_is_honest_about_what_it_knows(sandbox: Sandbox) -> None:
    verifier = SyntaxMxVerifier(mx_lookup=sandbox.world.mx)
    assert LOOP.run(verifier.verify(a_person(sandbox, Mailbox.EXISTS).email)).result == "risky"
    assert LOOP.run(verifier.verify(f"x@{a_hotel(sandbox, has_mx=False).domain}")).result == "invalid"
    assert LOOP.run(verifier.verify("two@@signs.test")).result == "invalid"


def test_llm_clients_answer_and_fall_back(sandbox: Sandbox, duck: CrmStore) -> None:
    openai = OpenAiChat(
        fast_caller("xai", duck), api_key=SANDBOX_KEYS["openai"], model="grok-4-fast", base_url=f"{sandbox.base_url}/v1"
    )
    anthropic = AnthropicMessages(
        fast_caller("anthropic", duck),
        api_key=SANDBOX_KEYS["anthropic"],
        model="claude-haiku-4-5",
        base_url=sandbox.base_url,
    )
    prompt = Prompt("You write short emails.", "Write to Zoë at Nordlys Hotel about group bookings.")
    for client in (openai, anthropic):
        completion = LOOP.run(client.complete(prompt))
        assert completion.text
        assert completion.usage.output_tokens > 0
    sandbox.configure("openai", error_rate=1.0)
    answer = LOOP.run(FallbackChat([openai, anthropic]).complete(Prompt("s", "a question not cached yet")))
    assert answer.provider == "anthropic"


def test_webhook_alerts_arrive(sandbox: Sandbox, duck: CrmStore) -> None:
    url = f"{sandbox.base_url}/webhook/{SANDBOX_KEYS['webhook']}"
    LOOP.run(WebhookAlerter(fast_caller("webhook", duck), webhook_url=url).send("Jengu: test alert"))
    assert any("Jengu: test alert" in str(alert) for alert in sandbox.alerts())


def test_malformed_answers_are_bad_responses(sandbox: Sandbox, duck: CrmStore, tmp_path: Path) -> None:
    sandbox.configure("searxng", malformed_rate=1.0)
    with pytest.raises(ProviderError) as raised:
        LOOP.run(search_tiers(sandbox, duck)["searxng"].search("Hotel Anything"))
    assert raised.value.outcome is Outcome.BAD_RESPONSE
