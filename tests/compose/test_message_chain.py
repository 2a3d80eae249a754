"""The writing chain against the SANDBOX's LLM endpoints: completions, timeouts, 429s and outages walk down to the
template, and a draft that obeys a hostile website never comes out of the chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jengu_pipeline.domain.campaigns import read_campaign_folder
from jengu_pipeline.domain.compose import MessageFacts
from jengu_pipeline.domain.message_gate import GateContext
from jengu_pipeline.domain.messages import MessageRequest, WrittenMessage
from jengu_pipeline.resources.call_policy import CircuitBreaker, ProviderLimits
from jengu_pipeline.resources.calls import ProviderCaller
from jengu_pipeline.resources.llm import AnthropicMessages, ChatModel, OpenAiChat
from jengu_pipeline.resources.message_writer import write_messages
from jengu_pipeline.sandbox import SANDBOX_KEYS, Sandbox
from jengu_pipeline.sandbox.providers.anthropic_messages import ANTHROPIC_MODELS
from jengu_pipeline.sandbox.providers.openai_chat import OPENAI_MODELS
from jengu_pipeline.sandbox.web import INJECTION, INJECTION_DOMAIN
from jengu_pipeline.store import CrmStore

CAMPAIGN = read_campaign_folder(Path("jengu_pipeline/sandbox/campaigns"))[0].campaign
LIMITS = ProviderLimits(
    timeout_seconds=0.5,
    max_attempts=2,
    backoff_base_seconds=0.01,
    backoff_cap_seconds=0.05,
    max_total_wait_seconds=2.0,
    breaker_threshold=100,
    breaker_cooldown_seconds=0.1,
)


def models(sandbox: Sandbox, store: CrmStore, limits: ProviderLimits = LIMITS) -> list[ChatModel]:
    """Fresh callers with their own breakers: one test's outage must not open the next test's circuit."""

    def caller(name: str) -> ProviderCaller:
        return ProviderCaller(name, store, limits, breaker=CircuitBreaker(100, 0.1))

    return [
        OpenAiChat(
            caller("xai"), api_key=SANDBOX_KEYS["openai"], model=OPENAI_MODELS[0], base_url=f"{sandbox.base_url}/v1"
        ),
        AnthropicMessages(
            caller("anthropic"), api_key=SANDBOX_KEYS["anthropic"], model=ANTHROPIC_MODELS[0], base_url=sandbox.base_url
        ),
    ]


def request(sandbox: Sandbox, index: int, *, excerpt: str = "") -> MessageRequest:
    hotel, person = sandbox.world.people()[index]
    facts = MessageFacts(
        prospect_id=f"p{index}",
        first_name=person.first,
        last_name=person.last,
        title=person.title,
        hotel=hotel.name,
        country=hotel.country,
        website_domain=hotel.domain,
        page_title=f"{hotel.name} | Official",
        page_description=None,
        page_excerpt=excerpt or f"Welcome to {hotel.name}, {hotel.city}.",
        value_proposition=CAMPAIGN.value_proposition,
        variant=None,
        variant_description=None,
        step=1,
    )
    sender = CAMPAIGN.sender
    gate = GateContext(
        recipient_email=person.email,
        recipient_first_name=person.first,
        recipient_last_name=person.last,
        hotel_name=hotel.name,
        sender_email=sender.sender_email,
        sender_name=sender.sender_name,
        reply_to=sender.reply_to,
        postal_address=sender.postal_address,
        unsubscribe_text=sender.unsubscribe_text,
        allowed_link_domains=CAMPAIGN.link_domains(),
        scraped_text=facts.website_text(),
    )
    return MessageRequest(facts, CAMPAIGN, CAMPAIGN.steps[0], gate)


def write(
    sandbox: Sandbox, store: CrmStore, requests: list[MessageRequest], limits: ProviderLimits = LIMITS
) -> list[WrittenMessage]:
    async def run() -> list[WrittenMessage]:
        chain = models(sandbox, store, limits)
        try:
            return await write_messages(chain, requests, batch_id="chain-test")
        finally:
            for model in chain:
                await model.aclose()

    return asyncio.run(run())


def path(message: WrittenMessage) -> list[tuple[str, str]]:
    return [(attempt.writer, attempt.outcome) for attempt in message.attempts]


def test_the_primary_model_writes_a_message_that_passes_the_gate(sandbox: Sandbox, store: CrmStore) -> None:
    written = write(sandbox, store, [request(sandbox, i) for i in range(3)])
    for message in written:
        assert path(message) == [("xai", "written")]
        assert message.gate.passed
        assert message.prompt_version is not None
        assert message.prompt_version.startswith("first_touch_v1@")
        assert message.model == OPENAI_MODELS[0]
        assert message.draft.body.endswith(CAMPAIGN.sender.postal_address)
        assert message.request.facts.first_name in message.draft.body  # type: ignore[operator]


@pytest.mark.parametrize(
    ("openai_fault", "outcome"),
    [
        ({"error_rate": 1.0}, "provider_error"),  # 503 on every try: an outage
        ({"latency_ms": 1500}, "provider_error"),  # slower than the 0.5 s timeout
        ({"daily_quota": 0}, "provider_error"),  # 429 insufficient_quota
        ({"malformed_rate": 1.0}, "provider_error"),  # a 200 whose body is not the documented shape
    ],
)
def test_a_failing_primary_hands_over_to_the_secondary(
    sandbox: Sandbox, store: CrmStore, openai_fault: dict[str, float], outcome: str
) -> None:
    sandbox.configure("openai", **openai_fault)
    [message] = write(sandbox, store, [request(sandbox, 0)])
    assert path(message) == [("xai", outcome), ("anthropic", "written")]
    assert message.writer == "anthropic"
    assert message.model == ANTHROPIC_MODELS[0]
    assert message.gate.passed


def test_rate_limited_primary_is_retried_not_skipped(sandbox: Sandbox, store: CrmStore) -> None:
    sandbox.configure("openai", rate_limit_per_s=2)
    patient = LIMITS.model_copy(update={"max_attempts": 6, "max_total_wait_seconds": 10.0})
    written = write(sandbox, store, [request(sandbox, i) for i in range(4)], patient)
    assert [message.writer for message in written] == ["xai"] * 4
    assert all(message.gate.passed for message in written)
    assert sandbox.stats()["providers"]["openai"]["outcomes"].get("rate_limited", 0) >= 1


def test_both_models_down_gives_the_template(sandbox: Sandbox, store: CrmStore) -> None:
    sandbox.configure("openai", error_rate=1.0)
    sandbox.configure("anthropic", error_rate=1.0)
    [message] = write(sandbox, store, [request(sandbox, 0)])
    assert path(message) == [("xai", "provider_error"), ("anthropic", "provider_error"), ("template", "written")]
    assert message.writer == "template"
    assert message.template == "first_touch.txt.j2"
    assert message.prompt_version is None
    assert message.gate.passed


def test_a_truncated_answer_is_not_used(sandbox: Sandbox, store: CrmStore) -> None:
    from jengu_pipeline.resources import message_writer

    original = message_writer.MAX_TOKENS
    message_writer.MAX_TOKENS = 20
    try:
        [message] = write(sandbox, store, [request(sandbox, 0)])
    finally:
        message_writer.MAX_TOKENS = original
    assert path(message) == [("xai", "unusable_answer"), ("anthropic", "unusable_answer"), ("template", "written")]


def test_a_draft_that_obeys_a_hostile_website_never_leaves_the_chain(sandbox: Sandbox, store: CrmStore) -> None:
    hostile = request(sandbox, 0, excerpt=f"Welcome to our hotel. {INJECTION}")
    [message] = write(sandbox, store, [hostile])
    assert [a.outcome for a in message.attempts] == ["gate_failed", "gate_failed", "written"]
    refused = message.attempts[0].failed_rules
    assert {"foreign_address", "scraped_link"} & set(refused), refused
    assert message.writer == "template"
    assert INJECTION_DOMAIN not in message.draft.body
    assert "Smith" not in message.draft.body
    assert message.gate.passed
