"""Each client against the documented example answers of shared/contracts/, served verbatim by a
loopback HTTP server: success shapes, absent optional fields, and every documented error."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from provider_testkit import Canned, Loopback, SleepLog, fast_caller, outcomes

from jengu_pipeline.resources.alerts import WebhookAlerter
from jengu_pipeline.resources.call_ledger import Outcome
from jengu_pipeline.resources.calls import ProviderConfigError, ProviderError, QuotaExhausted
from jengu_pipeline.resources.llm import AnthropicMessages, OpenAiChat, Prompt
from jengu_pipeline.resources.runtime import BackgroundLoop
from jengu_pipeline.resources.search import (
    BraveSearch,
    DuckDuckGoHtml,
    GoogleCustomSearch,
    LlmGuessSearch,
    SearchHit,
    SearxngSearch,
)
from jengu_pipeline.resources.verify import MillionVerifier
from jengu_pipeline.store import CrmStore

LOOP = BackgroundLoop()

# ---- brave-web-search.md ------------------------------------------------------------------

BRAVE_OK = """{
  "type": "search",
  "query": {"original": "Hotel Bellevue Geneva", "more_results_available": true},
  "web": {
    "type": "search",
    "results": [
      {"title": "Hôtel Bellevue | Official site", "url": "https://www.hotel-bellevue.test/",
       "description": "Boutique hotel on the lake...", "language": "en", "family_friendly": true,
       "meta_url": {"scheme": "https", "netloc": "www.hotel-bellevue.test", "hostname": "www.hotel-bellevue.test", "path": "› "}},
      {"title": "Hôtel Bellevue, Geneva - Booking", "url": "https://www.booking.com/hotel/ch/bellevue.html",
       "description": "...", "meta_url": {"hostname": "www.booking.com"}}
    ]
  }
}"""
BRAVE_QUOTA = """{"type": "ErrorResponse", "error": {"id": "…", "status": 429, "code": "RATE_LIMITED", "detail": "Request rate limit exceeded for plan.", "meta": {"plan": "Free", "rate_limit": 1, "org_rate_limit": null, "quota_limit": 2000, "quota_current": 2000}}}"""
BRAVE_HEADERS = {
    "Content-Type": "application/json",
    "X-RateLimit-Limit": "1, 15000",
    "X-RateLimit-Policy": "1;w=1, 15000;w=2592000",
    "X-RateLimit-Remaining": "0, 14999",
    "X-RateLimit-Reset": "1, 2419200",
}
BRAVE_KEY = "BSA-contract-key-0001"


def brave(loopback: Loopback, store: CrmStore, **changes: Any) -> BraveSearch:
    return BraveSearch(fast_caller("brave", store, **changes), api_key=BRAVE_KEY, base_url=loopback.url)


def test_brave_reads_the_documented_answer(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/res/v1/web/search", Canned(200, BRAVE_OK, BRAVE_HEADERS))
    hits = LOOP.run(brave(loopback, duck).search("Hotel Bellevue Geneva"))
    assert hits == [
        SearchHit(
            "https://www.hotel-bellevue.test/",
            "Hôtel Bellevue | Official site",
            "Boutique hotel on the lake...",
            "brave",
        ),
        SearchHit("https://www.booking.com/hotel/ch/bellevue.html", "Hôtel Bellevue, Geneva - Booking", "...", "brave"),
    ]
    sent = loopback.requests[0]
    assert sent.headers["x-subscription-token"] == BRAVE_KEY
    assert sent.headers["accept"] == "application/json"
    assert sent.query["q"] == ["Hotel Bellevue Geneva"]
    assert sent.query["count"] == ["10"]


def test_brave_without_web_results_is_empty_and_cached_per_meaning(loopback: Loopback, duck: CrmStore) -> None:
    body = '{"type": "search", "query": {"original": "zzz", "more_results_available": false}}'
    loopback.script("/res/v1/web/search", Canned(200, body, BRAVE_HEADERS))
    client = brave(loopback, duck)
    assert LOOP.run(client.search("Nowhere  Hotel")) == []
    assert LOOP.run(client.search("nowhere hotel")) == []  # same question: case and spacing ignored
    assert loopback.count() == 1


def test_brave_spent_plan_quota_is_quota_exhausted_not_retried(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/res/v1/web/search", Canned(429, BRAVE_QUOTA, BRAVE_HEADERS))
    with pytest.raises(QuotaExhausted) as raised:
        LOOP.run(brave(loopback, duck).search("Hotel Bellevue Geneva"))
    assert raised.value.provider == "brave"
    assert "2000" in str(raised.value)
    assert loopback.count() == 1


def test_brave_rate_limit_is_retried_and_bad_token_is_configuration(loopback: Loopback, duck: CrmStore) -> None:
    throttled = BRAVE_QUOTA.replace('"quota_current": 2000', '"quota_current": 12')
    loopback.script(
        "/res/v1/web/search", Canned(429, throttled, {**BRAVE_HEADERS, "Retry-After": "1"}), Canned(200, BRAVE_OK)
    )
    assert len(LOOP.run(brave(loopback, duck).search("Hotel Bellevue Geneva"))) == 2
    loopback.script("/res/v1/web/search", Canned(401, '{"type": "ErrorResponse", "error": {"status": 401}}'))
    with pytest.raises(ProviderConfigError):
        LOOP.run(brave(loopback, duck).search("another query"))


# ---- google-custom-search.md --------------------------------------------------------------

GOOGLE_OK = """{
  "kind": "customsearch#search",
  "queries": {"request": [{"searchTerms": "Nordlys Hotel Copenhagen", "count": 10, "startIndex": 1}]},
  "searchInformation": {"searchTime": 0.31, "totalResults": "1280"},
  "items": [
    {"kind": "customsearch#result", "title": "Nordlys Hotel – Copenhagen", "link": "https://nordlys-hotel.test/",
     "displayLink": "nordlys-hotel.test", "snippet": "Design hotel in Vesterbro...", "pagemap": {"metatags": [{"og:site_name": "Nordlys Hotel"}]}}
  ]
}"""
GOOGLE_QUOTA = """{"error": {"code": 429, "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'customsearch.googleapis.com'...", "status": "RESOURCE_EXHAUSTED",
  "errors": [{"message": "...", "domain": "global", "reason": "rateLimitExceeded"}]}}"""
GOOGLE_KEY = "AIza-contract-key-0002"


def google(loopback: Loopback, store: CrmStore) -> GoogleCustomSearch:
    return GoogleCustomSearch(
        fast_caller("google_cse", store), api_key=GOOGLE_KEY, cx="engine-1", base_url=loopback.url
    )


def test_google_reads_the_documented_answer_and_its_absence(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/customsearch/v1", Canned(200, GOOGLE_OK), Canned(200, '{"kind": "customsearch#search"}'))
    client = google(loopback, duck)
    hits = LOOP.run(client.search("Nordlys Hotel Copenhagen"))
    assert hits == [
        SearchHit(
            "https://nordlys-hotel.test/", "Nordlys Hotel – Copenhagen", "Design hotel in Vesterbro...", "google_cse"
        )
    ]
    assert LOOP.run(client.search("nothing matches this")) == []
    assert loopback.requests[0].query["key"] == [GOOGLE_KEY]
    assert loopback.requests[0].query["cx"] == ["engine-1"]


def test_google_daily_quota_and_bad_key(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/customsearch/v1", Canned(429, GOOGLE_QUOTA))
    with pytest.raises(QuotaExhausted):
        LOOP.run(google(loopback, duck).search("Nordlys Hotel Copenhagen"))
    assert loopback.count() == 1
    bad_key = '{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT", "errors": [{"reason": "keyInvalid"}]}}'
    loopback.script("/customsearch/v1", Canned(400, bad_key))
    with pytest.raises(ProviderConfigError) as raised:
        LOOP.run(google(loopback, duck).search("other"))
    assert GOOGLE_KEY not in str(raised.value)
    loopback.script("/customsearch/v1", Canned(403, '{"error": {"code": 403, "status": "PERMISSION_DENIED"}}'))
    with pytest.raises(ProviderConfigError):
        LOOP.run(google(loopback, duck).search("third"))


# ---- searxng.md ---------------------------------------------------------------------------

SEARX_OK = """{"query": "Sakura Ryokan Kyoto", "number_of_results": 0,
 "results": [
   {"url": "https://sakura-ryokan.test/", "title": "Sakura Ryokan | Kyoto", "content": "Traditional inn in Higashiyama...",
    "engine": "duckduckgo", "engines": ["duckduckgo", "brave"], "score": 2.0, "category": "general", "parsed_url": ["https", "sakura-ryokan.test", "/", "", "", ""]}
 ],
 "answers": [], "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": [["google", "timeout"]]}"""


def test_searxng_uses_the_list_not_the_count_and_403_is_configuration(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/search", Canned(200, SEARX_OK))
    client = SearxngSearch(fast_caller("searxng", duck), base_url=loopback.url)
    hits = LOOP.run(client.search("Sakura Ryokan Kyoto"))
    assert hits == [
        SearchHit(
            "https://sakura-ryokan.test/", "Sakura Ryokan | Kyoto", "Traditional inn in Higashiyama...", "searxng"
        )
    ]
    assert loopback.requests[0].query["format"] == ["json"]
    loopback.script("/search", Canned(403, "Forbidden"))
    with pytest.raises(ProviderConfigError, match=r"search\.formats"):
        LOOP.run(client.search("another"))


# ---- duckduckgo-html.md -------------------------------------------------------------------

DDG_PAGE = """<!DOCTYPE html><html><body><div id="links" class="results">
<div class="result results_links results_links_deep result--ad">
  <div class="links_main links_deep result__body">
    <h2 class="result__title"><a rel="nofollow" class="result__a" href="https://duckduckgo.com/y.js?ad_provider=x">Cheap Kyoto hotels</a></h2>
    <a class="result__snippet" href="https://duckduckgo.com/y.js?ad_provider=x">Book now</a>
  </div>
