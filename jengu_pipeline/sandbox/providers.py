"""Each emulated provider: its routes, its success shapes and its documented failure shapes.

The shapes follow ``shared/contracts/`` field for field. A provider here is data plus pure
functions (request in, reply out); latency, throttling, 5xx, quotas and malformed bodies are
injected by the one wrapper in ``sandbox.http``, which calls the provider's own renderers so
that every failure looks exactly like the real provider's.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
import uuid
from collections.abc import Callable, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.web import SearchHit
from jengu_pipeline.sandbox.world import Mailbox

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
RETRY_AFTER_S = 1

SANDBOX_KEYS = {
    "brave": "sandbox-brave-key",
    "google_cse": "sandbox-google-cse-key",
    "millionverifier": "sandbox-millionverifier-key",
    "openai": "sandbox-llm-key",
    "anthropic": "sandbox-anthropic-key",
    "hunter": "sandbox-hunter-key",
    "webhook": "sandbox-webhook-token",
}
GOOGLE_CSE_CX = "sandbox-cse-cx"
OPENAI_MODELS = ("sandbox-llm", "grok-4-fast", "gpt-4o-mini")
ANTHROPIC_MODELS = ("sandbox-claude", "claude-haiku-4-5")
MILLIONVERIFIER_CREDITS = 1_000_000
ROLE_LOCALS = frozenset({"info", "reservations", "sales", "contact", "booking", "office", "admin", "reception"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Call:
    """One HTTP request, already read: what a provider handler sees."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def host(self) -> str:
        return self.headers.get("host", "").split(":")[0].lower()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer plus what the stats should record about it."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: Headers = ()
    outcome: str = "ok"
    paid: bool = False


def json_reply(status: int, data: Any, *, outcome: str = "ok", paid: bool = False, headers: Headers = ()) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Reply(status, body, JSON, headers, outcome, paid)


def text_reply(
    status: int, text: str, content_type: str = TEXT, *, outcome: str = "ok", headers: Headers = ()
) -> Reply:
    return Reply(status, text.encode(), content_type, headers, outcome)


RETRY: Headers = (("retry-after", str(RETRY_AFTER_S)),)

Handler = Callable[[Call, SandboxState], Reply]
Renderer = Handler  # an injected failure, rendered in the provider's own shape
LimitHeaders = Callable[[SandboxState, str], Headers]


@dataclass(frozen=True)
class Provider:
    """A provider's routes, key check and its own rendering of each injected failure.

    ``refuse`` answers a wrong or missing key (for a keyless provider: any refusal);
    ``forbidden``, when the provider documents a distinct answer, the ``forbidden`` fault.
    A provider that is not ``billed`` spends its quota on every answer instead of paid ones.
    """

    name: str
    routes: dict[str, Handler]
    methods: frozenset[str]
    refuse: Renderer
    rate_limited: Renderer
    quota_exceeded: Renderer
    server_error: Renderer
    forbidden: Renderer | None = None
    key_from: Callable[[Call], str | None] | None = None
    limit_headers: LimitHeaders | None = None
    billed: bool = True

    @property
    def expected_key(self) -> str | None:
        return SANDBOX_KEYS.get(self.name)

    def authorized(self, call: Call) -> bool:
        return self.key_from is None or self.key_from(call) == self.expected_key


