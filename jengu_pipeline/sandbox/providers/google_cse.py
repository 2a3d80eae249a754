"""SANDBOX: the Google Programmable Search emulator (``/customsearch/v1``)."""

from __future__ import annotations

from typing import Any

from jengu_pipeline.sandbox.providers.emulator import (
    RETRY,
    Call,
    Headers,
    Provider,
    Reply,
    found_outcome,
    json_reply,
    query_int,
)
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.web import SearchHit

GOOGLE_CSE_CX = "sandbox-cse-cx"


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
    num, start = query_int(call.query.get("num"), 10), query_int(call.query.get("start"), 1)
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
    return json_reply(200, body, outcome=found_outcome(items), paid=True)


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