</div>
<div class="result results_links results_links_deep web-result ">
  <div class="links_main links_deep result__body">
    <h2 class="result__title">
      <a rel="nofollow" class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fsakura-ryokan.test%2Fen%2F%3Flang%3Den&amp;rut=abc123">Sakura <b>Ryokan</b> | Kyoto</a>
    </h2>
    <div class="result__extras"><div class="result__extras__url">
      <a class="result__url" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fsakura-ryokan.test%2F&amp;rut=abc123">sakura-ryokan.test</a>
    </div></div>
    <a class="result__snippet" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fsakura-ryokan.test%2F&amp;rut=abc123">Traditional inn in <b>Higashiyama</b>&hellip;</a>
    <div class="clear"></div>
  </div>
</div>
<div class="result results_links results_links_deep web-result ">
  <div class="links_main links_deep result__body">
    <h2 class="result__title"><a rel="nofollow" class="result__a" href="https://www.booking-aggregator.example/hotel/jp/sakura.html">Sakura Ryokan – BookingAggregator</a></h2>
    <a class="result__snippet" href="https://www.booking-aggregator.example/hotel/jp/sakura.html">Prices 2025</a>
  </div>
</div>
</div></body></html>"""
DDG_NO_RESULTS = (
    """<html><body><div id="links" class="results"><div class="no-results">No results.</div></div></body></html>"""
)
DDG_CHALLENGE = """<html><body><form id="challenge-form" action="/anomaly.js?sv=html&amp;cc=botnet" method="POST">
<div class="anomaly-modal__title">Unfortunately, bots use DuckDuckGo too.</div></form></body></html>"""


def ddg(loopback: Loopback, store: CrmStore) -> DuckDuckGoHtml:
    return DuckDuckGoHtml(fast_caller("duckduckgo", store), base_url=loopback.url)


def test_duckduckgo_parses_organic_results_and_unwraps_redirects(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/html/", Canned(200, DDG_PAGE, {"Content-Type": "text/html; charset=utf-8"}))
    hits = LOOP.run(ddg(loopback, duck).search("Sakura Ryokan Kyoto"))
    assert hits == [
        SearchHit(
            "https://sakura-ryokan.test/en/?lang=en",
            "Sakura Ryokan | Kyoto",
            "Traditional inn in Higashiyama…",
            "duckduckgo",
        ),
        SearchHit(
            "https://www.booking-aggregator.example/hotel/jp/sakura.html",
            "Sakura Ryokan – BookingAggregator",
            "Prices 2025",
            "duckduckgo",
        ),
    ]
    sent = loopback.requests[0]
    assert sent.method == "POST"
    assert sent.body == b"q=Sakura+Ryokan+Kyoto"
    assert sent.headers["user-agent"].startswith("Mozilla/5.0")


def test_duckduckgo_no_results_is_empty(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/html/", Canned(200, DDG_NO_RESULTS))
    assert LOOP.run(ddg(loopback, duck).search("no such hotel")) == []


@pytest.mark.parametrize("answer", [Canned(202, ""), Canned(403, "Forbidden"), Canned(200, DDG_CHALLENGE)])
def test_duckduckgo_throttling_is_unavailable_never_no_results(
    loopback: Loopback, duck: CrmStore, duck_url: str, answer: Canned
) -> None:
    loopback.script("/html/", answer)
    client = ddg(loopback, duck)
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            LOOP.run(client.search("Sakura Ryokan Kyoto"))
        assert raised.value.outcome is Outcome.UNAVAILABLE
    assert loopback.count() == 2  # not cached, not hammered with retries
    assert outcomes(duck_url, "duckduckgo") == ["unavailable", "unavailable"]


def test_duckduckgo_unknown_page_is_a_bad_response(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/html/", Canned(200, "<html><body><p>Something new</p></body></html>"))
    with pytest.raises(ProviderError) as raised:
        LOOP.run(ddg(loopback, duck).search("x"))
    assert raised.value.outcome is Outcome.BAD_RESPONSE


# ---- millionverifier.md -------------------------------------------------------------------

MV_OK = """{"email": "zoe.orsted@nordlys-hotel.test", "quality": "good", "result": "ok", "resultcode": 1,
 "subresult": "ok", "free": false, "role": false, "didyoumean": "", "credits": 4998,
 "executiontime": 1, "error": "", "livemode": true}"""
MV_KEY = "MV-contract-key-0003"


def mv_answer(result: str, code: int, error: str = "", quality: str = "") -> str:
    data = json.loads(MV_OK)
    return json.dumps({**data, "result": result, "resultcode": code, "error": error, "quality": quality})


def mv(loopback: Loopback, store: CrmStore) -> MillionVerifier:
    return MillionVerifier(fast_caller("millionverifier", store), api_key=MV_KEY, base_url=loopback.url)


def test_millionverifier_reads_a_verdict_and_caches_it(loopback: Loopback, duck: CrmStore, duck_url: str) -> None:
    loopback.script("/api/v3/", Canned(200, MV_OK))
    client = mv(loopback, duck)
    first = LOOP.run(client.verify("Zoe.Orsted@Nordlys-Hotel.test"))
    assert (first.email, first.result, first.provider) == ("zoe.orsted@nordlys-hotel.test", "valid", "millionverifier")
    assert LOOP.run(client.verify("zoe.orsted@nordlys-hotel.test")) == first
    assert loopback.count() == 1
    sent = loopback.requests[0].query
    assert sent["api"] == [MV_KEY]
    assert sent["email"] == ["zoe.orsted@nordlys-hotel.test"]
    assert sent["timeout"] == ["20"]
    assert outcomes(duck_url, "millionverifier") == ["ok", "cache_hit"]


@pytest.mark.parametrize(
    ("result", "code", "expected"),
    [("catch_all", 2, "catch_all"), ("invalid", 6, "invalid"), ("disposable", 5, "invalid"), ("unknown", 3, "unknown")],
)
def test_millionverifier_maps_results(
    loopback: Loopback, duck: CrmStore, result: str, code: int, expected: str
) -> None:
    loopback.script("/api/v3/", Canned(200, mv_answer(result, code)))
    assert LOOP.run(mv(loopback, duck).verify("zoe.orsted@nordlys-hotel.test")).result == expected


def test_millionverifier_unknown_is_asked_again_later(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/api/v3/", Canned(200, mv_answer("unknown", 3)))
    client = mv(loopback, duck)
    LOOP.run(client.verify("a@nordlys-hotel.test"))
    LOOP.run(client.verify("a@nordlys-hotel.test"))
    assert loopback.count() == 2


@pytest.mark.parametrize(
    ("message", "error_type"),
    [("Apikey not found", ProviderConfigError), ("Insufficient credits", QuotaExhausted)],
)
def test_millionverifier_http_200_error_trap_is_an_error_not_a_verdict(
    loopback: Loopback, duck: CrmStore, duck_url: str, message: str, error_type: type[ProviderError]
) -> None:
    loopback.script("/api/v3/", Canned(200, mv_answer("error", 4, message)))
    client = mv(loopback, duck)
    for _ in range(2):
        with pytest.raises(error_type, match=message):
            LOOP.run(client.verify("zoe.orsted@nordlys-hotel.test"))
    assert loopback.count() == 2  # never cached as a verdict
    assert "ok" not in outcomes(duck_url, "millionverifier")


def test_millionverifier_bad_syntax_costs_nothing(loopback: Loopback, duck: CrmStore) -> None:
    verdict = LOOP.run(mv(loopback, duck).verify("not an address"))
    assert verdict.result == "invalid"
    assert verdict.provider == "syntax"
    assert loopback.count() == 0


# ---- openai-chat.md -----------------------------------------------------------------------

OPENAI_OK = """{"id": "chatcmpl-abc123", "object": "chat.completion", "created": 1764000000, "model": "grok-4-fast",
 "choices": [{"index": 0, "message": {"role": "assistant", "content": "Subject: ...\\n\\nHi Zoë, ..."}, "finish_reason": "stop"}],
 "usage": {"prompt_tokens": 412, "completion_tokens": 187, "total_tokens": 599}}"""
OPENAI_KEY = "xai-contract-key-0004"
PROMPT = Prompt("You write short, warm emails.", "Write to Zoë at Nordlys Hotel.")


def openai_error(code: str, kind: str = "invalid_request_error") -> str:
    return json.dumps({"error": {"message": "...", "type": kind, "param": None, "code": code}})


def openai(loopback: Loopback, store: CrmStore, sleep: SleepLog | None = None) -> OpenAiChat:
    return OpenAiChat(
        fast_caller("xai", store, sleep=sleep), api_key=OPENAI_KEY, model="grok-4-fast", base_url=loopback.url
    )


def test_openai_chat_reads_text_and_usage(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/chat/completions", Canned(200, OPENAI_OK))
    completion = LOOP.run(openai(loopback, duck).complete(PROMPT))
    assert completion.text == "Subject: ...\n\nHi Zoë, ..."
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (412, 187)
    assert completion.finish_reason == "stop"
    assert not completion.truncated
    sent = loopback.requests[0]
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    body = json.loads(sent.body)
    assert body["model"] == "grok-4-fast"
    assert body["messages"][0]["role"] == "system"
    assert body["max_tokens"] == 600


def test_openai_insufficient_quota_is_not_retried(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/chat/completions", Canned(429, openai_error("insufficient_quota", "insufficient_quota")))
    with pytest.raises(QuotaExhausted):
        LOOP.run(openai(loopback, duck).complete(PROMPT))
    assert loopback.count() == 1


def test_openai_rate_limit_waits_for_retry_after(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script(
        "/chat/completions",
        Canned(429, openai_error("rate_limit_exceeded"), {"retry-after": "3"}),
        Canned(503, "unavailable"),
        Canned(200, OPENAI_OK),
    )
    sleep = SleepLog()
    assert LOOP.run(openai(loopback, duck, sleep).complete(PROMPT)).usage.output_tokens == 187
    assert sleep.asked[0] == 3.0
    assert loopback.count() == 3


def test_openai_bad_key_and_unknown_model_are_configuration(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/chat/completions", Canned(401, openai_error("invalid_api_key")))
    with pytest.raises(ProviderConfigError):
        LOOP.run(openai(loopback, duck).complete(PROMPT))
    loopback.script("/chat/completions", Canned(404, openai_error("model_not_found")))
    with pytest.raises(ProviderConfigError, match="unknown model"):
        LOOP.run(openai(loopback, duck).complete(Prompt("s", "u2")))


def test_openai_truncated_answers_are_not_cached(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/chat/completions", Canned(200, OPENAI_OK.replace('"stop"', '"length"')))
    client = openai(loopback, duck)
    assert LOOP.run(client.complete(PROMPT)).truncated
    LOOP.run(client.complete(PROMPT))
    assert loopback.count() == 2


def test_llm_guess_tier_returns_the_guessed_site(loopback: Loopback, duck: CrmStore) -> None:
    answer = json.loads(OPENAI_OK)
    answer["choices"][0]["message"]["content"] = '```json\n{"url": "https://nordlys-hotel.test/"}\n```'
    loopback.script("/chat/completions", Canned.json(answer))
    hits = LOOP.run(LlmGuessSearch(openai(loopback, duck)).search("Nordlys Hotel Copenhagen"))
    assert hits == [
        SearchHit("https://nordlys-hotel.test/", "Nordlys Hotel Copenhagen", "LLM guess, unverified", "llm_guess")
    ]
    answer["choices"][0]["message"]["content"] = '{"url": null}'
    loopback.script("/chat/completions", Canned.json(answer))
    assert LOOP.run(LlmGuessSearch(openai(loopback, duck)).search("Unknown Inn")) == []


# ---- anthropic-messages.md ----------------------------------------------------------------

ANTHROPIC_OK = """{"id": "msg_01XYZ", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
 "content": [{"type": "text", "text": "Subject: ...\\n\\nHi Zoë, ..."}],
 "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 398, "output_tokens": 170}}"""
ANTHROPIC_KEY = "sk-ant-contract-key-0005"


def anthropic_error(kind: str) -> str:
    return json.dumps({"type": "error", "error": {"type": kind, "message": "..."}})


def anthropic(loopback: Loopback, store: CrmStore) -> AnthropicMessages:
    return AnthropicMessages(
        fast_caller("anthropic", store), api_key=ANTHROPIC_KEY, model="claude-haiku-4-5", base_url=loopback.url
    )


def test_anthropic_reads_text_and_usage_with_the_version_header(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script("/v1/messages", Canned(200, ANTHROPIC_OK))
    completion = LOOP.run(anthropic(loopback, duck).complete(PROMPT))
    assert completion.text == "Subject: ...\n\nHi Zoë, ..."
    assert completion.finish_reason == "end_turn"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (398, 170)
    sent = loopback.requests[0]
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = json.loads(sent.body)
    assert body["system"] == PROMPT.system
    assert body["messages"] == [{"role": "user", "content": PROMPT.user}]


def test_anthropic_overloaded_and_rate_limited_are_retried(loopback: Loopback, duck: CrmStore) -> None:
    loopback.script(
        "/v1/messages",
        Canned(529, anthropic_error("overloaded_error")),
        Canned(429, anthropic_error("rate_limit_error"), {"retry-after": "1"}),
        Canned(200, ANTHROPIC_OK.replace("end_turn", "max_tokens")),
    )
    completion = LOOP.run(anthropic(loopback, duck).complete(PROMPT))
    assert completion.truncated
    assert loopback.count() == 3


@pytest.mark.parametrize(
    ("status", "kind", "outcome"),
    [
        (400, "invalid_request_error", Outcome.CLIENT_ERROR),
        (401, "authentication_error", Outcome.CONFIG_ERROR),
        (403, "permission_error", Outcome.CONFIG_ERROR),
        (404, "not_found_error", Outcome.CONFIG_ERROR),
    ],
)
def test_anthropic_client_errors_are_not_retried(
    loopback: Loopback, duck: CrmStore, status: int, kind: str, outcome: Outcome
) -> None:
    loopback.script("/v1/messages", Canned(status, anthropic_error(kind)))
    with pytest.raises(ProviderError) as raised:
        LOOP.run(anthropic(loopback, duck).complete(PROMPT))
    assert raised.value.outcome is outcome
    assert loopback.count() == 1


# ---- webhook.md ---------------------------------------------------------------------------


def test_webhook_posts_text_and_reads_slack_answers(
    loopback: Loopback, duck: CrmStore, duck_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{loopback.url}/services/T0001/B0002/sEcReTtOkEn42"
    loopback.script(
        "/services/T0001/B0002/sEcReTtOkEn42",
        Canned(429, "rate_limited", {"Retry-After": "1"}),
        Canned(200, "ok", {"Content-Type": "text/plain"}),
    )
    alerter = WebhookAlerter(fast_caller("webhook", duck), webhook_url=url)
    with caplog.at_level(logging.DEBUG):
        LOOP.run(alerter.send("Jengu: inbox sales@nordlys-hotel.test paused after 4 bounces in 50 sends"))
    assert json.loads(loopback.requests[-1].body) == {
        "text": "Jengu: inbox s***@nordlys-hotel.test paused after 4 bounces in 50 sends"
    }
    assert loopback.requests[-1].headers["content-type"] == "application/json"
    assert "sEcReTtOkEn42" not in caplog.text
    assert "sales@" not in caplog.text
    assert outcomes(duck_url, "webhook") == ["error_429", "ok"]
    loopback.script("/services/T0001/B0002/sEcReTtOkEn42", Canned(400, "invalid_payload"))
    with pytest.raises(ProviderError, match="invalid_payload") as raised:
        LOOP.run(alerter.send("x"))
    assert raised.value.outcome is Outcome.CLIENT_ERROR
    assert "sEcReTtOkEn42" not in str(raised.value)