def _int(value: str | None, default: int) -> int | None:
    """A query integer, the default when absent, None when not a number."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _found(items: Sized) -> str:
    return "ok" if items else "no_results"


# --- Brave Search ---------------------------------------------------------------------------


def _brave_error(status: int, code: str, detail: str, state: SandboxState, headers: Headers = ()) -> Reply:
    quota = state.faults["brave"].daily_quota
    meta = {
        "plan": "Sandbox",
        "rate_limit": state.faults["brave"].rate_limit_per_s or None,
        "org_rate_limit": None,
        "quota_limit": quota,
        "quota_current": state.used_today("brave"),
    }
    error = {"id": str(uuid.uuid4()), "status": status, "code": code, "detail": detail, "meta": meta}
    return json_reply(status, {"type": "ErrorResponse", "error": error}, headers=headers)


def _brave_limits(state: SandboxState, name: str) -> Headers:
    """Brave's per-second and per-period windows; the sandbox's period is the UTC day."""
    faults = state.faults[name]
    per_second = faults.rate_limit_per_s or 1000
    quota = faults.daily_quota or 20_000_000
    quota_left = max(0, quota - state.used_today(name))
    return (
        ("x-ratelimit-limit", f"{per_second}, {quota}"),
        ("x-ratelimit-policy", f"{per_second};w=1, {quota};w=86400"),
        ("x-ratelimit-remaining", f"{per_second - 1}, {quota_left}"),
        ("x-ratelimit-reset", f"1, {_seconds_to_midnight()}"),
    )


def _seconds_to_midnight() -> int:
    now = datetime.now(UTC)
    return 86400 - (now.hour * 3600 + now.minute * 60 + now.second)


def brave_search(call: Call, state: SandboxState) -> Reply:
    query = call.query.get("q", "")
    count, offset = _int(call.query.get("count"), 20), _int(call.query.get("offset"), 0)
    if not query or len(query) > 400 or count is None or not 1 <= count <= 20 or offset is None or not 0 <= offset <= 9:
        return _brave_error(422, "VALIDATION", "Unable to validate request parameter(s).", state)
    hits = state.search.search(query)[offset * count : (offset + 1) * count]
    body: dict[str, Any] = {
        "type": "search",
        "query": {"original": query, "show_strict_warning": False, "more_results_available": False},
    }
    if hits:
        body["web"] = {"type": "search", "family_friendly": True, "results": [_brave_result(hit) for hit in hits]}
    return json_reply(200, body, outcome=_found(hits), paid=True)


def _brave_result(hit: SearchHit) -> dict[str, Any]:
    parts = urlsplit(hit.url)
    path = "› " + " › ".join(segment for segment in parts.path.split("/") if segment)
    return {
        "title": hit.title,
        "url": hit.url,
        "description": hit.snippet,
        "language": hit.language,
        "family_friendly": True,
        "type": "search_result",
        "subtype": "generic",
        "is_source_local": False,
        "profile": {"name": hit.site_name, "url": hit.url, "long_name": parts.hostname},
        "meta_url": {"scheme": parts.scheme, "netloc": parts.netloc, "hostname": parts.hostname, "path": path},
    }


BRAVE = Provider(
    name="brave",
    routes={"/res/v1/web/search": brave_search},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.headers.get("x-subscription-token"),
    refuse=lambda call, state: _brave_error(
        401, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.", state
    ),
    forbidden=lambda call, state: _brave_error(
        403, "RESOURCE_NOT_ALLOWED", "This subscription does not grant access to this resource.", state
    ),
    rate_limited=lambda call, state: _brave_error(
        429, "RATE_LIMITED", "Request rate limit exceeded for plan.", state, RETRY
    ),
    quota_exceeded=lambda call, state: _brave_error(
        429, "QUOTA_LIMITED", "Request quota limit exceeded for plan.", state
    ),
    server_error=lambda call, state: _brave_error(500, "INTERNAL", "Internal server error.", state),
    limit_headers=_brave_limits,
)


# --- Google Programmable Search -------------------------------------------------------------


def _google_error(status: int, state_name: str, reason: str, message: str, headers: Headers = ()) -> Reply:
    errors = [{"message": message, "domain": "global", "reason": reason}]
    error = {"code": status, "message": message, "errors": errors, "status": state_name}
    return json_reply(status, {"error": error}, headers=headers)


def _google_quota(limit: str) -> str:
    return (
        f"Quota exceeded for quota metric 'Queries' and limit '{limit}' of service "
        "'customsearch.googleapis.com' for consumer 'project_number:000000000000'."
    )


def google_search(call: Call, state: SandboxState) -> Reply:
    query, cx = call.query.get("q", ""), call.query.get("cx", "")
    num, start = _int(call.query.get("num"), 10), _int(call.query.get("start"), 1)
    if cx != GOOGLE_CSE_CX:
        return _google_error(400, "INVALID_ARGUMENT", "badRequest", "Request contains an invalid argument.")
    if not query or num is None or not 1 <= num <= 10 or start is None or start < 1:
        return _google_error(400, "INVALID_ARGUMENT", "badRequest", "Invalid Value")
    hits = state.search.search(query)
    items = hits[start - 1 : start - 1 + num]
    total = str(len(hits))
    request = {
        "title": f"Google Custom Search - {query}",
        "totalResults": total,
        "searchTerms": query,
        "count": len(items),
        "startIndex": start,
        "inputEncoding": "utf8",
        "outputEncoding": "utf8",
        "safe": call.query.get("safe", "off"),
        "cx": cx,
    }
    body: dict[str, Any] = {
        "kind": "customsearch#search",
        "url": {
            "type": "application/json",
            "template": "https://www.googleapis.example/customsearch/v1?q={searchTerms}",
        },
        "queries": {"request": [request]},
        "context": {"title": "Jengu sandbox engine"},
        "searchInformation": {
            "searchTime": 0.21,
            "formattedSearchTime": "0.21",
            "totalResults": total,
            "formattedTotalResults": total,
        },
    }
    if items:
        body["items"] = [_google_item(hit) for hit in items]
    return json_reply(200, body, outcome=_found(items), paid=True)


def _google_item(hit: SearchHit) -> dict[str, Any]:
    return {
        "kind": "customsearch#result",
        "title": hit.title,
        "htmlTitle": hit.title,
        "link": hit.url,
        "displayLink": hit.host,
        "snippet": hit.snippet,
        "htmlSnippet": hit.snippet,
        "formattedUrl": hit.url,
        "pagemap": {"metatags": [{"og:site_name": hit.site_name, "og:title": hit.title}]},
    }


GOOGLE_CSE = Provider(
    name="google_cse",
    routes={"/customsearch/v1": google_search},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.query.get("key"),
    refuse=lambda call, state: _google_error(
        400, "INVALID_ARGUMENT", "keyInvalid", "API key not valid. Please pass a valid API key."
    ),
    forbidden=lambda call, state: _google_error(
        403,
        "PERMISSION_DENIED",
        "accessNotConfigured",
        "Custom Search API has not been used in this project before or it is disabled.",
    ),
    rate_limited=lambda call, state: _google_error(
        429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", _google_quota("Queries per minute"), RETRY
    ),
    quota_exceeded=lambda call, state: _google_error(
        429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", _google_quota("Queries per day")
    ),
    server_error=lambda call, state: _google_error(
        503, "UNAVAILABLE", "backendError", "The service is currently unavailable."
    ),
)


# --- DuckDuckGo HTML ------------------------------------------------------------------------

_DDG_CHALLENGE = (
    "<!DOCTYPE html><html><head><title>DuckDuckGo</title></head><body>\n"
    '<form id="challenge-form" action="//duckduckgo.com/anomaly.js?sv=html&amp;cc=sre" method="POST">\n'
    '<div class="anomaly-modal__title">Unfortunately, bots use DuckDuckGo too.</div>\n'
    '<div class="anomaly-modal__description">Please complete the following challenge to confirm this '
    "search was made by a human.</div>\n</form>\n</body></html>\n"
)


def _ddg_result(hit: SearchHit, index: int, *, ad: bool = False) -> str:
    """A ``div.result``; organic hrefs alternate between the target and the ``uddg`` redirect."""
    target = quote(hit.url, safe="")
    if ad:
        href = f"https://duckduckgo.com/y.js?ad_domain={hit.host}&amp;u3={target}"
    elif index % 2 == 0:
        href = f"//duckduckgo.com/l/?uddg={target}&amp;rut={hashlib.sha256(hit.url.encode()).hexdigest()}"
    else:
        href = html.escape(hit.url)
    kind = "result--ad" if ad else "web-result"
    title, host, snippet = html.escape(hit.title), html.escape(hit.host), html.escape(hit.snippet)
    return (
        f'<div class="result results_links results_links_deep {kind}">\n'
        f'  <div class="links_main links_deep result__body">\n'
        f'    <h2 class="result__title"><a rel="nofollow" class="result__a" href="{href}">{title}</a></h2>\n'
        f'    <div class="result__extras__url"><a class="result__url" href="{href}">{host}</a></div>\n'
        f'    <a class="result__snippet" href="{href}">{snippet}</a>\n'
        f"  </div>\n</div>"
    )


def duckduckgo_html(call: Call, state: SandboxState) -> Reply:
    query = (call.form() if call.method == "POST" else call.query).get("q", "")
    hits = state.search.search(query) if query.strip() else ()
    sponsored = next((hit for hit in hits if not hit.official), None)
    if hits:
        blocks = [_ddg_result(sponsored, 0, ad=True)] if sponsored else []
        blocks += [_ddg_result(hit, i) for i, hit in enumerate(hits)]
    else:
        blocks = ['<div class="no-results">No results.</div>']
    page = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(query)} at DuckDuckGo</title></head>\n'
        f'<body class="body--html">\n<div id="links" class="results">\n'
        + "\n".join(blocks)
        + "\n</div>\n</body></html>\n"
    )
    return Reply(200, page.encode(), HTML, outcome=_found(hits))


DUCKDUCKGO = Provider(
    name="duckduckgo",
    routes={"/html/": duckduckgo_html, "/html": duckduckgo_html},
    methods=frozenset({"GET", "POST"}),
    refuse=lambda call, state: text_reply(403, _DDG_CHALLENGE, HTML),
    rate_limited=lambda call, state: text_reply(202, _DDG_CHALLENGE, HTML),
    quota_exceeded=lambda call, state: text_reply(403, _DDG_CHALLENGE, HTML),
    server_error=lambda call, state: text_reply(503, "<html><body>Service Unavailable</body></html>", HTML),
    billed=False,
)


# --- SearXNG --------------------------------------------------------------------------------


def searxng_search(call: Call, state: SandboxState) -> Reply:
    if call.query.get("format") != "json":
        return text_reply(400, "The sandbox SearXNG emulates format=json only.")
    query, page = call.query.get("q", ""), _int(call.query.get("pageno"), 1)
    hits = state.search.search(query) if query.strip() and page == 1 else ()
    results = [
        {
            "url": hit.url,
            "title": hit.title,
            "content": hit.snippet,
            "engine": "brave",
            "engines": ["brave", "duckduckgo"],
            "score": round(2.0 / (rank + 1), 4),
            "category": "general",
            "positions": [rank + 1],
            "parsed_url": [*urlsplit(hit.url)[:3], "", "", ""],
            "template": "default.html",
            "publishedDate": None,
            "thumbnail": "",
        }
        for rank, hit in enumerate(hits)
    ]
    body = {
        "query": query,
        "number_of_results": 0,
        "results": results,
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [],
        "unresponsive_engines": [],
    }
    return json_reply(200, body, outcome=_found(hits))


SEARXNG = Provider(
    name="searxng",
    routes={"/search": searxng_search},
    methods=frozenset({"GET", "POST"}),
    refuse=lambda call, state: text_reply(403, "<html><body><h1>403 Forbidden</h1></body></html>", HTML),
    rate_limited=lambda call, state: text_reply(429, "Too Many Requests", headers=RETRY),
    quota_exceeded=lambda call, state: text_reply(429, "Too Many Requests", headers=RETRY),
    server_error=lambda call, state: text_reply(500, "Internal Server Error"),
    billed=False,
)


# --- MillionVerifier ------------------------------------------------------------------------

MvVerdict = tuple[str, int, str, str]  # result, resultcode, quality, subresult

_MV_VERDICTS: dict[Mailbox, MvVerdict] = {
    Mailbox.EXISTS: ("ok", 1, "good", "ok"),
    Mailbox.CATCH_ALL: ("catch_all", 2, "risky", "catch_all"),
    Mailbox.MISSING: ("invalid", 6, "bad", "mailbox_not_found"),
    Mailbox.DEAD_DOMAIN: ("invalid", 6, "bad", "no_mx_found"),
    Mailbox.FOREIGN: ("unknown", 3, "", "unknown"),
}


def _mv_body(email: str, verdict: MvVerdict, credits: int, error: str = "") -> dict[str, Any]:
    result, code, quality, subresult = verdict
    local = email.partition("@")[0].lower()
    return {
        "email": email,
        "quality": quality,
        "result": result,
        "resultcode": code,
        "subresult": subresult,
        "free": False,
        "role": local in ROLE_LOCALS,
        "didyoumean": "",
        "credits": credits,
        "executiontime": 1,
        "error": error,
        "livemode": True,
    }


def _mv_error(call: Call, message: str) -> Reply:
    """The contract's trap: a refused call is still HTTP 200, with ``result: error``."""
    return json_reply(200, _mv_body(call.query.get("email", ""), ("error", 4, "", "error"), 0, message))


