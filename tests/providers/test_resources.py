"""The Dagster resources, configured as the lead wires them (secrets through ``dg.EnvVar``), run
against the SANDBOX: tier selection, batches that stop on quota, and no secret in any log or event."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from provider_testkit import FAST

from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.calls import ProviderConfigError
from jengu_pipeline.resources.llm import LlmResource, Prompt
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.verify import VerifierResource
from jengu_pipeline.sandbox import GOOGLE_CSE_CX, SANDBOX_KEYS, Mailbox, Sandbox
from jengu_pipeline.store import open_store

pytestmark = pytest.mark.usefixtures("fresh_sandbox")


@pytest.fixture(autouse=True)
def sandbox_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "JENGU_BRAVE_API_KEY": SANDBOX_KEYS["brave"],
        "JENGU_MILLIONVERIFIER_API_KEY": SANDBOX_KEYS["millionverifier"],
        "JENGU_LLM_API_KEY": SANDBOX_KEYS["openai"],
        "JENGU_GOOGLE_CSE_API_KEY": SANDBOX_KEYS["google_cse"],
    }.items():
        monkeypatch.setenv(name, value)


def queries(sandbox: Sandbox, n: int) -> list[str]:
    return [f"{h.name} {h.city}" for h in sandbox.world.hotels[:n]]


def test_search_resource_uses_the_configured_tiers_in_order(sandbox: Sandbox, duck_url: str) -> None:
    llm = LlmResource(store_url=duck_url, api_key=dg.EnvVar("JENGU_LLM_API_KEY"), base_url=f"{sandbox.base_url}/v1")
    search = SearchResource(
        store_url=duck_url,
        llm=llm,
        duckduckgo_enabled=False,
        searxng_base_url=sandbox.base_url,
        brave_api_key=dg.EnvVar("JENGU_BRAVE_API_KEY"),
        brave_base_url=sandbox.base_url,
        google_api_key=dg.EnvVar("JENGU_GOOGLE_CSE_API_KEY"),
        google_cx=GOOGLE_CSE_CX,
        google_base_url=sandbox.base_url,
    )
    with dg.build_resources({"search": search}) as resources:
        # duckduckgo is switched off and Google CSE is off by default: neither is asked.
        assert resources.search.tiers == ["searxng", "brave", "llm_guess"]
        hotel = next(h for h in sandbox.world.hotels if h.indexed)
        hits = resources.search.search(f"{hotel.name} {hotel.city}")
    # SearXNG answers first, so the later tiers (Brave, the LLM's guess) are never paid for.
    assert hotel.website in [h.url for h in hits]
    assert {h.source for h in hits} == {"searxng"}
    assert Counter(open_store(duck_url).query("SELECT provider FROM provider_calls")["provider"].to_list()) == {
        "searxng": 1,
    }


def test_search_many_returns_pending_queries_once_every_tier_is_out_of_quota(sandbox: Sandbox, duck_url: str) -> None:
    search = SearchResource(
        store_url=duck_url,
        order=["brave", "duckduckgo"],
        brave_api_key=dg.EnvVar("JENGU_BRAVE_API_KEY"),
        brave_base_url=sandbox.base_url,
        brave_limits=FAST.model_copy(update={"daily_quota": 2}),
        duckduckgo_base_url=sandbox.base_url,
        duckduckgo_limits=FAST.model_copy(update={"daily_quota": 1}),
    )
    asked = queries(sandbox, 5)
    with dg.build_resources({"search": search}) as resources:
        done, pending = resources.search.search_many(asked, batch_id="b-search", workers=1)
    assert list(done) == asked[:3]
    assert [p.item for p in pending] == asked[3:]
    assert all("quota_exhausted" in p.reason for p in pending)
    stats = sandbox.stats()["providers"]
    assert stats["brave"]["calls"] == 2
    assert stats["duckduckgo"]["calls"] == 1


def test_verifier_resource_verify_many_commits_done_and_keeps_the_rest(sandbox: Sandbox, duck_url: str) -> None:
    verifier = VerifierResource(
        store_url=duck_url,
        millionverifier_api_key=dg.EnvVar("JENGU_MILLIONVERIFIER_API_KEY"),
        millionverifier_base_url=sandbox.base_url,
        millionverifier_limits=FAST.model_copy(update={"daily_quota": 4}),
    )
    emails = [p.email for h in sandbox.world.hotels if not h.greylisting for p in h.staff][:10]
    with dg.build_resources({"verifier": verifier}) as resources:
        assert resources.verifier.selected == "millionverifier"
        done, pending = resources.verifier.verify_many(emails, batch_id="b-verify")
        assert len(done) == 4
        assert len(pending) == 6
        again, _ = resources.verifier.verify_many([v.email for v in done], batch_id="b-verify")
    assert again == done  # from the store's cache: the sandbox saw 4 paid calls, not 8
    assert sandbox.stats()["providers"]["millionverifier"]["calls"] == 4


def test_verifier_resource_probes_the_sandbox_mx_from_a_table(sandbox: Sandbox, duck_url: str, tmp_path: Path) -> None:
    table = tmp_path / "mx.json"
    table.write_text(json.dumps({h.domain: list(h.mx) for h in sandbox.world.hotels}))
    person = next(
        p
        for h in sandbox.world.hotels
        if not h.greylisting
        for p in h.staff
        if sandbox.world.mailbox(p.email) is Mailbox.EXISTS
    )
    probe = VerifierResource(
        store_url=duck_url,
        provider="smtp_probe",
        smtp_helo_name="probe.jengu.test",
        smtp_mail_from="probe@jengu.test",
        mx_table_path=str(table),
        smtp_connect_host=sandbox.smtp_host,
        smtp_port=sandbox.smtp_port,
    )
    offline = VerifierResource(store_url=duck_url, mx_table_path=str(table))
    with dg.build_resources({"probe": probe, "offline": offline}) as resources:
        assert resources.probe.verify(person.email).result == "valid"
        assert resources.offline.selected == "syntax_mx"
        assert resources.offline.verify(person.email).result == "risky"
    with (
        pytest.raises(dg.DagsterResourceFunctionError) as raised,
        dg.build_resources({"bad": VerifierResource(store_url=duck_url, provider="smtp_probe")}),
    ):
        pass
    assert isinstance(raised.value.__cause__, ProviderConfigError)
    assert "smtp_helo_name" in str(raised.value.__cause__)


def test_llm_resource_without_models_says_so(duck_url: str) -> None:
    with dg.build_resources({"llm": LlmResource(store_url=duck_url)}) as resources:
        assert not resources.llm.configured
        with pytest.raises(ProviderConfigError, match="no provider configured"):
            resources.llm.complete(Prompt("s", "u"))


def test_alerts_resource_posts_or_logs(sandbox: Sandbox, duck_url: str) -> None:
    url = f"{sandbox.base_url}/webhook/{SANDBOX_KEYS['webhook']}"
    with dg.build_resources(
        {"on": AlertsResource(store_url=duck_url, webhook_url=url), "off": AlertsResource(store_url=duck_url)}
    ) as resources:
        assert resources.on.send("Jengu: inbox paused")
        assert not resources.off.send("Jengu: nowhere to post")
    assert [a for a in sandbox.alerts() if "inbox paused" in str(a)]


def test_an_asset_run_leaks_no_secret_and_tags_the_ledger_with_its_batch(
    sandbox: Sandbox, duck_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    emails = [p.email for h in sandbox.world.hotels for p in h.staff][:6]

    @dg.asset
    def email_verifications(verifier: VerifierResource) -> dg.MaterializeResult:
        done, pending = verifier.verify_many(emails, batch_id="b-asset")
        return dg.MaterializeResult(metadata={"verified": len(done), "pending": len(pending)})

    verifier = VerifierResource(
        store_url=duck_url,
        millionverifier_api_key=dg.EnvVar("JENGU_MILLIONVERIFIER_API_KEY"),
        millionverifier_base_url=sandbox.base_url,
        millionverifier_limits=ProviderLimits(max_attempts=2, backoff_base_seconds=0.01),
    )
    with caplog.at_level(logging.DEBUG):
        result = dg.materialize([email_verifications], resources={"verifier": verifier})
    assert result.success
    events = "\n".join(str(event) for event in result.all_events)
    for text in (events, caplog.text):
        assert SANDBOX_KEYS["millionverifier"] not in text
    ledger = open_store(duck_url).query("SELECT DISTINCT batch_id, provider FROM provider_calls")
    assert ledger.rows() == [("b-asset", "millionverifier")]
