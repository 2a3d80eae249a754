"""SANDBOX: the Brave Search API emulator (``/res/v1/web/search``), with its rate-limit headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

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
    count, offset = query_int(call.query.get("count"), 20), query_int(call.query.get("offset"), 0)
    if not query or len(query) > 400 or count is None or not 1 <= count <= 20 or offset is None or not 0 <= offset <= 9:
        return _brave_error(422, "VALIDATION", "Unable to validate request parameter(s).", state)
    hits = state.search.search(query)[offset * count : (offset + 1) * count]
    body: dict[str, Any] = {
        "type": "search",
        "query": {"original": query, "show_strict_warning": False, "more_results_available": False},
    }
    if hits:
        body["web"] = {"type": "search", "family_friendly": True, "results": [_brave_result(hit) for hit in hits]}
    return json_reply(200, body, outcome=found_outcome(hits), paid=True)


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