def millionverifier_check(call: Call, state: SandboxState) -> Reply:
    email = call.query.get("email", "").strip()
    if not email:
        return _mv_error(call, "Missing email parameter")
    hotel = state.world.hotel(email.rpartition("@")[2])
    verdict: MvVerdict
    if not EMAIL.fullmatch(email):
        verdict = ("invalid", 6, "bad", "invalid_syntax")
    elif hotel is not None and hotel.greylisting and hotel.has_mx:
        verdict = ("unknown", 3, "", "greylisted")  # the provider cannot decide: a free answer
    else:
        verdict = _MV_VERDICTS[state.world.mailbox(email)]
    paid = verdict[0] != "unknown"
    left = state.remaining("millionverifier")
    credits = (MILLIONVERIFIER_CREDITS - state.used_today("millionverifier") if left is None else left) - paid
    return json_reply(200, _mv_body(email, verdict, credits), outcome=verdict[0], paid=paid)


MILLIONVERIFIER = Provider(
    name="millionverifier",
    routes={"/api/v3/": millionverifier_check, "/api/v3": millionverifier_check},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.query.get("api"),
    refuse=lambda call, state: _mv_error(call, "Apikey not found"),
    rate_limited=lambda call, state: json_reply(429, {"error": "Too many requests"}, headers=RETRY),
    quota_exceeded=lambda call, state: _mv_error(call, "Insufficient credits"),
    server_error=lambda call, state: text_reply(503, "Service Unavailable"),
)


