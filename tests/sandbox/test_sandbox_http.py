"""Every HTTP provider of the sandbox, on a real loopback server, against its contract's shapes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jengu_pipeline.sandbox import GOOGLE_CSE_CX, SANDBOX_KEYS, Behaviour, Sandbox, World
from jengu_pipeline.sandbox.world import Hotel

Request = Callable[[httpx.Client, World], httpx.Response]


def hotel_where(world: World, *, catch_all: bool = False) -> Hotel:
    """An indexed, live, non-greylisting hotel with at least one real mailbox."""
    return next(
        hotel
        for hotel in world.hotels
        if hotel.indexed
        and hotel.has_mx
        and not hotel.greylisting
        and hotel.catch_all is catch_all
        and any(person.mailbox_exists and not person.objected for person in hotel.staff)
    )


def query(world: World) -> str:
    hotel = hotel_where(world)
    return f"{hotel.name} {hotel.city}"


def brave(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["brave"]) -> httpx.Response:
    return client.get("/res/v1/web/search", params={"q": query(world)}, headers={"X-Subscription-Token": key})


def google(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["google_cse"]) -> httpx.Response:
    return client.get("/customsearch/v1", params={"q": query(world), "key": key, "cx": GOOGLE_CSE_CX})


def duckduckgo(client: httpx.Client, world: World) -> httpx.Response:
    return client.post("/html/", data={"q": query(world)}, headers={"User-Agent": "Mozilla/5.0"})


def searxng(client: httpx.Client, world: World) -> httpx.Response:
    return client.get("/search", params={"q": query(world), "format": "json"})


def millionverifier(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["millionverifier"]) -> httpx.Response:
    email = hotel_where(world).staff[0].email
    return client.get("/api/v3/", params={"api": key, "email": email, "timeout": 10})


def openai(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["openai"], **extra: object) -> httpx.Response:
    hotel = hotel_where(world)
    person = hotel.staff[0]
    body = {
        "model": "sandbox-llm",
        "messages": [
            {"role": "system", "content": "You write short, personal cold emails for Jengu."},
            {"role": "user", "content": f"Write to {person.full_name}, {person.title} at {hotel.name}."},
        ],
        **extra,
    }
    return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def anthropic(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["anthropic"]) -> httpx.Response:
    hotel = hotel_where(world)
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 600,
        "system": "You write cold emails.",
        "messages": [{"role": "user", "content": f"Write to {hotel.staff[0].full_name} at {hotel.name}."}],
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    return client.post("/v1/messages", json=body, headers=headers)


def hunter(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["hunter"]) -> httpx.Response:
    return client.get("/v2/domain-search", params={"domain": hotel_where(world).domain, "api_key": key})


def webhook(client: httpx.Client, world: World, key: str = SANDBOX_KEYS["webhook"]) -> httpx.Response:
    return client.post(f"/webhook/{key}", json={"text": "Jengu: inbox sales@ paused after 4 bounces in 50 sends"})


def site(client: httpx.Client, world: World) -> httpx.Response:
    return client.get(f"/site/{hotel_where(world).domain}/")


REQUESTS: dict[str, Request] = {
    "brave": brave,
    "google_cse": google,
    "duckduckgo": duckduckgo,
    "searxng": searxng,
    "millionverifier": millionverifier,
    "openai": openai,
    "anthropic": anthropic,
    "hunter": hunter,
    "webhook": webhook,
    "site": site,
}

# What each provider documents for: a too-fast client, an exhausted quota, a transient failure.
RATE_LIMITED = {
    "brave": 429,
    "google_cse": 429,
    "duckduckgo": 202,
    "searxng": 429,
    "millionverifier": 429,
    "openai": 429,
    "anthropic": 429,
    "hunter": 403,
    "webhook": 429,
    "site": 429,
}
QUOTA_EXCEEDED = {
    "brave": 429,
    "google_cse": 429,
    "duckduckgo": 403,
    "searxng": 429,
    "millionverifier": 200,
    "openai": 429,
    "anthropic": 400,
    "hunter": 429,
    "webhook": 429,
    "site": 429,
}
SERVER_ERROR = {
    "brave": 500,
    "google_cse": 503,
    "duckduckgo": 503,
    "searxng": 500,
    "millionverifier": 503,
    "openai": 503,
    "anthropic": 529,
    "hunter": 500,
    "webhook": 500,
    "site": 503,
}
WRONG_KEY: dict[str, tuple[Callable[..., httpx.Response], int]] = {
    "brave": (brave, 401),
    "google_cse": (google, 400),
    "millionverifier": (millionverifier, 200),
    "openai": (openai, 401),
    "anthropic": (anthropic, 401),
    "hunter": (hunter, 401),
    "webhook": (webhook, 404),
}


def test_brave_shape(client: httpx.Client, world: World) -> None:
    response = brave(client, world)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "search"
    assert body["query"]["original"] == query(world)
    results = body["web"]["results"]
    assert all({"title", "url", "description"} <= set(r) and r["meta_url"]["hostname"] for r in results)
    assert hotel_where(world).website in [r["url"] for r in results]
    assert "," in response.headers["x-ratelimit-limit"]
    assert "," in response.headers["x-ratelimit-remaining"]
    empty = client.get(
        "/res/v1/web/search", params={"q": "qqqq zzzz"}, headers={"X-Subscription-Token": SANDBOX_KEYS["brave"]}
    )
    assert empty.status_code == 200
    assert "web" not in empty.json()
    assert (
        client.get(
            "/res/v1/web/search",
            params={"q": "x", "count": 50},
            headers={"X-Subscription-Token": SANDBOX_KEYS["brave"]},
        ).status_code
        == 422
    )


def test_google_cse_shape(client: httpx.Client, world: World) -> None:
    body = google(client, world).json()
    assert body["kind"] == "customsearch#search"
    assert body["queries"]["request"][0]["searchTerms"] == query(world)
    assert isinstance(body["searchInformation"]["totalResults"], str)
    item = body["items"][0]
    assert {"title", "link", "displayLink", "snippet"} <= set(item)
    assert "og:site_name" in item["pagemap"]["metatags"][0]
    assert hotel_where(world).website in [i["link"] for i in body["items"]]
    empty = client.get(
        "/customsearch/v1", params={"q": "qqqq zzzz", "key": SANDBOX_KEYS["google_cse"], "cx": GOOGLE_CSE_CX}
    )
    assert "items" not in empty.json()
    wrong_cx = client.get("/customsearch/v1", params={"q": "x", "key": SANDBOX_KEYS["google_cse"], "cx": "nope"})
    assert wrong_cx.status_code == 400
    assert wrong_cx.json()["error"]["errors"][0]["reason"] == "badRequest"


def test_duckduckgo_html_shape(client: httpx.Client, world: World) -> None:
    response = duckduckgo(client, world)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'class="result results_links results_links_deep result--ad"' in page
    organic = re.findall(
        r'<div class="result results_links results_links_deep web-result">.*?'
        r'class="result__a" href="([^"]+)"',
        page,
        re.S,
    )
    hrefs = [unescape(href) for href in organic]
    targets = [parse_qs(urlsplit(h).query)["uddg"][0] if h.startswith("//duckduckgo.com/l/") else h for h in hrefs]
    assert hotel_where(world).website in targets
    assert 'class="result__snippet"' in page
    assert 'class="result__url"' in page
    assert any(href.startswith("//duckduckgo.com/l/?uddg=") for href in map(unescape, organic))
    assert any(href.startswith("https://") for href in map(unescape, organic))
    assert 'class="no-results"' in client.get("/html/", params={"q": "qqqq zzzz"}).text


def test_searxng_shape(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    body = searxng(client, world).json()
    assert body["number_of_results"] == 0
    assert body["results"]
    result = body["results"][0]
    assert {"url", "title", "content", "engine", "engines", "score", "category", "parsed_url"} <= set(result)
    assert {"answers", "corrections", "infoboxes", "suggestions", "unresponsive_engines"} <= set(body)
    sandbox.configure("searxng", forbidden=True)
    assert searxng(client, world).status_code == 403


def test_millionverifier_answers_by_the_worlds_truth(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    def verify(email: str) -> dict[str, Any]:
        return client.get("/api/v3/", params={"api": SANDBOX_KEYS["millionverifier"], "email": email}).json()

    plain, catch_all = hotel_where(world), hotel_where(world, catch_all=True)
    real = next(p for p in plain.staff if p.mailbox_exists)
    gone = next(
        (
            p
            for h in world.hotels
            for p in h.staff
            if p.behaviour is Behaviour.BOUNCE and h.has_mx and not h.catch_all and not h.greylisting
        ),
        None,
    )
    first = verify(real.email)
    assert (first["result"], first["resultcode"], first["quality"]) == ("ok", 1, "good")
    assert verify(f"anyone@{catch_all.domain}")["result"] == "catch_all"
    assert verify(f"nobody-here@{plain.domain}")["result"] == "invalid"
    assert gone is not None
    assert verify(gone.email)["result"] == "invalid"
    assert verify("someone@elsewhere.example")["result"] == "unknown"
    assert verify(f"info@{plain.domain}")["role"] is True
    credits = [verify(real.email)["credits"] for _ in range(2)]
    assert credits[0] == credits[1] + 1
    greylisting = next(h for h in world.hotels if h.greylisting)
    unknown = verify(f"x@{greylisting.domain}")
    assert unknown["result"] == "unknown"
    assert unknown["credits"] == credits[1]
    stats = sandbox.stats()["providers"]["millionverifier"]
    assert stats["outcomes"]["unknown"] == 2
    assert stats["paid"] == stats["calls"] - 2


def test_millionverifier_wrong_key_and_no_credits_are_http_200_errors(
    client: httpx.Client, sandbox: Sandbox, world: World
) -> None:
    wrong = millionverifier(client, world, key="nope")
    assert wrong.status_code == 200
    assert (wrong.json()["result"], wrong.json()["resultcode"], wrong.json()["error"]) == (
        "error",
        4,
        "Apikey not found",
    )
    sandbox.configure("millionverifier", daily_quota=1)
    assert millionverifier(client, world).json()["credits"] == 0
    broke = millionverifier(client, world)
    assert broke.status_code == 200
    assert broke.json()["error"] == "Insufficient credits"


def test_openai_chat_shape_and_errors(client: httpx.Client, world: World) -> None:
    body = openai(client, world).json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    person = hotel_where(world).staff[0]
    assert choice["message"]["content"].startswith("Subject: ")
    assert f"Hi {person.first}," in choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert openai(client, world, max_tokens=5).json()["choices"][0]["finish_reason"] == "length"
    as_json = openai(client, world, response_format={"type": "json_object"}).json()
    assert set(json.loads(as_json["choices"][0]["message"]["content"])) == {"subject", "body"}
    unknown = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-99", "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": f"Bearer {SANDBOX_KEYS['openai']}"},
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert openai(client, world, key="sk-wrong").json()["error"]["code"] == "invalid_api_key"


def test_anthropic_messages_shape_and_errors(client: httpx.Client, world: World) -> None:
    body = anthropic(client, world).json()
    assert (body["type"], body["role"], body["stop_reason"], body["stop_sequence"]) == (
        "message",
        "assistant",
        "end_turn",
        None,
    )
    assert body["content"][0]["type"] == "text"
    assert body["content"][0]["text"].startswith("Subject: ")
    assert {"input_tokens", "output_tokens"} <= set(body["usage"])
    wrong = anthropic(client, world, key="nope").json()
    assert wrong["type"] == "error"
    assert wrong["error"]["type"] == "authentication_error"
    no_version = client.post("/v1/messages", json={}, headers={"x-api-key": SANDBOX_KEYS["anthropic"]})
    assert no_version.status_code == 400
    assert no_version.json()["error"]["type"] == "invalid_request_error"


def test_hunter_shapes(client: httpx.Client, world: World) -> None:
    hotel = hotel_where(world)
    data = hunter(client, world).json()["data"]
    assert (data["domain"], data["pattern"], data["accept_all"]) == (hotel.domain, hotel.pattern, hotel.catch_all)
    assert data["emails"]
    assert {"value", "type", "confidence"} <= set(data["emails"][0])
    person = next(p for p in hotel.staff if not p.objected)
    found = client.get(
        "/v2/email-finder",
        params={
            "domain": hotel.domain,
            "first_name": person.first,
            "last_name": person.last,
            "api_key": SANDBOX_KEYS["hunter"],
        },
    ).json()["data"]
    assert found["email"] == person.email
    assert found["verification"]["status"] in {"valid", "invalid"}
    objected_hotel, objected = next((h, p) for h, p in world.people() if p.objected and h.has_mx)
    claimed = client.get(
        "/v2/email-finder",
        params={
            "domain": objected_hotel.domain,
            "first_name": objected.first,
            "last_name": objected.last,
            "api_key": SANDBOX_KEYS["hunter"],
        },
    )
    assert claimed.status_code == 451
    assert claimed.json()["errors"][0]["code"] == 451
    missing = client.get("/v2/domain-search", params={"api_key": SANDBOX_KEYS["hunter"]})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["id"] == "wrong_params"


def test_webhook_records_alerts(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    response = webhook(client, world)
    assert (response.status_code, response.text) == (200, "ok")
    assert sandbox.alerts()[0]["payload"]["text"].startswith("Jengu: inbox")
    assert client.get("/_sandbox/alerts").json() == sandbox.alerts()
    bad = client.post(f"/webhook/{SANDBOX_KEYS['webhook']}", json={"nope": 1})
    assert (bad.status_code, bad.text) == (400, "invalid_payload")
    sandbox.configure("webhook", forbidden=True)
    assert webhook(client, world).status_code == 410


def test_sites_by_path_and_by_host(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    hotel = hotel_where(world)
    home = client.get(f"/site/{hotel.domain}/").text
    assert f"<title>{hotel.name}" in home.replace("&#x27;", "'")
    assert 'property="og:site_name"' in home
    contact = client.get(sandbox.site_url(f"{hotel.website}contact"))
    assert contact.status_code == 200
    assert f"info@{hotel.domain}" in contact.text
    by_host = client.get("/contact", headers={"Host": f"www.{hotel.domain}"})
    assert by_host.text == contact.text
    lookalike = next(h.lookalike for h in world.hotels if h.lookalike)
    assert "for sale" in client.get(f"/site/{lookalike}/").text
    assert client.get(f"/site/{hotel.domain}/no-such-page").status_code == 404


@pytest.mark.parametrize("provider", sorted(WRONG_KEY))
def test_wrong_key_answers_the_documented_shape(
    provider: str, client: httpx.Client, sandbox: Sandbox, world: World
) -> None:
    request, status = WRONG_KEY[provider]
    response = request(client, world, key="wrong-key")
    assert response.status_code == status
    assert sandbox.stats()["providers"][provider]["outcomes"] == {"unauthorized": 1}
    assert sandbox.stats()["providers"][provider]["paid"] == 0


@pytest.mark.parametrize("provider", sorted(REQUESTS))
def test_rate_limit(provider: str, client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    sandbox.configure(provider, rate_limit_per_s=1)
    statuses = [REQUESTS[provider](client, world) for _ in range(3)]
    limited = [r for r in statuses if r.status_code == RATE_LIMITED[provider] and r.status_code != 200]
    assert limited, [r.status_code for r in statuses]
    if provider == "duckduckgo":
        assert "anomaly" in limited[0].text
    else:
        assert limited[0].headers["retry-after"] == "1"
    assert sandbox.stats()["providers"][provider]["outcomes"]["rate_limited"] == len(limited)


@pytest.mark.parametrize("provider", sorted(REQUESTS))
def test_daily_quota(provider: str, client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    sandbox.configure(provider, daily_quota=2)
    answers = [REQUESTS[provider](client, world) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert answers[2].status_code == QUOTA_EXCEEDED[provider]
    stats = sandbox.stats()["providers"][provider]
    assert stats["outcomes"]["quota_exceeded"] == 1
    assert stats["used_today"] == 2


def test_quota_error_bodies_follow_the_contracts(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    sandbox.configure(daily_quota=0)
    assert brave(client, world).json()["error"]["code"] == "QUOTA_LIMITED"
    assert "Queries per day" in google(client, world).json()["error"]["message"]
    assert openai(client, world).json()["error"]["code"] == "insufficient_quota"
    assert "credit balance" in anthropic(client, world).json()["error"]["message"]


@pytest.mark.parametrize("provider", sorted(REQUESTS))
def test_server_errors(provider: str, client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    sandbox.configure(provider, error_rate=1.0)
    assert REQUESTS[provider](client, world).status_code == SERVER_ERROR[provider]
    assert sandbox.stats()["providers"][provider]["paid"] == 0


@pytest.mark.parametrize(
    "provider", ["brave", "google_cse", "searxng", "millionverifier", "openai", "anthropic", "hunter"]
)
def test_malformed_bodies(provider: str, client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    sandbox.configure(provider, malformed_rate=1.0)
    response = REQUESTS[provider](client, world)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_latency_and_runtime_config_over_http(client: httpx.Client, sandbox: Sandbox, world: World) -> None:
    changed = client.post("/_sandbox/config", json={"brave": {"latency_ms": 120}})
    assert changed.status_code == 200
    assert changed.json()["brave"]["latency_ms"] == 120
    started = time.perf_counter()
    assert brave(client, world).status_code == 200
    assert time.perf_counter() - started >= 0.12
    assert client.post("/_sandbox/config", json={"brave": {"latncy_ms": 1}}).status_code == 400
    assert client.post("/_sandbox/config", json={"error_rate": 2}).status_code == 400
    stats = client.get("/_sandbox/stats").json()
    assert stats["sandbox"] is True
    assert stats["providers"]["brave"]["calls"] == 1
    assert client.post("/_sandbox/reset?faults=1").json()["providers"]["brave"]["calls"] == 0
    assert client.get("/_sandbox/config").json()["brave"]["latency_ms"] == 0


def test_every_answer_is_labelled_sandbox_and_unknown_paths_404(client: httpx.Client, world: World) -> None:
    assert brave(client, world).headers["x-jengu-sandbox"] == "1"
    assert client.get("/nothing").status_code == 404
    assert client.get("/v1/chat/completions").status_code == 405