# --- OpenAI-compatible chat completions -----------------------------------------------------


def _openai_error(status: int, message: str, kind: str, code: str | None, headers: Headers = ()) -> Reply:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return json_reply(status, {"error": error}, headers=headers)


def _text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class InvalidRequest(Exception):
    """An LLM request the real endpoints reject: 400, or 404 for an unknown model."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _llm_request(call: Call, models: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The parsed body and the whole prompt text (system + every message)."""
    try:
        data = call.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest(400, "We could not parse the JSON body of your request.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise InvalidRequest(400, "'messages' is a required property and must be a non-empty array of objects.")
    if data.get("model") not in models:
        raise InvalidRequest(404, f"The model `{data.get('model')}` does not exist or you do not have access to it.")
    system = _text_of(data.get("system", ""))
    prompt = "\n".join([system, *(_text_of(m.get("content")) for m in messages)])
    return data, prompt


def openai_chat(call: Call, state: SandboxState) -> Reply:
    try:
        data, prompt = _llm_request(call, OPENAI_MODELS)
    except InvalidRequest as bad:
        code = "model_not_found" if bad.status == 404 else None
        return _openai_error(bad.status, bad.message, "invalid_request_error", code)
    max_tokens = data.get("max_completion_tokens") or data.get("max_tokens") or 1024
    as_json = (data.get("response_format") or {}).get("type") == "json_object"
    draft = state.writer.compose(prompt, max_tokens=int(max_tokens), as_json=as_json)
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": draft.text},
                "finish_reason": "length" if draft.truncated else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": draft.prompt_tokens,
            "completion_tokens": draft.completion_tokens,
            "total_tokens": draft.prompt_tokens + draft.completion_tokens,
        },
    }
    return json_reply(200, body, outcome="length" if draft.truncated else "ok", paid=True)


def _openai_limits(state: SandboxState, name: str) -> Headers:
    per_second = state.faults[name].rate_limit_per_s or 1000
    left = state.remaining(name)
    remaining = str(per_second * 60 - 1 if left is None else left)
    return (
        ("x-ratelimit-limit-requests", str(per_second * 60)),
        ("x-ratelimit-remaining-requests", remaining),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "2000000"),
        ("x-ratelimit-remaining-tokens", "1999000"),
        ("x-ratelimit-reset-tokens", "1s"),
    )


OPENAI = Provider(
    name="openai",
    routes={"/v1/chat/completions": openai_chat},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.headers.get("authorization", "").removeprefix("Bearer ").strip() or None,
    refuse=lambda call, state: _openai_error(
        401,
        "Incorrect API key provided. You can find your API key in your account settings.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    forbidden=lambda call, state: _openai_error(
        403, "Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"
    ),
    rate_limited=lambda call, state: _openai_error(
        429, "Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded", RETRY
    ),
    quota_exceeded=lambda call, state: _openai_error(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    server_error=lambda call, state: _openai_error(
        503, "The server is overloaded or not ready yet.", "server_error", None
    ),
    limit_headers=_openai_limits,
)


# --- Anthropic Messages ---------------------------------------------------------------------


def _anthropic_error(status: int, kind: str, message: str, headers: Headers = ()) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_{uuid.uuid4().hex[:24]}"}
    return json_reply(status, body, headers=headers)


def anthropic_messages(call: Call, state: SandboxState) -> Reply:
    if not call.headers.get("anthropic-version"):
        return _anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
    try:
        data, prompt = _llm_request(call, ANTHROPIC_MODELS)
    except InvalidRequest as bad:
        kind = "not_found_error" if bad.status == 404 else "invalid_request_error"
        return _anthropic_error(bad.status, kind, bad.message)
    max_tokens = data.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return _anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
    draft = state.writer.compose(prompt, max_tokens=max_tokens, as_json="json" in prompt.lower())
    body = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": data["model"],
        "content": [{"type": "text", "text": draft.text}],
        "stop_reason": "max_tokens" if draft.truncated else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": draft.prompt_tokens, "output_tokens": draft.completion_tokens},
    }
    return json_reply(200, body, outcome="max_tokens" if draft.truncated else "ok", paid=True)


ANTHROPIC = Provider(
    name="anthropic",
    routes={"/v1/messages": anthropic_messages},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.headers.get("x-api-key"),
    refuse=lambda call, state: _anthropic_error(401, "authentication_error", "invalid x-api-key"),
    forbidden=lambda call, state: _anthropic_error(
        403, "permission_error", "Your API key does not have permission to use the specified resource."
    ),
    rate_limited=lambda call, state: _anthropic_error(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit.", RETRY
    ),
    quota_exceeded=lambda call, state: _anthropic_error(
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade.",
    ),
    server_error=lambda call, state: _anthropic_error(529, "overloaded_error", "Overloaded"),
)


# --- Hunter ---------------------------------------------------------------------------------


def _hunter_error(status: int, error_id: str, details: str, headers: Headers = ()) -> Reply:
    return json_reply(status, {"errors": [{"id": error_id, "code": status, "details": details}]}, headers=headers)


def _hunter_verification(verdict: Mailbox) -> str:
    return {Mailbox.EXISTS: "valid", Mailbox.CATCH_ALL: "accept_all", Mailbox.MISSING: "invalid"}.get(
        verdict, "unknown"
    )


def hunter_domain_search(call: Call, state: SandboxState) -> Reply:
    domain = call.query.get("domain", "").strip().lower()
    limit, offset = _int(call.query.get("limit"), 10), _int(call.query.get("offset"), 0)
    if not domain or limit is None or offset is None:
        return _hunter_error(400, "wrong_params", "You are missing the domain or company parameter")
    hotel = state.world.hotel(domain)
    live = hotel is not None and hotel.has_mx
    emails: list[dict[str, Any]] = []
    if hotel is not None and live:
        emails = [
            {
                "value": address,
                "type": "generic",
                "confidence": 91,
                "first_name": None,
                "last_name": None,
                "position": None,
                "verification": {"status": _hunter_verification(state.world.mailbox(address))},
            }
            for address in hotel.role_addresses[:2]
        ]
        emails += [
            {
                "value": p.email,
                "type": "personal",
                "confidence": 94 if p.mailbox_exists else 71,
                "first_name": p.first,
                "last_name": p.last,
                "position": p.title,
                "linkedin": p.linkedin_url,
                "verification": {"status": _hunter_verification(state.world.mailbox(p.email))},
            }
            for p in hotel.staff
            if p.public and not p.objected
        ]
    page = emails[offset : offset + limit]
    data = {
        "domain": domain,
        "disposable": False,
        "webmail": False,
        "accept_all": bool(hotel and hotel.catch_all),
        "pattern": hotel.pattern if hotel is not None and live else None,
        "organization": hotel.name if hotel else None,
        "country": hotel.country if hotel else None,
        "emails": page,
    }
    meta = {"results": len(emails), "limit": limit, "offset": offset, "params": {"domain": domain}}
    return json_reply(200, {"data": data, "meta": meta}, outcome=_found(page), paid=bool(emails))


def hunter_email_finder(call: Call, state: SandboxState) -> Reply:
    domain = call.query.get("domain", "").strip().lower()
    first, last = call.query.get("first_name", "").strip(), call.query.get("last_name", "").strip()
    if not domain or not first or not last:
        return _hunter_error(400, "wrong_params", "You are missing the domain, first_name or last_name parameter")
    hotel = state.world.hotel(domain)
    if hotel is None or not hotel.has_mx:
        data: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "email": None,
            "score": None,
            "domain": domain,
            "accept_all": False,
            "verification": {"status": None},
        }
        return json_reply(200, {"data": data, "meta": {"params": dict(call.query)}}, outcome="no_results")
    email = hotel.address_for(first, last)
    found = state.world.person(email)
    if found and found[1].objected:
        return _hunter_error(451, "claimed_email", "This person asked not to be processed.")
    verdict = state.world.mailbox(email)
    data = {
        "first_name": first,
        "last_name": last,
        "email": email,
        "score": 96 if found else (70 if hotel.catch_all else 84),
        "domain": domain,
        "accept_all": hotel.catch_all,
        "position": found[1].title if found else None,
        "verification": {"status": _hunter_verification(verdict)},
    }
    return json_reply(200, {"data": data, "meta": {"params": dict(call.query)}}, paid=True)


HUNTER = Provider(
    name="hunter",
    routes={"/v2/domain-search": hunter_domain_search, "/v2/email-finder": hunter_email_finder},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.query.get("api_key") or call.headers.get("x-api-key"),
    refuse=lambda call, state: _hunter_error(401, "authentication_failed", "No user found for the API key supplied"),
    rate_limited=lambda call, state: _hunter_error(
        403, "too_many_requests", "You have reached the rate limit of requests per second.", RETRY
    ),
    quota_exceeded=lambda call, state: _hunter_error(429, "too_many_requests", "You have reached your monthly quota."),
    server_error=lambda call, state: _hunter_error(500, "server_error", "Something went wrong on our side."),
)


# --- Slack-compatible webhook ---------------------------------------------------------------

WEBHOOK_PREFIX = "/webhook/"


def webhook_post(call: Call, state: SandboxState) -> Reply:
    try:
        payload = call.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return text_reply(400, "invalid_payload", outcome="invalid_payload")
    state.add_alert({"received_at": datetime.now(UTC).isoformat(), "payload": payload})
    return text_reply(200, "ok")


WEBHOOK = Provider(
    name="webhook",
    routes={},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.path.removeprefix(WEBHOOK_PREFIX),
    refuse=lambda call, state: text_reply(404, "no_service"),
    forbidden=lambda call, state: text_reply(410, "channel_is_archived"),
    rate_limited=lambda call, state: text_reply(429, "rate_limited", headers=RETRY),
    quota_exceeded=lambda call, state: text_reply(429, "rate_limited", headers=RETRY),
    server_error=lambda call, state: text_reply(500, "internal_error"),
    billed=False,
)


# --- Hotel websites, aggregators and parked pages -------------------------------------------

SITE_PREFIX = "/site/"


def _html_status(status: int, reason: str, headers: Headers = (), outcome: str = "ok") -> Reply:
    body = f"<html><body><h1>{status} {reason}</h1></body></html>"
    return text_reply(status, body, HTML, headers=headers, outcome=outcome)


def site_page(call: Call, state: SandboxState) -> Reply:
    host, _, path = call.path.removeprefix(SITE_PREFIX).partition("/")
    page = state.sites.page(host, path)
    if page is None:
        return _html_status(404, "Not Found", outcome="not_found")
    return Reply(200, page, HTML)


SITE = Provider(
    name="site",
    routes={},
    methods=frozenset({"GET", "HEAD"}),
    refuse=lambda call, state: _html_status(403, "Forbidden"),
    rate_limited=lambda call, state: _html_status(429, "Too Many Requests", RETRY),
    quota_exceeded=lambda call, state: _html_status(429, "Too Many Requests", RETRY),
    server_error=lambda call, state: _html_status(503, "Service Unavailable"),
    billed=False,
)

ALL_PROVIDERS = (BRAVE, GOOGLE_CSE, DUCKDUCKGO, SEARXNG, MILLIONVERIFIER, OPENAI, ANTHROPIC, HUNTER, WEBHOOK, SITE)
